//! The `orgway` binary itself: `check`, `serve` and `demo`, their exit codes, messages and logs.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use orgway_sim::losant::{LosantConfig, LosantSim};

use crate::harness::{Http, TempDir, orgway_bin, run_bin, signal, wait_for_port};

const BASE: &str = r#"[server]
listen = "127.0.0.1:0"

[[backends]]
name = "iot-prod"
kind = "losant"
base_url = "http://127.0.0.1:9"
timeout_ms = 2000
instance_id = "575ec8687ae143cd83dc4a97"
token = "${E2E_LOSANT_TOKEN}"

[orgs.acme]
backend = "iot-prod"
id = "575ed6e87ae143cd83dc4aa8"

[auth]
mode = "off"
"#;

fn env() -> HashMap<&'static str, &'static str> {
    HashMap::from([("E2E_LOSANT_TOKEN", "token-for-tests")])
}

#[test]
fn check_accepts_the_example_configs() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/example.toml");
    // Every `${NAME}` the example refers to is set to a placeholder.
    let text = std::fs::read_to_string(root).unwrap();
    let names: Vec<&str> = text
        .split("${")
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
        .collect();
    let env: HashMap<&str, &str> = names.iter().map(|n| (*n, "placeholder")).collect();
    let (code, out, err) = run_bin(&["check", "--config", root], &env);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(": ok: "), "{out}");
    for d in orgway::registry::DIALECTS {
        assert!(out.contains(&format!("({})", d.kind)), "{}: {out}", d.kind);
    }
}

#[test]
fn bad_configs_are_refused_by_check_and_serve_naming_the_key() {
    let dir = TempDir::new("cfg");
    let cases = [
        (
            "unknown-key",
            BASE.replace("timeout_ms = 2000", "timeout_ms = 2000\ntimeout = 5"),
            "backends[0].timeout: unknown field `timeout`",
            ":9:",
        ),
        (
            "missing-env",
            BASE.replace("${E2E_LOSANT_TOKEN}", "${E2E_NOT_SET_ANYWHERE}"),
            "backends[0].token: environment variable E2E_NOT_SET_ANYWHERE is not set",
            ":10:",
        ),
        (
            "bad-url",
            BASE.replace("http://127.0.0.1:9", "htp:/nowhere"),
            "backends[0].base_url:",
            ":7:",
        ),
        (
            "no-host",
            BASE.replace("http://127.0.0.1:9", "http://"),
            "backends[0].base_url:",
            ":7:",
        ),
        (
            "unknown-server-key",
            BASE.replace("[server]", "[server]\nport = 8080"),
            "server.port: unknown field `port`",
            ":2:",
        ),
    ];
    for (name, text, expect, line) in cases {
        let path = dir.write(&format!("{name}.toml"), &text);
        let p = path.to_str().unwrap();
        for cmd in ["check", "serve"] {
            let (code, out, err) = run_bin(&[cmd, "--config", p], &env());
            assert_eq!(code, 2, "{cmd} {name}: {out}{err}");
            assert!(err.contains(expect), "{cmd} {name}: {err}");
            assert!(
                err.contains(&format!("{name}.toml{line}")),
                "{cmd} {name} names the line: {err}"
            );
            assert!(!err.contains("token-for-tests"), "no secret in the message");
        }
    }
    let (code, _, err) = run_bin(&["check", "--config", "/nonexistent/orgway.toml"], &env());
    assert_eq!(code, 2);
    assert!(err.contains("cannot read the file"), "{err}");
}

/// Starts `orgway serve` on a free port, returning the child and its address.
fn serve(
    dir: &TempDir,
    config: &str,
    env: &HashMap<&str, &str>,
) -> (std::process::Child, SocketAddr) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let path = dir.write("serve.toml", config);
    let child = orgway_bin()
        .args([
            "serve",
            "--config",
            path.to_str().unwrap(),
            "--listen",
            &addr.to_string(),
            "--log-format",
            "json",
        ])
        .envs(env.iter())
        .env("ORGWAY_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    (child, addr)
}

