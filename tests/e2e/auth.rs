//! Callers (docs/API.md §4): every way a token can be wrong is refused with `401` in the error
//! shape, a missing scope or an org not granted with `403`, and the cache never answers a caller
//! what it would refuse them.

use http::Method;
use jsonwebtoken::{Algorithm, EncodingKey, Header};

use crate::harness::{Answer, Demo, Http, test_token, token_with};

const ORG: &str = "/v1/orgs/losant:575ed6e87ae143cd83dc4aa8";

/// `GET path` with `Authorization: Bearer <token>` (or none).
async fn get_as(d: &Demo, token: Option<&str>, path: &str) -> Answer {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = bearer
        .as_deref()
        .map(|b| vec![("authorization", b)])
        .unwrap_or_default();
    Http::anonymous()
        .send(Method::GET, &d.gw.url(path), &headers, None)
        .await
}

/// Signs arbitrary claims with an arbitrary header.
fn sign(header: &Header, claims: &serde_json::Value, key: &EncodingKey) -> String {
    jsonwebtoken::encode(header, claims, key).unwrap()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn claims() -> serde_json::Value {
    serde_json::json!({
        "iss": "orgway-demo", "aud": "orgway", "sub": "mallory",
        "exp": now() + 600, "scope": "orgs:read", "orgs": ["*"],
    })
}

fn hs_header(kid: &str) -> Header {
    let mut h = Header::new(Algorithm::HS256);
    h.kid = Some(kid.to_owned());
    h
}

#[tokio::test]
async fn every_bad_token_is_refused_with_401_in_the_error_shape() {
    // An ES256 key beside the demo's HS256 one, for the algorithm confusion attack.
    let pair = rcgen::KeyPair::generate().unwrap();
    let dir = crate::harness::TempDir::new("auth");
    let public = dir.write("es.pem", &pair.public_key_pem());
    let d = Demo::start_with(|t| {
        t.replace(
            "secret = \"${ORGWAY_DEMO_AUTH_SECRET}\"\n",
            &format!(
                "secret = \"${{ORGWAY_DEMO_AUTH_SECRET}}\"\n[[auth.keys]]\nkid = \"es\"\nalg = \"ES256\"\npublic_key_file = \"{}\"\n",
                public.display()
            ),
        )
    })
    .await;
    let secret = EncodingKey::from_secret(crate::harness::TEST_AUTH_SECRET.as_bytes());
    let calls = d.losant_calls();
    let mut cases: Vec<(&str, Option<String>)> = vec![
        ("no token", None),
        ("garbage", Some("not-a-jwt".into())),
        ("three garbage parts", Some("a.b.c".into())),
    ];
    // alg: none, unsigned.
    let none_header = base64url(br#"{"alg":"none","typ":"JWT","kid":"demo"}"#);
    let none_body = base64url(claims().to_string().as_bytes());
    cases.push(("alg none", Some(format!("{none_header}.{none_body}."))));
    // HS256 over the ES key's public PEM, naming the ES key.
    let confused = EncodingKey::from_secret(pair.public_key_pem().as_bytes());
    cases.push((
        "HS256 signed with the ES public key",
        Some(sign(&hs_header("es"), &claims(), &confused)),
    ));
    // The right key, wrong claims.
    let mut c = claims();
    c["exp"] = (now() - 3600).into();
    cases.push(("expired", Some(sign(&hs_header("demo"), &c, &secret))));
    let mut c = claims();
    c["nbf"] = (now() + 3600).into();
    cases.push(("not yet valid", Some(sign(&hs_header("demo"), &c, &secret))));
    let mut c = claims();
    c["iss"] = "someone-else".into();
    cases.push(("wrong iss", Some(sign(&hs_header("demo"), &c, &secret))));
    let mut c = claims();
    c["aud"] = "another-api".into();
    cases.push(("wrong aud", Some(sign(&hs_header("demo"), &c, &secret))));
    let mut c = claims();
    c.as_object_mut().unwrap().remove("sub");
    cases.push(("no subject", Some(sign(&hs_header("demo"), &c, &secret))));
    cases.push((
        "unknown kid",
        Some(sign(&hs_header("nobody"), &claims(), &secret)),
    ));
    let wrong = EncodingKey::from_secret(b"a-secret-the-gateway-does-not-have");
    cases.push((
        "wrong secret",
        Some(sign(&hs_header("demo"), &claims(), &wrong)),
    ));
    for (what, token) in &cases {
        let a = get_as(&d, token.as_deref(), ORG).await;
        a.error(401, "unauthorized");
        assert!(
            a.headers.get("www-authenticate").is_some(),
            "{what}: no WWW-Authenticate"
        );
        if let Some(t) = token {
            let body = String::from_utf8_lossy(&a.body);
            assert!(!body.contains(t.as_str()), "{what}: the token is echoed");
        }
    }
    assert_eq!(
        d.losant_calls(),
        calls,
        "no refused token reached a backend"
    );
    // The good token passes, and routes outside /v1 need none.
    assert_eq!(get_as(&d, Some(&test_token()), ORG).await.status, 200);
    assert_eq!(get_as(&d, None, "/healthz").await.status, 200);
}

#[tokio::test]
async fn scopes_and_org_grants_are_enforced_and_the_cache_never_crosses_them() {
    let d = Demo::start_cached(|t| t).await;
    let reader = token_with(|c| {
        c.scopes = vec!["orgs:read".into()];
        c.orgs = vec!["acme".into()];
    });
    // Granted by alias: the org by alias and by id.
    assert_eq!(get_as(&d, Some(&reader), "/v1/orgs/acme").await.status, 200);
    assert_eq!(get_as(&d, Some(&reader), ORG).await.status, 200);
    // Missing scope.
    get_as(&d, Some(&reader), &format!("{ORG}/usage"))
        .await
        .error(403, "forbidden");
    // include=raw needs raw:read.
    get_as(&d, Some(&reader), &format!("{ORG}?include=raw"))
        .await
        .error(403, "forbidden");
    // Admin routes need admin; writes need their write scope.
    let purge = Http::anonymous()
        .send(
            Method::DELETE,
            &d.gw.url("/v1/cache/backends/losant"),
            &[("authorization", &format!("Bearer {reader}"))],
            None,
        )
        .await;
    purge.error(403, "forbidden");
    let patch = Http::anonymous()
        .send(
            Method::PATCH,
            &d.gw.url("/v1/orgs/acme"),
            &[
                ("authorization", &format!("Bearer {reader}")),
                ("content-type", "application/json"),
            ],
            Some(br#"{"name":"Taken"}"#.to_vec()),
        )
        .await;
    patch.error(403, "forbidden");
    // Another org of the same backend, by id, and unknown orgs: 403 alike, existence hidden.
    let others = d.get("/v1/backends/losant/orgs?limit=100").await.json();
    let other = others["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .find(|id| !id.ends_with("575ed6e87ae143cd83dc4aa8"))
        .unwrap();
    let exists = get_as(&d, Some(&reader), &format!("/v1/orgs/{other}")).await;
    let missing = get_as(
        &d,
        Some(&reader),
        "/v1/orgs/losant:000000000000000000000000",
    )
    .await;
    let no_alias = get_as(&d, Some(&reader), "/v1/orgs/no-such-alias").await;
    for a in [&exists, &missing, &no_alias] {
        a.error(403, "forbidden");
    }
    assert_eq!(
        exists.json()["error"]["message"],
        missing.json()["error"]["message"]
    );
    // A backend's org list needs the whole backend.
    get_as(&d, Some(&reader), "/v1/backends/losant/orgs")
        .await
        .error(403, "forbidden");
    // Cross-tenant probe: A (granted) warms the cache twice, so the front door knows the
    // target; B (not granted that org) still gets 403, by alias and by id, never the body.
    let a = token_with(|c| {
        c.scopes = vec!["orgs:read".into()];
        c.orgs = vec!["losant:*".into()];
        c.subject = "tenant-a".into();
    });
    let b = token_with(|c| {
        c.scopes = vec!["orgs:read".into(), "raw:read".into()];
        c.orgs = vec![other.clone()];
        c.subject = "tenant-b".into();
    });
    for _ in 0..3 {
        assert_eq!(get_as(&d, Some(&a), ORG).await.status, 200);
        assert_eq!(get_as(&d, Some(&a), "/v1/orgs/acme").await.status, 200);
    }
    for path in [ORG, "/v1/orgs/acme"] {
        let probe = get_as(&d, Some(&b), path).await;
        probe.error(403, "forbidden");
        assert!(probe.headers.get("x-cache").is_none(), "{path}");
    }
    // And B's own org is B's.
    assert_eq!(
        get_as(&d, Some(&b), &format!("/v1/orgs/{other}"))
            .await
            .status,
        200
    );
}

fn base64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A JWKS endpoint whose key set the test changes, counting its fetches.
struct JwksServer {
    addr: std::net::SocketAddr,
    keys: std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
    fetches: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl JwksServer {
    async fn start() -> JwksServer {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let keys = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let fetches = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (k, f) = (keys.clone(), fetches.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (k, f) = (k.clone(), f.clone());
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |_req| {
                        f.fetch_add(1, Ordering::SeqCst);
                        let body = serde_json::json!({"keys": *k.lock().unwrap()}).to_string();
                        async move {
                            Ok::<_, std::convert::Infallible>(
                                http::Response::builder()
                                    .header("content-type", "application/json")
                                    .body(http_body_util::Full::new(bytes::Bytes::from(body)))
                                    .unwrap(),
                            )
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        JwksServer {
            addr,
            keys,
            fetches,
        }
    }

    fn set(&self, keys: Vec<serde_json::Value>) {
        *self.keys.lock().unwrap() = keys;
    }

    fn fetches(&self) -> usize {
        self.fetches.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// An ES256 key: its JWK (public) and a signer.
fn es_key(kid: &str) -> (serde_json::Value, EncodingKey) {
    let pair = rcgen::KeyPair::generate().unwrap();
    let point = pair.public_key_raw();
    assert_eq!(
        (point.len(), point[0]),
        (65, 4),
        "an uncompressed P-256 point"
    );
    let jwk = serde_json::json!({
        "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": kid,
        "x": base64url(&point[1..33]), "y": base64url(&point[33..]),
    });
    let signer = EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).unwrap();
    (jwk, signer)
}

fn es_token(kid: &str, key: &EncodingKey) -> String {
    let mut h = Header::new(Algorithm::ES256);
    h.kid = Some(kid.to_owned());
    sign(&h, &claims(), key)
}

#[tokio::test]
async fn jwks_keys_are_fetched_rotated_and_unknown_kids_do_not_flood_the_issuer() {
    let jwks = JwksServer::start().await;
    let (a_jwk, a) = es_key("a");
    let (b_jwk, b) = es_key("b");
    jwks.set(vec![a_jwk.clone()]);
    let url = format!("http://{}/jwks.json", jwks.addr);
    let d = Demo::start_with(|t| {
        t.replace(
            "audience = \"orgway\"\n",
            &format!(
                "audience = \"orgway\"\n[auth.jwks]\nurl = \"{url}\"\nrefresh_s = 1\nmin_refetch_s = 5\n"
            ),
        )
    })
    .await;
    // Fetched at start, before the gateway serves (the harness does not wait for that).
    let t0 = std::time::Instant::now();
    while jwks.fetches() == 0 && t0.elapsed() < std::time::Duration::from_secs(5) {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(jwks.fetches(), 1, "fetched at start");
    assert_eq!(get_as(&d, Some(&es_token("a", &a)), ORG).await.status, 200);
    get_as(&d, Some(&es_token("b", &b)), ORG)
        .await
        .error(401, "unauthorized");

    // A thousand tokens with unknown kids: at most one extra fetch (min_refetch_s = 5) beside
    // the scheduled ones (one a second).
    let before = jwks.fetches();
    let started = std::time::Instant::now();
    for i in 0..1000 {
        let t = es_token(&format!("unknown-{i}"), &a);
        get_as(&d, Some(&t), ORG).await.error(401, "unauthorized");
    }
    let scheduled = started.elapsed().as_secs() as usize + 1;
    let extra = jwks.fetches() - before;
    assert!(
        extra <= scheduled + 1,
        "{extra} fetches for 1000 unknown kids in {:?}",
        started.elapsed()
    );

    // Rotation: b is published and a withdrawn; within a refresh b is accepted, a refused (its
    // verified tokens forgotten too).
    let a_token = es_token("a", &a);
    assert_eq!(get_as(&d, Some(&a_token), ORG).await.status, 200);
    jwks.set(vec![b_jwk]);
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(get_as(&d, Some(&es_token("b", &b)), ORG).await.status, 200);
    get_as(&d, Some(&a_token), ORG)
        .await
        .error(401, "unauthorized");

    // The same kid republished with other material: tokens of the old key stop passing (their
    // verified entries are forgotten), the new key's pass.
    let old_b = es_token("b", &b);
    assert_eq!(get_as(&d, Some(&old_b), ORG).await.status, 200);
    let (b2_jwk, b2) = es_key("b");
    jwks.set(vec![b2_jwk]);
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    get_as(&d, Some(&old_b), ORG)
        .await
        .error(401, "unauthorized");
    assert_eq!(get_as(&d, Some(&es_token("b", &b2)), ORG).await.status, 200);

    // A published key cannot take a configured key's kid: the demo's own key stays.
    let (forged_jwk, forged) = es_key("demo");
    jwks.set(vec![forged_jwk]);
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    get_as(&d, Some(&es_token("demo", &forged)), ORG)
        .await
        .error(401, "unauthorized");
    assert_eq!(get_as(&d, Some(&test_token()), ORG).await.status, 200);
}

#[tokio::test]
async fn callers_and_backends_are_held_to_their_rates() {
    let d = Demo::start_with(|t| {
        t.replace(
            "[server]\n",
            "[server]\ncaller_rate_limit_rps = 1\ncaller_rate_limit_burst = 5\n",
        )
        .replace(
            "name = \"commvault\"\n",
            "name = \"commvault\"\nrate_limit_rps = 1\nrate_limit_burst = 2\n",
        )
    })
    .await;
    // A caller's burst, then 429 with Retry-After; another caller is not held back.
    let alice = token_with(|c| c.subject = "alice".into());
    let bob = token_with(|c| c.subject = "bob".into());
    for _ in 0..5 {
        assert_eq!(get_as(&d, Some(&alice), "/v1/orgs/acme").await.status, 200);
    }
    let over = get_as(&d, Some(&alice), "/v1/orgs/acme").await;
    over.error(429, "rate_limited");
    let wait: u64 = over.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&wait), "Retry-After {wait}");
    assert_eq!(get_as(&d, Some(&bob), "/v1/orgs/acme").await.status, 200);

    // The backend's rate: two calls reach Commvault, the third is the gateway's 429, naming it,
    // and Commvault sees nothing of it.
    let carol = token_with(|c| c.subject = "carol".into());
    let calls = d.commvault().server().request_count();
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let a = get_as(&d, Some(&carol), "/v1/backends/commvault/orgs").await;
        statuses.push(a.status.as_u16());
        if a.status == 429 {
            let e = a.error(429, "rate_limited");
            assert_eq!(e["backend"], "commvault");
            assert!(a.headers.contains_key("retry-after"));
        }
    }
    assert_eq!(statuses, [200, 200, 429]);
    let reached = d.commvault().server().request_count() - calls;
    assert!(reached >= 2, "{reached}");
    let before = d.commvault().server().request_count();
    get_as(&d, Some(&carol), "/v1/backends/commvault/orgs")
        .await
        .error(429, "rate_limited");
    assert_eq!(d.commvault().server().request_count(), before);
}

#[tokio::test]
async fn cors_answers_preflights_for_allowed_origins_only() {
    let d = Demo::start_with(|t| {
        format!("{t}\n[cors]\nallowed_origins = [\"https://app.example.com\"]\nmax_age_s = 120\n")
    })
    .await;
    let preflight = |origin: &'static str, method: &'static str| {
        let url = d.gw.url("/v1/orgs/acme");
        async move {
            Http::anonymous()
                .send(
                    Method::OPTIONS,
                    &url,
                    &[
                        ("origin", origin),
                        ("access-control-request-method", method),
                        (
                            "access-control-request-headers",
                            "authorization, content-type",
                        ),
                    ],
                    None,
                )
                .await
        }
    };
    let ok = preflight("https://app.example.com", "PATCH").await;
    assert_eq!(ok.status, 204);
    let h = |a: &Answer, n: &str| a.headers.get(n).map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(
        h(&ok, "access-control-allow-origin").as_deref(),
        Some("https://app.example.com")
    );
    assert!(
        h(&ok, "access-control-allow-methods")
            .unwrap()
            .contains("PATCH")
    );
    assert!(
        h(&ok, "access-control-allow-headers")
            .unwrap()
            .contains("authorization")
    );
    assert_eq!(h(&ok, "access-control-max-age").as_deref(), Some("120"));
    // Like every answer, a preflight's carries a request id.
    assert_eq!(h(&ok, "x-request-id").map(|v| v.len()), Some(32));
    // Another origin, or a method the API does not have: refused, no CORS headers.
    for (origin, method) in [
        ("https://evil.example", "GET"),
        ("https://app.example.com", "TRACE"),
    ] {
        let no = preflight(origin, method).await;
        no.error(403, "forbidden");
        assert!(h(&no, "access-control-allow-origin").is_none());
    }
    // An actual request from the allowed origin can read the answer and its headers; from
    // another origin it carries no CORS header; without Origin, none either.
    let cross = d
        .client
        .send(
            Method::GET,
            &d.gw.url("/v1/orgs/acme"),
            &[("origin", "https://app.example.com")],
            None,
        )
        .await;
    assert_eq!(cross.status, 200);
    assert_eq!(
        h(&cross, "access-control-allow-origin").as_deref(),
        Some("https://app.example.com")
    );
    assert!(
        h(&cross, "access-control-expose-headers")
            .unwrap()
            .contains("etag")
    );
    assert!(h(&cross, "vary").unwrap().contains("origin"));
    let evil = d
        .client
        .send(
            Method::GET,
            &d.gw.url("/v1/orgs/acme"),
            &[("origin", "https://evil.example")],
            None,
        )
        .await;
    assert_eq!(evil.status, 200);
    assert!(h(&evil, "access-control-allow-origin").is_none());
    // A 401 carries CORS headers too, so a browser app can see why.
    let unauth = Http::anonymous()
        .send(
            Method::GET,
            &d.gw.url("/v1/orgs/acme"),
            &[("origin", "https://app.example.com")],
            None,
        )
        .await;
    unauth.error(401, "unauthorized");
    assert!(h(&unauth, "access-control-allow-origin").is_some());
}

#[tokio::test]
async fn no_caller_credential_or_hop_by_hop_header_reaches_a_backend() {
    let d = Demo::start().await;
    let token = test_token();
    let bearer = format!("Bearer {token}");
    let a = Http::anonymous()
        .send(
            Method::GET,
            &d.gw.url(ORG),
            &[
                ("authorization", bearer.as_str()),
                ("cookie", "session=caller-cookie-5e1d"),
                ("proxy-authorization", "Basic Y2FsbGVyOnNlY3JldA=="),
                ("x-forwarded-for", "203.0.113.9"),
                ("te", "trailers"),
                ("x-request-id", "caller-rid-1"),
            ],
            None,
        )
        .await;
    assert_eq!(a.status, 200);
    let seen = d.losant().server().requests();
    let call = seen
        .iter()
        .rev()
        .find(|r| r.path.ends_with("/orgs/575ed6e87ae143cd83dc4aa8"))
        .expect("the read reached Losant");
    for (name, value) in &call.headers {
        let n = name.to_ascii_lowercase();
        assert!(
            !value.contains(&token) && !value.contains("caller-cookie"),
            "{name} carries the caller's credential"
        );
        assert!(
            !["cookie", "proxy-authorization", "x-forwarded-for", "te"].contains(&n.as_str()),
            "{name} reached the backend"
        );
    }
    // The request id is the one thing of the caller's that is passed on.
    assert!(
        call.headers
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case("x-request-id") && v == "caller-rid-1"),
        "{:?}",
        call.headers
    );
}

#[tokio::test]
async fn a_customer_reference_tells_nothing_the_callers_grants_could_not_name() {
    let d = Demo::start().await;
    let reseller = token_with(|c| {
        c.scopes = vec!["customers:read".into()];
        c.orgs = vec!["acme-hosting".into()];
    });
    let subs = |customer: &str| format!("/v1/orgs/acme-hosting/customers/{customer}/subscriptions");
    // The reseller's own customer: its subscriptions.
    let bakery = format!("enhance:{}", orgway_sim::enhance::DEMO_CUSTOMER_ID);
    assert_eq!(
        get_as(&d, Some(&reseller), &subs(&bakery)).await.status,
        200
    );
    // An alias that does not exist, and one of another backend's org: both 403, as an org not
    // granted is, where they were 404 "no org alias" and 400 naming the other backend.
    for other in ["no-such-alias", "acme", "losant:575ed6e87ae143cd83dc4aa8"] {
        let e = get_as(&d, Some(&reseller), &subs(other))
            .await
            .error(403, "forbidden");
        assert!(!e.to_string().contains("losant"), "{other}: {e}");
    }
    // A caller who may see everything is told what is wrong.
    get_as(&d, Some(&test_token()), &subs("acme"))
        .await
        .error(400, "invalid_org_ref");
    get_as(&d, Some(&test_token()), &subs("no-such-alias"))
        .await
        .error(404, "not_found");
}
