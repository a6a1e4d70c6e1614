//! orgway-testkit: what the workspace's test suites share about optional vendor artifacts.
//!
//! Some checks run against material the vendors publish and this repository does not carry:
//! their JSON Schemas and OpenAPI documents (a *vendor directory*), and their Python SDKs. Those
//! checks are optional on a developer's machine and required in CI:
//!
//! - The vendor directory is the one setting [`VENDOR_DIR_VAR`] (`ORGWAY_VENDOR_DIR`). When it is
//!   unset, the `shared/vendor` folder of the project's reference library is used if it sits
//!   beside the repository (`<repo>/../shared/vendor`), and nothing otherwise. Its layout is one
//!   folder per vendor: `losant/instanceOrg.json`, `enhance/orchd-openapi.yml`, …
//! - A check whose artifact is missing prints `SKIPPED: …` with the reason and passes, unless
//!   [`REQUIRE_VAR`] (`ORGWAY_REQUIRE_VENDOR_SDKS=1`, set by `.ci/run`) is set: then it fails,
//!   so a missing install cannot pass silently.
//!
//! Nothing else in the repository reads a path outside it.

use std::path::{Path, PathBuf};

/// The environment variable naming the vendor directory.
pub const VENDOR_DIR_VAR: &str = "ORGWAY_VENDOR_DIR";

/// The environment variable that turns skips into failures (CI sets it to `1`).
pub const REQUIRE_VAR: &str = "ORGWAY_REQUIRE_VENDOR_SDKS";

/// The repository's root folder.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Whether missing vendor artifacts fail the tests instead of skipping them.
pub fn required() -> bool {
    std::env::var(REQUIRE_VAR).is_ok_and(|v| v == "1")
}

/// Where the vendor artifacts are, if anywhere: `$ORGWAY_VENDOR_DIR`, else the reference
/// library's `shared/vendor` beside the repository when it exists.
pub fn vendor_dir() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os(VENDOR_DIR_VAR).filter(|v| !v.is_empty()) {
        let dir = PathBuf::from(dir);
        return if dir.is_dir() {
            Ok(dir)
        } else {
            Err(format!(
                "{VENDOR_DIR_VAR}={} is not a folder",
                dir.display()
            ))
        };
    }
    let beside = repo_root().join("../shared/vendor");
    if beside.is_dir() {
        Ok(beside)
    } else {
        Err(format!(
            "{VENDOR_DIR_VAR} is not set and there is no shared/vendor beside the repository"
        ))
    }
}

/// A vendor artifact (`losant/instanceOrg.json`), or `None` after a skip notice naming the
/// check (`what`); panics instead when artifacts are [`required`].
pub fn vendor_file(relative: &str, what: &str) -> Option<PathBuf> {
    match vendor_dir() {
        Ok(dir) => {
            let path = dir.join(relative);
            if path.is_file() {
                Some(path)
            } else {
                skip(what, &format!("{} has no {relative}", dir.display()));
                None
            }
        }
        Err(why) => {
            skip(what, &why);
            None
        }
    }
}

/// Reads a vendor artifact as text (see [`vendor_file`]).
pub fn vendor_text(relative: &str, what: &str) -> Option<String> {
    let path = vendor_file(relative, what)?;
    Some(
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("vendor artifact {}: {e}", path.display())),
    )
}

/// Says that a check skipped and why, or fails when vendor artifacts are [`required`].
///
/// The notice is written to the process's standard error directly rather than with
/// `eprintln!`, which the test harness captures and hides for passing tests: a skip must be
/// seen in the `cargo test` output.
pub fn skip(what: &str, why: &str) {
    use std::io::Write;
    assert!(
        !required(),
        "{REQUIRE_VAR}=1 but {what} cannot run: {why} (set {VENDOR_DIR_VAR} to the vendor \
         artifacts folder, or install what is missing)"
    );
    let _ = writeln!(std::io::stderr().lock(), "SKIPPED: {what}: {why}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_is_this_repository() {
        assert!(repo_root().join("Cargo.toml").is_file());
        assert!(repo_root().join("crates/testkit/src/lib.rs").is_file());
    }
}
