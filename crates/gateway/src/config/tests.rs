//! Tests of the routing file: parsing, validation, issue messages with their lines, secrets.

use super::*;

fn env(name: &str) -> Option<String> {
    match name {
        "TOKEN" => Some("sekrit-token".into()),
        "SIM" => Some("http://127.0.0.1:9".into()),
        _ => None,
    }
}

const GOOD: &str = r#"
[server]
listen = "127.0.0.1:0"
log_format = "json"

[[backends]]
name = "iot-prod"
kind = "losant"
base_url = "${SIM}/"
timeout_ms = 2500
instance_id = "575ec8687ae143cd83dc4a97"
token = "${TOKEN}"

[orgs.acme]
backend = "iot-prod"
id = "575ED6E87AE143CD83DC4AA8"

[auth]
mode = "off"
"#;

fn parse(text: &str) -> Result<Config, ConfigError> {
    // A file that says nothing of callers is refused for that alone: the tests of other parts
    // turn auth off, as a file must say explicitly.
    let text = if text.contains("[auth]") {
        text.to_owned()
    } else {
        format!("{text}\n[auth]\nmode = \"off\"\n")
    };
    Config::parse(&text, "t.toml", Path::new("."), &env)
}

fn one_issue(text: &str) -> String {
    let e = parse(text).unwrap_err();
    assert_eq!(e.issues.len(), 1, "{e}");
    e.to_string()
}

#[test]
fn a_good_file() {
    let c = parse(GOOD).unwrap();
    assert_eq!(c.server.log_format, LogFormat::Json);
    assert_eq!(c.backends.len(), 1);
    let b = &c.backends[0];
    assert_eq!(b.name, "iot-prod");
    assert_eq!(b.base_url.as_str(), "http://127.0.0.1:9");
    assert_eq!(b.timeout, Duration::from_millis(2500));
    assert_eq!(c.orgs[0].native_id, "575ed6e87ae143cd83dc4aa8");
    assert!(!format!("{c:?}").contains("sekrit"), "secrets never print");
}

#[test]
fn unknown_keys_are_named_with_their_line() {
    let text = GOOD.replace("timeout_ms = 2500", "timeout_ms = 2500\ntokn = \"x\"");
    let msg = one_issue(&text);
    assert!(
        msg.starts_with("t.toml:11: backends[0].tokn: unknown field `tokn`"),
        "{msg}"
    );
    let text = GOOD.replace("log_format", "log_fmt");
    let msg = one_issue(&text);
    assert!(msg.contains("server.log_fmt: unknown field"), "{msg}");
    assert!(msg.starts_with("t.toml:4:"), "{msg}");
    let text = format!("{GOOD}\n[extra]\na = 1\n");
    assert!(one_issue(&text).contains("extra: unknown key `extra`"));
}

#[test]
fn missing_env_and_bad_urls_are_named() {
    let msg = one_issue(&GOOD.replace("${TOKEN}", "${NOPE}"));
    assert!(
        msg.contains("backends[0].token: environment variable NOPE is not set"),
        "{msg}"
    );
    assert!(msg.starts_with("t.toml:12:"), "{msg}");
    let msg = one_issue(&GOOD.replace("${SIM}/", "ftp://x"));
    assert!(msg.contains("backends[0].base_url: scheme `ftp`"), "{msg}");
    let msg = one_issue(&GOOD.replace("${SIM}/", "not a url"));
    assert!(msg.contains("backends[0].base_url:"), "{msg}");
    let msg = one_issue(&GOOD.replace("${SIM}/", "${MISSING}"));
    assert!(
        msg.contains("backends[0].base_url: environment variable MISSING is not set"),
        "{msg}"
    );
}

#[test]
fn literal_secrets_are_refused() {
    let msg = one_issue(&GOOD.replace("${TOKEN}", "sekrit-literal"));
    assert!(
        msg.contains("backends[0].token: secrets must be given by reference"),
        "{msg}"
    );
    assert!(!msg.contains("sekrit-literal"));
}

