//! The vendor's own clients against the simulator, over HTTPS: `tests/sdk/watson_iot_wiotp_check.py`
//! drives PyPI `wiotp-sdk` 1.0.1 (`usage.dataTransfer`, `serviceStatus`, verifying the
//! simulator's certificate with its CA), and `tests/sdk/watson_iot_ibmiotf_check.py` drives
//! PyPI `ibmiotf` 0.4.0 (`getOrganizationDetails`, `getDataTraffic`). Both build the vendor's
//! real URLs (`https://{org}.internetofthings.ibmcloud.com/api/v0002/…`); the scripts send those
//! connections to the simulator's port the way a hosts file would.
//!
//! Without Python or a package the test prints a skip notice and passes, unless
//! `ORGWAY_REQUIRE_VENDOR_SDKS=1`, in which case it fails: CI sets that where the SDKs are
//! installed, so a missing install cannot pass silently.

mod common;

use orgway_sim::watson_iot::{
    DEMO_DISABLED_ORG, DEMO_ORG_2, DEMO_ORG_ID, WatsonIotConfig, WatsonIotSim, demo_key, demo_token,
};

const WIOTP: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/sdk/watson_iot_wiotp_check.py"
);
const IBMIOTF: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/sdk/watson_iot_ibmiotf_check.py"
);

fn env(sim: &WatsonIotSim, org: &str) -> Vec<(&'static str, String)> {
    vec![
        ("WIOTP_PORT", sim.addr().port().to_string()),
        ("WIOTP_DOMAIN", sim.domain().to_owned()),
        ("WIOTP_CA", sim.ca_file().display().to_string()),
        ("WIOTP_ORG", org.to_owned()),
        ("WIOTP_KEY", demo_key(org)),
        ("WIOTP_TOKEN", demo_token(org)),
        ("WIOTP_DISABLED_KEY", demo_key(DEMO_DISABLED_ORG)),
        ("WIOTP_DISABLED_TOKEN", demo_token(DEMO_DISABLED_ORG)),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wiotp_sdk_agrees_with_the_simulator() {
    if !common::sdk::available("wiotp.sdk", "wiotp-sdk==1.0.1", "Watson IoT (wiotp-sdk)").await {
        return;
    }
    let sim = WatsonIotSim::start(WatsonIotConfig::default())
        .await
        .expect("start simulator");
    common::sdk::run_check(WIOTP, env(&sim, DEMO_ORG_2)).await;

    // What the SDK sent, as dialects.md §5 records it: Basic credentials, the org's host name,
    // detail spelled as Python prints a boolean.
    let requests = sim.server().requests();
    let traffic = requests
        .iter()
        .find(|r| r.path == "/api/v0002/usage/data-traffic")
        .expect("a data-traffic request");
    assert_eq!(traffic.header("host"), Some(sim.host(DEMO_ORG_2).as_str()));
    assert!(
        traffic
            .header("authorization")
            .unwrap()
            .starts_with("Basic ")
    );
    assert_eq!(traffic.query_param("detail").as_deref(), Some("True"));
    assert_eq!(traffic.query_param("start").as_deref(), Some("2024-01-01"));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ibmiotf_agrees_with_the_simulator() {
    if !common::sdk::available("ibmiotf", "ibmiotf==0.4.0", "Watson IoT (ibmiotf)").await {
        return;
    }
    let sim = WatsonIotSim::start(WatsonIotConfig::default())
        .await
        .expect("start simulator");
    common::sdk::run_check(IBMIOTF, env(&sim, DEMO_ORG_ID)).await;

    let requests = sim.server().requests();
    let view = requests
        .iter()
        .find(|r| r.path == "/api/v0002/")
        .expect("a View Organization request, with its trailing slash");
    assert_eq!(view.header("host"), Some(sim.host(DEMO_ORG_ID).as_str()));
    assert!(sim.refused() >= 2, "the wrong token and the unknown key");
    sim.shutdown().await;
}
