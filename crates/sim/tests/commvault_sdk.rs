//! The vendor's own client against the simulator: runs `tests/sdk/commvault_sdk_check.py`,
//! which drives PyPI `cvpysdk` 11.44 at two running simulators (one with demo data and
//! 30-minute tokens, one whose tokens die after a second of idleness, for renew-on-401).
//!
//! Without Python or the package the test prints a skip notice and passes, unless
//! `ORGWAY_REQUIRE_VENDOR_SDKS=1`, in which case it fails: CI sets that where the SDKs are
//! installed, so a missing install cannot pass silently.

mod common;

use std::time::Duration;

use orgway_sim::commvault::{CommvaultConfig, CommvaultSim, DEMO_PASSWORD, DEMO_USERNAME};

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/sdk/commvault_sdk_check.py"
);
/// How long the second simulator's tokens live without use.
const RENEW_IDLE: Duration = Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vendor_python_sdk_agrees_with_the_simulator() {
    if !common::sdk::available("cvpysdk", "cvpysdk==11.44", "Commvault").await {
        return;
    }

    let sim = CommvaultSim::start(CommvaultConfig::default())
        .await
        .expect("start simulator");
    let renew_sim = CommvaultSim::start(CommvaultConfig {
        token_idle_timeout: RENEW_IDLE,
        ..CommvaultConfig::default()
    })
    .await
    .expect("start second simulator");
    let token = sim
        .issue_token(DEMO_USERNAME)
        .expect("token for the demo user");
    let env = [
        ("CV_URL", sim.base_url()),
        ("CV_HOST", sim.server().addr().to_string()),
        ("CV_USER", DEMO_USERNAME.to_owned()),
        ("CV_PASSWORD", DEMO_PASSWORD.to_owned()),
        ("CV_TOKEN", token),
        ("CV_RENEW_URL", renew_sim.base_url()),
        ("CV_RENEW_HOST", renew_sim.server().addr().to_string()),
        (
            "CV_RENEW_IDLE_SECONDS",
            RENEW_IDLE.as_secs_f64().to_string(),
        ),
    ];

    common::sdk::run_check(SCRIPT, env.to_vec()).await;

    // Two credential logins succeeded (the main one and the one on the second simulator), one
    // was refused; the second simulator renewed once after its token went idle.
    assert_eq!(sim.logins(), 1);
    assert_eq!(sim.failed_logins(), 1);
    assert_eq!(renew_sim.logins(), 1);
    assert_eq!(renew_sim.renewals(), 1);

    // What cvpysdk sent, as dialects.md §2.2 and §2.5 record it.
    let requests = sim.server().requests();
    let login = requests
        .iter()
        .find(|r| r.path.ends_with("/Login"))
        .expect("a login request");
    let body: serde_json::Value = serde_json::from_slice(&login.body).expect("JSON login body");
    assert_eq!(body["mode"], 4);
    assert_eq!(body["clientType"], 30);
    assert_eq!(body["username"], DEMO_USERNAME);
    assert_ne!(
        body["password"], DEMO_PASSWORD,
        "the password travels base64-encoded"
    );
    assert!(
        requests
            .iter()
            .any(|r| r.path.ends_with("/organization") && r.query_param("Fl").is_some())
    );
    let put = requests
        .iter()
        .find(|r| r.method == "PUT" && r.query_param("organizationId").is_some())
        .expect("a JSON update");
    assert_eq!(put.path, "/webconsole/api/Organization");
    assert!(
        requests
            .iter()
            .filter(|r| !r.path.ends_with("/Login") && r.path != "/webconsole/api/")
            .all(|r| r
                .header("authtoken")
                .is_some_and(|t| t.starts_with("QSDK ")))
    );

    // The state the SDK left behind is what GET Organization/{id} shows.
    let globex = sim.org(12).expect("globex");
    let info = &globex["organizationInfo"];
    assert_eq!(info["organization"]["connectName"], "Globex Corp");
    assert_eq!(info["organization"]["shortName"]["domainName"], "globex2");
    assert_eq!(info["planDetails"][0]["plan"]["planName"], "Server plan");

    sim.shutdown().await;
    renew_sim.shutdown().await;
}