#[tokio::test]
async fn a_wrong_vendor_token_is_502_and_never_logged() {
    let sim = LosantSim::start(LosantConfig::default()).await.unwrap();
    let wrong = "wrong-token-5f1e8c2a9d";
    let dir = TempDir::new("serve");
    let config = BASE.replace("http://127.0.0.1:9", &sim.base_url());
    let env = HashMap::from([("E2E_LOSANT_TOKEN", wrong)]);
    let (mut child, addr) = serve(&dir, &config, &env);
    wait_for_port(addr).await;

    let http = Http::new();
    let a = http
        .send(
            http::Method::GET,
            &format!("http://{addr}/v1/orgs/acme"),
            &[],
            None,
        )
        .await;
    let e = a.error(502, "backend_auth_failed");
    assert_eq!(e["backend"], "iot-prod");
    assert_eq!(e["backendStatus"], 401);
    let b = http
        .send(
            http::Method::GET,
            &format!("http://{addr}/v1/backends/iot-prod/orgs"),
            &[],
            None,
        )
        .await;
    b.error(502, "backend_auth_failed");
    assert!(!String::from_utf8_lossy(&a.body).contains(wrong));

    // The gateway did send the token: the failure is the vendor's verdict.
    let sent = sim.server().requests();
    assert!(
        sent.iter()
            .any(|r| r.header("authorization") == Some(&format!("Bearer {wrong}")))
    );

    signal(&child, "TERM");
    let status = child.wait().unwrap();
    assert!(status.success(), "SIGTERM is a clean stop: {status}");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    assert!(
        stderr.contains("backend_auth_failed"),
        "the failure is logged: {stderr}"
    );
    assert!(stderr.lines().count() >= 3);
    for line in stderr.lines() {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|_| panic!("JSON log line: {line}"));
    }
    assert!(
        !stderr.contains(wrong) && !stdout.contains(wrong),
        "the token is in no log line"
    );
    assert!(!stderr.contains("5f1e8c2a9d"));
    sim.shutdown().await;
}

#[test]
fn demo_serves_prints_working_curl_lines_and_stops_on_ctrl_c() {
    let mut child = orgway_bin()
        .args(["demo", "--listen", "127.0.0.1:0"])
        .env("ORGWAY_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut banner = String::new();
    let mut line = String::new();
    while out.read_line(&mut line).unwrap() > 0 {
        banner.push_str(&line);
        if line.contains("Ctrl-C") {
            break;
        }
        line.clear();
    }
    let base = banner
        .lines()
        .find_map(|l| l.strip_prefix("orgway demo: gateway on "))
        .unwrap_or_else(|| panic!("banner: {banner}"))
        .trim()
        .to_owned();
    let curls: Vec<&str> = banner
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("curl "))
        .collect();
    let suggested: usize = orgway::registry::DIALECTS
        .iter()
        .map(|d| d.demo.try_lines.len())
        .sum();
    assert_eq!(curls.len(), suggested, "{banner}");

    let have_curl = std::process::Command::new("curl")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if have_curl {
        // Pasted into a shell, each line works and answers JSON; the first two read the same
        // org, a miss and then a hit of the demo's read cache.
        let mut seen = Vec::new();
        for c in &curls {
            let o = std::process::Command::new("sh")
                .args(["-c", &format!("{c} -w '\\n%{{http_code}}'")])
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&o.stdout);
            let (body, code) = text.rsplit_once('\n').unwrap();
            assert_eq!(code, "200", "{c}: {text}");
            let v: serde_json::Value = serde_json::from_str(body).unwrap();
            assert!(v.is_object(), "{c}");
            seen.push(v);
        }
        assert_eq!(curls[0], curls[1]);
        assert_eq!(
            (&seen[0]["meta"]["cache"], &seen[1]["meta"]["cache"]),
            (&serde_json::json!("miss"), &serde_json::json!("hit"))
        );
        // The banner's development token, on the line after its heading.
        let token = banner
            .lines()
            .skip_while(|l| !l.starts_with("DEVELOPMENT TOKEN"))
            .nth(1)
            .unwrap_or_else(|| panic!("no development token: {banner}"))
            .trim();
        let renamed = std::process::Command::new("curl")
            .args([
                "-s",
                "-H",
                &format!("authorization: Bearer {token}"),
                &format!("{base}/v1/orgs/acme"),
            ])
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&renamed.stdout).unwrap();
        assert_eq!(v["name"], "Acme Renamed", "the PATCH line took effect");
    } else {
        eprintln!("curl is not installed: the demo's curl lines were not run");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let a = Http::new()
                .send(
                    http::Method::GET,
                    &format!("{base}/v1/orgs/acme"),
                    &[],
                    None,
                )
                .await;
            assert_eq!(a.status, 200);
        });
    }

    signal(&child, "INT");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "demo did not stop on Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    assert!(rest.contains("orgway demo stopped"), "{rest}");
    // Logs redirected away from a terminal carry no colour codes.
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(log.contains("orgway serving"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "escape codes in a redirected log: {log:?}"
    );
}

