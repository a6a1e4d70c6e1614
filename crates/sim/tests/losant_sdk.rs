//! The vendor's own client against the simulator: runs `tests/sdk/losant_sdk_check.py`, which
//! drives PyPI `losant-rest` 2.3.0 (import name `losant_rest`) at the running simulator.
//!
//! Without Python or the package the test prints a skip notice and passes, unless
//! `ORGWAY_REQUIRE_VENDOR_SDKS=1`, in which case it fails: CI sets that where the SDKs are
//! installed, so a missing install cannot pass silently.

mod common;

use orgway_sim::losant::{DEMO_ORG_ID, LosantConfig, LosantSim};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk/losant_sdk_check.py");
/// The token the script uses; a test-only value.
const TOKEN: &str = "sdk-check-token";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vendor_python_sdk_agrees_with_the_simulator() {
    if !common::sdk::available("losant_rest", "losant-rest==2.3.0", "Losant").await {
        return;
    }

    let sim = LosantSim::start(LosantConfig {
        tokens: vec![TOKEN.to_owned()],
        ..LosantConfig::default()
    })
    .await
    .expect("start simulator");
    let url = sim.base_url();
    let instance = sim.instance_id().to_owned();

    common::sdk::run_check(
        SCRIPT,
        vec![
            ("LOSANT_URL", url),
            ("LOSANT_TOKEN", TOKEN.to_owned()),
            ("LOSANT_INSTANCE", instance),
            ("LOSANT_ORG", DEMO_ORG_ID.to_owned()),
        ],
    )
    .await;

    // The SDK's headers and HAL parameters arrived as dialects.md §1.2 records them.
    let requests = sim.server().requests();
    let domain_call = requests
        .iter()
        .find(|r| r.header("losantdomain").is_some())
        .expect("a request with losantdomain");
    assert_eq!(domain_call.header("losantdomain"), Some("example.com"));
    assert_eq!(domain_call.header("accept-version"), Some("^1.31.0"));
    assert_eq!(domain_call.query_param("_links").as_deref(), Some("true"));
    assert!(
        requests
            .iter()
            .all(|r| r.query_param("_actions").as_deref() == Some("false"))
    );

    sim.shutdown().await;
}
