//! The vendor's own client against the simulator: runs `tests/sdk/losant_sdk_check.py`, which
//! drives PyPI `losant-rest` 2.3.0 (import name `losant_rest`) at the running simulator.
//!
//! Without Python or the package the test prints a skip notice and passes, unless
//! `ORGWAY_REQUIRE_VENDOR_SDKS=1`, in which case it fails: CI sets that where the SDKs are
//! installed, so a missing install cannot pass silently.

use std::process::{Command, Output};

use orgway_sim::losant::{DEMO_ORG_ID, LosantConfig, LosantSim};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk/losant_sdk_check.py");
/// The token the script uses; a test-only value.
const TOKEN: &str = "sdk-check-token";

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

fn sdk_required() -> bool {
    std::env::var("ORGWAY_REQUIRE_VENDOR_SDKS").is_ok_and(|v| v == "1")
}

fn sdk_installed() -> bool {
    Command::new(python())
        .args(["-c", "import losant_rest"])
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
            "ORGWAY_REQUIRE_VENDOR_SDKS=1 but `{} -c \"import losant_rest\"` fails; \
             install it with `pip install losant-rest==2.3.0`",
            python()
        );
        eprintln!(
            "SKIPPED: the Losant Python SDK is not installed \
             (pip install losant-rest==2.3.0 to run this test)"
        );
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

    // The server runs on the runtime's workers while the script blocks this one.
    let output: Output = tokio::task::spawn_blocking(move || {
        Command::new(python())
            .arg(SCRIPT)
            .env("LOSANT_URL", url)
            .env("LOSANT_TOKEN", TOKEN)
            .env("LOSANT_INSTANCE", instance)
            .env("LOSANT_ORG", DEMO_ORG_ID)
            .output()
    })
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