#[tokio::test]
async fn a_wrong_commvault_password_is_502_and_no_secret_is_logged() {
    use base64::Engine;
    use orgway_sim::commvault::{CommvaultConfig, CommvaultSim, DEMO_PASSWORD};

    let cv = CommvaultSim::start(CommvaultConfig::default())
        .await
        .unwrap();
    let wrong = "wrong-pass-83a1f";
    let config = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n\n[auth]\nmode = \"off\"\n\n\
         [[backends]]\nname = \"cv-bad\"\nkind = \"commvault\"\nbase_url = \"{url}\"\nusername = \"admin\"\npassword = \"${{CV_BAD}}\"\n\n\
         [[backends]]\nname = \"cv-good\"\nkind = \"commvault\"\nbase_url = \"{url}\"\nusername = \"admin\"\npassword = \"${{CV_GOOD}}\"\n",
        url = cv.base_url()
    );
    let dir = TempDir::new("cv");
    let env = HashMap::from([("CV_BAD", wrong), ("CV_GOOD", DEMO_PASSWORD)]);
    let (child, addr) = serve(&dir, &config, &env);
    wait_for_port(addr).await;
    let http = Http::new();

    let a = http
        .send(
            http::Method::GET,
            &format!("http://{addr}/v1/orgs/cv-bad:7"),
            &[],
            None,
        )
        .await;
    let e = a.error(502, "backend_auth_failed");
    assert_eq!(e["backend"], "cv-bad");
    let body = String::from_utf8_lossy(&a.body);
    assert!(!body.contains(wrong) && !body.contains(DEMO_PASSWORD));
    assert_eq!(cv.failed_logins(), 1);
    // The right password logs in; its token is then used and must not be logged either.
    let ok = http
        .send(
            http::Method::GET,
            &format!("http://{addr}/v1/orgs/cv-good:7/plans"),
            &[],
            None,
        )
        .await;
    assert_eq!(ok.status, 200, "{}", String::from_utf8_lossy(&ok.body));
    cv.expire_all_tokens();
    let ok = http
        .send(
            http::Method::GET,
            &format!("http://{addr}/v1/orgs/cv-good:7"),
            &[],
            None,
        )
        .await;
    assert_eq!(ok.status, 200);

    let logs = stop_and_read_logs(child);
    assert!(logs.contains("backend_auth_failed"), "{logs}");
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let mut secrets = vec![
        wrong.to_owned(),
        DEMO_PASSWORD.to_owned(),
        b64(wrong),
        b64(DEMO_PASSWORD),
    ];
    for r in cv.server().requests() {
        if let Some(t) = r.header("authtoken") {
            secrets.push(t.trim_start_matches("QSDK ").to_owned());
        }
    }
    assert!(
        secrets.len() >= 6,
        "tokens were issued and used: {}",
        secrets.len()
    );
    for s in &secrets {
        assert!(!logs.contains(s.as_str()), "a secret is in the logs");
    }
    cv.shutdown().await;
}

