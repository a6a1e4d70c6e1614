//! The vendor's own client against the simulator: runs `tests/sdk/commvault_sdk_check.py`,
//! which drives PyPI `cvpysdk` 11.44 at two running simulators (one with demo data and
//! 30-minute tokens, one whose tokens die after a second of idleness, for renew-on-401).
//!
//! Without Python or the package the test prints a skip notice and passes, unless
//! `ORGWAY_REQUIRE_VENDOR_SDKS=1`, in which case it fails: CI sets that where the SDKs are
//! installed, so a missing install cannot pass silently.

use std::process::{Command, Output};
use std::time::Duration;

use orgway_sim::commvault::{CommvaultConfig, CommvaultSim, DEMO_PASSWORD, DEMO_USERNAME};

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/sdk/commvault_sdk_check.py"
);
/// How long the second simulator's tokens live without use.
const RENEW_IDLE: Duration = Duration::from_secs(1);

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

fn sdk_required() -> bool {
    std::env::var("ORGWAY_REQUIRE_VENDOR_SDKS").is_ok_and(|v| v == "1")
}

fn sdk_installed() -> bool {
    Command::new(python())
        .args(["-c", "import cvpysdk"])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vendor_python_sdk_agrees_with_the_simulator() {
    let installed = tokio::task::spawn_blocking(sdk_installed)
        .await
        .expect("probe python");
    if !installed {
        assert!(
            !sdk_required(),
            "ORGWAY_REQUIRE_VENDOR_SDKS=1 but `{} -c \"import cvpysdk\"` fails; \
             install it with `pip install cvpysdk==11.44`",
            python()
        );
        eprintln!(
            "SKIPPED: the Commvault Python SDK is not installed \
             (pip install cvpysdk==11.44 to run this test)"
        );
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

    // The servers run on the runtime's workers while the script blocks this one.
    let output: Output =
        tokio::task::spawn_blocking(move || Command::new(python()).arg(SCRIPT).envs(env).output())
            .await
            .expect("join")
            .expect("run python");

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "the SDK check failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(stdout.contains("checks passed"));

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