#[test]
fn values_are_checked() {
    assert!(
        one_issue(&GOOD.replace("kind = \"losant\"", "kind = \"nope\""))
            .contains("backends[0].kind: unknown kind `nope`")
    );
    assert!(
        one_issue(&GOOD.replace("timeout_ms = 2500", "timeout_ms = \"5s\""))
            .contains("backends[0].timeout_ms: invalid type")
    );
    assert!(
        one_issue(&GOOD.replace("timeout_ms = 2500", "timeout_ms = 0"))
            .contains("backends[0].timeout_ms: 0 is not between")
    );
    assert!(
        one_issue(&GOOD.replace("575ED6E87AE143CD83DC4AA8", "42"))
            .contains("orgs.acme.id: `42` is not a Losant org id")
    );
    assert!(
        one_issue(&GOOD.replace("backend = \"iot-prod\"", "backend = \"other\""))
            .contains("orgs.acme.backend: no backend named `other`")
    );
    assert!(
        one_issue(&GOOD.replace(
            "instance_id = \"575ec8687ae143cd83dc4a97\"",
            "instance_id = \"x\""
        ))
        .contains("backends[0].instance_id:")
    );
    // The bad name is reported, and so is the alias that names a backend now missing.
    let e = parse(&GOOD.replace("name = \"iot-prod\"", "name = \"IoT:prod\"")).unwrap_err();
    assert!(e.to_string().contains("t.toml:7: backends[0].name:"), "{e}");
    assert!(
        e.to_string()
            .contains("orgs.acme.backend: no backend named `iot-prod`"),
        "{e}"
    );
    assert!(
        one_issue(&GOOD.replace("listen = \"127.0.0.1:0\"", "listen = \"localhost\""))
            .contains("server.listen:")
    );
    assert!(one_issue("[server]\nlisten = \"127.0.0.1:1\"\n").contains("backends: at least one"));
    assert!(one_issue("[server\n").contains("not valid TOML"));
}

#[test]
fn every_issue_names_its_own_line() {
    let e = parse(&GOOD.replace(
        "log_format = \"json\"",
        "log_format = \"json\"\nbody_limit_bytes = 0",
    ))
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "t.toml:5: server.body_limit_bytes: 0 is not between 1 and 1073741824"
    );
    let e = parse(&GOOD.replace("575ED6E87AE143CD83DC4AA8", "42")).unwrap_err();
    assert!(e.to_string().starts_with("t.toml:16: orgs.acme.id:"), "{e}");
    let e = parse(&GOOD.replace("backend = \"iot-prod\"", "backend = \"other\"")).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("t.toml:15: orgs.acme.backend: no backend named `other`"),
        "{e}"
    );
}

#[test]
fn one_problem_does_not_hide_another() {
    let text = GOOD
        .replace("timeout_ms = 2500", "timeout_ms = 0")
        .replace("backend = \"iot-prod\"", "backend = \"typo\"");
    let e = parse(&text).unwrap_err();
    assert_eq!(e.issues.len(), 2, "{e}");
    assert!(
        e.to_string()
            .contains("orgs.acme.backend: no backend named `typo`"),
        "{e}"
    );
    // An alias naming a refused backend is not reported twice.
    let e = parse(&GOOD.replace("timeout_ms = 2500", "timeout_ms = 0")).unwrap_err();
    assert_eq!(e.issues.len(), 1, "{e}");
    assert!(
        one_issue("backends = []\n[server]\nlisten = \"127.0.0.1:1\"\n")
            .contains("backends: at least one")
    );
}

#[test]
fn non_string_secrets_are_not_repeated() {
    let msg = one_issue(&GOOD.replace("\"${TOKEN}\"", "12345678"));
    assert!(msg.starts_with("t.toml:12: backends[0].token:"), "{msg}");
    assert!(!msg.contains("12345678"), "{msg}");
}

#[test]
fn duplicate_backends() {
    let dup = GOOD.replace("[orgs.acme]", "[[backends]]\nname = \"iot-prod\"\nkind = \"losant\"\nbase_url = \"https://x\"\ninstance_id = \"575ec8687ae143cd83dc4a97\"\ntoken = \"${TOKEN}\"\n\n[orgs.acme]");
    assert!(
        one_issue(&dup).contains("backends[1].name: a backend named `iot-prod` is already defined")
    );
}

