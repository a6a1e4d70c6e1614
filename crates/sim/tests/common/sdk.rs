//! Running a vendor's Python SDK against a simulator: find Python, decide whether a missing
//! SDK skips the test or fails it, run a check script and insist it passed.
//!
//! Without Python or the package a test prints a skip notice and passes, unless
//! `ORGWAY_REQUIRE_VENDOR_SDKS=1`, in which case it fails (orgway-testkit decides): CI sets that
//! where the SDKs are installed, so a missing install cannot pass silently.

use std::process::Command;

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

/// Whether `import <module>` works; when it does not, either skips (returns false, after a
/// notice) or fails the test when the SDKs are required.
pub async fn available(module: &'static str, pip_spec: &str, vendor: &str) -> bool {
    let installed = tokio::task::spawn_blocking(move || {
        Command::new(python())
            .args(["-c", &format!("import {module}")])
            .output()
            .is_ok_and(|o| o.status.success())
    })
    .await
    .expect("probe python");
    if installed {
        return true;
    }
    orgway_testkit::skip(
        &format!("the {vendor} Python SDK check"),
        &format!(
            "`{} -c \"import {module}\"` fails; install it with `pip install {pip_spec}`",
            python()
        ),
    );
    false
}

/// Runs a check script with an environment (on a blocking thread, so the simulators keep
/// serving on the runtime's workers) and asserts it passed; returns its standard output.
pub async fn run_check(script: &'static str, env: Vec<(&'static str, String)>) -> String {
    let output =
        tokio::task::spawn_blocking(move || Command::new(python()).arg(script).envs(env).output())
            .await
            .expect("join")
            .expect("run python");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "the SDK check failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(stdout.contains("checks passed"), "{stdout}");
    stdout
}