#[tokio::test]
async fn orgway_token_mints_what_serve_accepts_and_no_secret_or_token_is_logged() {
    use orgway_sim::losant::{DEMO_TOKEN, LosantConfig, LosantSim};
    let sim = LosantSim::start(LosantConfig::default()).await.unwrap();
    let secret = "hs-secret-7d2a91c4e5";
    let config = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nlog_level = \"debug\"\n\n\
         [auth]\nissuer = \"https://id.test/\"\naudience = \"orgway\"\n\
         [[auth.keys]]\nkid = \"k1\"\nalg = \"HS256\"\nsecret = \"${{AUTH_SECRET}}\"\n\n\
         [[backends]]\nname = \"iot\"\nkind = \"losant\"\nbase_url = \"{}\"\ninstance_id = \"575ec8687ae143cd83dc4a97\"\ntoken = \"${{LOSANT}}\"\n\n\
         [orgs.acme]\nbackend = \"iot\"\nid = \"575ed6e87ae143cd83dc4aa8\"\n",
        sim.base_url()
    );
    let dir = TempDir::new("token");
    let env = HashMap::from([("AUTH_SECRET", secret), ("LOSANT", DEMO_TOKEN)]);
    let path = dir.write("token.toml", &config);
    let mint = |scope: &str, org: &str| {
        let (code, out, err) = run_bin(
            &[
                "token",
                "--config",
                path.to_str().unwrap(),
                "--sub",
                "ci-bot",
                "--scope",
                scope,
                "--org",
                org,
                "--ttl-s",
                "600",
            ],
            &env,
        );
        assert_eq!(code, 0, "{out}{err}");
        out.trim().to_owned()
    };
    let reader = mint("orgs:read", "acme");
    let outsider = mint("orgs:read", "iot:000000000000000000000000");
    let (code, _, err) = run_bin(
        &[
            "token",
            "--config",
            path.to_str().unwrap(),
            "--sub",
            "x",
            "--scope",
            "orgs:reed",
        ],
        &env,
    );
    assert_eq!(code, 2);
    assert!(err.contains("unknown scope(s): orgs:reed"), "{err}");

    let (child, addr) = serve(&dir, &config, &env);
    wait_for_port(addr).await;
    let http = Http::anonymous();
    let url = format!("http://{addr}/v1/orgs/acme");
    let as_ = |t: &str| format!("Bearer {t}");
    let ok = http
        .send(
            http::Method::GET,
            &url,
            &[("authorization", &as_(&reader))],
            None,
        )
        .await;
    assert_eq!(ok.status, 200, "{}", String::from_utf8_lossy(&ok.body));
    http.send(
        http::Method::GET,
        &url,
        &[("authorization", &as_(&outsider))],
        None,
    )
    .await
    .error(403, "forbidden");
    let forged = format!("{}x", &reader[..reader.len() - 1]);
    http.send(
        http::Method::GET,
        &url,
        &[("authorization", &as_(&forged))],
        None,
    )
    .await
    .error(401, "unauthorized");
    http.send(http::Method::GET, &url, &[], None)
        .await
        .error(401, "unauthorized");

    let logs = stop_and_read_logs(child);
    assert!(logs.contains("orgway serving"), "{logs}");
    for (what, s) in [
        ("the HS secret", secret),
        ("the Losant token", DEMO_TOKEN),
        ("a caller token", reader.as_str()),
        ("a forged token", forged.as_str()),
        ("a token's signature", reader.rsplit('.').next().unwrap()),
    ] {
        assert!(!logs.contains(s), "{what} is in the logs");
    }
    sim.shutdown().await;
}

/// Stops a served gateway (SIGTERM, which it must exit 0 on) and returns everything it wrote.
fn stop_and_read_logs(mut child: std::process::Child) -> String {
    signal(&child, "TERM");
    assert!(child.wait().unwrap().success());
    let mut logs = String::new();
    for out in [
        Box::new(child.stderr.take().unwrap()) as Box<dyn Read>,
        Box::new(child.stdout.take().unwrap()),
    ] {
        let mut out = out;
        out.read_to_string(&mut logs).unwrap();
    }
    logs
}