#[test]
fn secrets_from_files() {
    let dir = std::env::temp_dir().join(format!("orgway-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("token"), "from-file\n").unwrap();
    let text = GOOD.replace("${TOKEN}", "./token");
    let c = Config::parse(&text, "t.toml", &dir, &env).unwrap();
    assert_eq!(c.backends.len(), 1);
    let text = GOOD.replace("${TOKEN}", "file:missing");
    let e = Config::parse(&text, "t.toml", &dir, &env).unwrap_err();
    assert!(
        e.to_string()
            .contains("backends[0].token: cannot read secret file"),
        "{e}"
    );
    // A secret pasted where a reference goes, that happens to start with `/`, is read as a
    // path; the error does not repeat it.
    let pasted = "/aB3+kQ9zR7xW2mN5pL8vT4yH6jF1cD0s=";
    let text = GOOD.replace("${TOKEN}", pasted);
    let e = Config::parse(&text, "t.toml", &dir, &env)
        .unwrap_err()
        .to_string();
    assert!(!e.contains("aB3+kQ9z"), "{e}");
    assert!(
        e.contains("backends[0].token: cannot read the secret file it names"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn env_expansion() {
    assert_eq!(
        expand_env("${SIM}/api", &env).unwrap(),
        "http://127.0.0.1:9/api"
    );
    assert_eq!(expand_env("plain", &env).unwrap(), "plain");
    assert!(expand_env("${SIM", &env).is_err());
    assert!(expand_env("${1X}", &env).is_err());
}

#[test]
fn credentials_over_plain_http_to_another_host_are_refused() {
    let remote = GOOD.replace(
        "base_url = \"${SIM}/\"",
        "base_url = \"http://api.losant.com\"",
    );
    assert_ne!(remote, GOOD);
    let msg = one_issue(&remote);
    assert!(msg.contains("backends[0].base_url:"), "{msg}");
    assert!(msg.contains("unencrypted"), "{msg}");
    assert!(msg.contains("allow_insecure_http"), "{msg}");
    // Said explicitly, it is allowed; loopback always is.
    let allowed = remote.replace(
        "base_url = \"http://api.losant.com\"",
        "base_url = \"http://api.losant.com\"\nallow_insecure_http = true",
    );
    parse(&allowed).unwrap();
    for host in ["127.0.0.1:9", "localhost:9", "[::1]:9", "127.10.0.1"] {
        let local = GOOD.replace(
            "base_url = \"${SIM}/\"",
            &format!("base_url = \"http://{host}\""),
        );
        parse(&local).unwrap_or_else(|e| panic!("{host}: {e}"));
    }
}

#[test]
fn every_problem_of_a_file_is_reported_in_one_pass() {
    // An unknown key once hid an invalid `listen`; a wrong type hid an unknown key of a backend.
    let text = GOOD
        .replace(
            "[server]",
            "[server]\nlisten_address = \"0.0.0.0:1\"\nworker_threads = \"two\"",
        )
        .replace("listen = \"127.0.0.1:0\"", "listen = \"nowhere\"")
        .replace(
            "timeout_ms = 2500",
            "timeout_ms = 2500\ntimout_ms = 1\ncolour = \"red\"",
        );
    let e = parse(&text).unwrap_err();
    let all = e.to_string();
    for key in [
        "server.listen_address: unknown field",
        "server.worker_threads:",
        "server.listen: `nowhere`",
        "backends[0].timout_ms: unknown field",
        "backends[0].colour: unknown field",
    ] {
        assert!(all.contains(key), "{key} missing from:\n{all}");
    }
}

#[test]
fn server_limits_and_response_size_are_configurable() {
    let text = GOOD.replace(
        "[server]",
        "[server]\nheader_read_timeout_ms = 2000\nbody_read_timeout_ms = 3000\nidle_timeout_ms = 4000\nmax_connections = 50",
    )
    .replace("timeout_ms = 2500", "timeout_ms = 2500\nmax_response_bytes = 65536");
    let c = parse(&text).unwrap();
    assert_eq!(c.server.header_read_timeout.as_millis(), 2000);
    assert_eq!(c.server.body_read_timeout.as_millis(), 3000);
    assert_eq!(c.server.idle_timeout.as_millis(), 4000);
    assert_eq!(c.server.max_connections, 50);
    assert_eq!(c.backends[0].max_response_bytes, 65536);
    let d = parse(GOOD).unwrap();
    assert_eq!(d.backends[0].max_response_bytes, 4 * 1024 * 1024);
    let bad = one_issue(&GOOD.replace("[server]", "[server]\nmax_connections = 0"));
    assert!(bad.contains("server.max_connections"), "{bad}");
}

#[test]
fn ca_file_and_connect_to_make_the_backends_client_settings() {
    let tls = orgway_sim::tls::SimTls::generate("config-test", &["sim.test".into()]).unwrap();
    let dir = tls.ca_file().parent().unwrap().to_path_buf();
    let with =
        |keys: &str| GOOD.replace("timeout_ms = 2500", &format!("timeout_ms = 2500\n{keys}"));
    let parse_in = |text: &str| Config::parse(text, "t.toml", &dir, &env);

    // Relative to the routing file's folder, or absolute; the CA is read when the file is loaded.
    let c = parse_in(&with(
        "ca_file = \"ca.pem\"\nconnect_to = \"127.0.0.1:8443\"",
    ))
    .unwrap();
    let client = &c.backends[0].client;
    assert_eq!(client.extra_roots.len(), 1);
    assert_eq!(
        client.connect_to.as_ref().map(|c| c.to_string()).as_deref(),
        Some("127.0.0.1:8443")
    );
    let absolute = format!("ca_file = \"{}\"", tls.ca_file().display());
    assert_eq!(
        parse(&with(&absolute)).unwrap().backends[0]
            .client
            .extra_roots
            .len(),
        1
    );
    assert_eq!(
        parse(GOOD).unwrap().backends[0].client,
        ClientSettings::default()
    );

    // What is wrong is named, with the key.
    let msg = one_issue(&with("ca_file = \"/nonexistent/ca.pem\""));
    assert!(
        msg.contains("backends[0].ca_file: cannot read /nonexistent/ca.pem"),
        "{msg}"
    );
    std::fs::write(dir.join("not-pem.txt"), "hello").unwrap();
    let e = parse_in(&with("ca_file = \"not-pem.txt\""))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("backends[0].ca_file:") && e.contains("holds no PEM certificate"),
        "{e}"
    );
    for bad in [
        "nohost",
        "127.0.0.1",
        "127.0.0.1:0",
        "user@host:1",
        "http://x:1",
    ] {
        let msg = one_issue(&with(&format!("connect_to = \"{bad}\"")));
        assert!(msg.contains("backends[0].connect_to:"), "{bad}: {msg}");
    }
    // `${NAME}` is expanded in both.
    let env_with_addr = |name: &str| match name {
        "ADDR" => Some("localhost:9443".to_owned()),
        "CA" => Some(tls.ca_file().display().to_string()),
        other => env(other),
    };
    let c = Config::parse(
        &with("ca_file = \"${CA}\"\nconnect_to = \"${ADDR}\""),
        "t.toml",
        Path::new("."),
        &env_with_addr,
    )
    .unwrap();
    assert_eq!(
        c.backends[0].client.connect_to.as_ref().unwrap().host(),
        "localhost"
    );
}

#[test]
fn backends_with_the_same_connection_settings_share_one_client() {
    let tls = orgway_sim::tls::SimTls::generate("config-test", &["sim.test".into()]).unwrap();
    let ca = format!("ca_file = \"{}\"", tls.ca_file().display());
    let backend = |name: &str, extra: &str| {
        format!(
            "[[backends]]\nname = \"{name}\"\nkind = \"losant\"\nbase_url = \"${{SIM}}\"\ninstance_id = \"575ec8687ae143cd83dc4a97\"\ntoken = \"${{TOKEN}}\"\n{extra}\n"
        )
    };
    let text = [
        backend("a", ""),
        backend("b", ""),
        backend("c", &ca),
        backend("d", &ca),
        backend("e", &format!("{ca}\nconnect_to = \"127.0.0.1:1\"")),
    ]
    .concat();
    let c = parse(&text).unwrap();
    let routing = crate::routing::Routing::new(&c, &crate::telemetry::Metrics::new());
    assert_eq!(routing.client_count(), 3, "default, CA, CA + address");
}

#[test]
fn the_org_placeholder_is_refused_where_the_dialect_does_not_fill_it() {
    let msg = one_issue(&GOOD.replace(
        "base_url = \"${SIM}/\"",
        "base_url = \"https://{org}.api.losant.com\"",
    ));
    assert!(msg.contains("backends[0].base_url:"), "{msg}");
    assert!(msg.contains("`{org}`"), "{msg}");
    let msg = one_issue(&GOOD.replace(
        "base_url = \"${SIM}/\"",
        "base_url = \"https://api.losant.com/{org}\"",
    ));
    assert!(msg.contains("the only placeholder"), "{msg}");
}

#[test]
fn with_connect_to_the_address_decides_what_is_local() {
    // Credentials over http:// go where `connect_to` points, whatever the URL's host.
    let remote_addr = GOOD.replace(
        "timeout_ms = 2500",
        "timeout_ms = 2500\nconnect_to = \"10.0.0.5:80\"",
    );
    assert!(one_issue(&remote_addr).contains("unencrypted"));
    let local_addr = GOOD
        .replace(
            "base_url = \"${SIM}/\"",
            "base_url = \"http://api.losant.com\"",
        )
        .replace(
            "timeout_ms = 2500",
            "timeout_ms = 2500\nconnect_to = \"127.0.0.1:9\"",
        );
    parse(&local_addr).unwrap();
}

#[test]
fn auth_is_required_explicit_when_off_and_checked_when_on() {
    let without = GOOD.replace("[auth]\nmode = \"off\"\n", "");
    let e = Config::parse(&without, "t.toml", Path::new("."), &env).unwrap_err();
    assert!(
        e.to_string().contains("auth: an [auth] table is required"),
        "{e}"
    );
    let on = GOOD.replace(
        "[auth]\nmode = \"off\"\n",
        "[auth]\nissuer = \"i\"\naudience = \"a\"\n[[auth.keys]]\nkid = \"k\"\nalg = \"HS256\"\nsecret = \"${TOKEN}\"\n",
    );
    assert!(matches!(
        parse(&on).unwrap().auth,
        crate::config::AuthConfig::Jwt(_)
    ));
    for (edit, named) in [
        ("alg = \"HS256\"", "auth.keys[0].alg"),
        ("issuer = \"i\"\n", "auth.issuer"),
        ("secret = \"${TOKEN}\"", "auth.keys[0]"),
    ] {
        let bad = match edit {
            "alg = \"HS256\"" => on.replace(edit, "alg = \"none\""),
            "secret = \"${TOKEN}\"" => on.replace(edit, "public_key_file = \"/no/such.pem\""),
            _ => on.replace(edit, ""),
        };
        let e = parse(&bad).unwrap_err();
        assert!(e.to_string().contains(named), "{named}: {e}");
    }
    // The keys tokens are trusted by are fetched over TLS, or from this machine.
    for (url, ok) in [
        ("https://id.example.com/jwks.json", true),
        ("http://127.0.0.1:9/jwks.json", true),
        ("http://localhost/jwks.json", true),
        ("http://id.example.com/jwks.json", false),
        ("ftp://id.example.com/jwks.json", false),
    ] {
        let jwks = on.replace(
            "[[auth.keys]]",
            &format!("[auth.jwks]\nurl = \"{url}\"\nmin_refetch_s = 0\n[[auth.keys]]"),
        );
        match parse(&jwks) {
            Ok(c) => {
                assert!(ok, "{url}");
                let crate::config::AuthConfig::Jwt(j) = c.auth else {
                    panic!("{url}")
                };
                assert_eq!(j.jwks.unwrap().min_refetch, Duration::from_secs(1), "{url}");
            }
            Err(e) => {
                assert!(!ok, "{url}: {e}");
                assert!(e.to_string().contains("auth.jwks.url"), "{url}: {e}");
            }
        }
    }
    // An RS key may not be given a secret: each key's algorithm decides its material.
    let mixed = on.replace("alg = \"HS256\"", "alg = \"RS256\"");
    assert!(
        parse(&mixed)
            .unwrap_err()
            .to_string()
            .contains("public_key_file")
    );
}

#[test]
fn rate_limits_and_cors_are_checked() {
    let c = parse(&format!(
        "{GOOD}\n[cors]\nallowed_origins = [\"https://App.Example.com\", \"http://localhost:3000\"]\n"
    ))
    .unwrap();
    let cors = c.cors.unwrap();
    assert_eq!(
        cors.origins,
        ["https://app.example.com", "http://localhost:3000"]
    );
    assert_eq!(cors.max_age, Duration::from_secs(600));
    for (bad, named) in [
        (
            "[cors]\nallowed_origins = [\"https://a.example/path\"]\n",
            "cors.allowed_origins",
        ),
        (
            "[cors]\nallowed_origins = [\"app.example.com\"]\n",
            "cors.allowed_origins",
        ),
        ("[cors]\nallowed_origins = []\n", "cors.allowed_origins"),
        (
            "[cors]\nallowed_origins = [\"*\"]\nmax_age_s = 999999\n",
            "cors.max_age_s",
        ),
    ] {
        let e = parse(&format!("{GOOD}\n{bad}")).unwrap_err();
        assert!(e.to_string().contains(named), "{bad}: {e}");
    }
    let limited = GOOD
        .replace("[server]\n", "[server]\ncaller_rate_limit_rps = 10\n")
        .replace(
            "timeout_ms = 2500\n",
            "timeout_ms = 2500\nrate_limit_rps = 5\nrate_limit_burst = 20\n",
        );
    let c = parse(&limited).unwrap();
    let caller = c.server.caller_rate_limit.unwrap();
    assert_eq!((caller.per_second.get(), caller.burst.get()), (10, 10));
    let backend = c.backends[0].rate_limit.unwrap();
    assert_eq!((backend.per_second.get(), backend.burst.get()), (5, 20));
    for (bad, named) in [
        (
            "caller_rate_limit_rps = 0\n",
            "server.caller_rate_limit_rps",
        ),
        (
            "caller_rate_limit_burst = 5\n",
            "server.caller_rate_limit_burst",
        ),
    ] {
        let e = parse(&GOOD.replace("[server]\n", &format!("[server]\n{bad}"))).unwrap_err();
        assert!(e.to_string().contains(named), "{bad}: {e}");
    }
}
