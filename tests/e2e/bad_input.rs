//! Bad input: each case gets its documented 4xx in the one error shape, and no backend call is
//! made for any of them.

use http::Method;

use crate::harness::Demo;

#[tokio::test]
async fn each_bad_input_is_refused_before_any_backend_call() {
    let d = Demo::start().await;
    let before = d.losant_calls();

    // Org references: a path smuggled into the id (encoded, and as raw dot segments), a
    // 25-digit id, an unknown alias, an unknown backend, an empty backend.
    let e = d
        .get("/v1/orgs/losant:..%2F..%2Fx")
        .await
        .error(400, "invalid_org_ref");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("not a Losant org id"),
        "{e}"
    );
    assert_eq!(e["backend"], "losant");
    d.get("/v1/orgs/losant:../../x")
        .await
        .error(400, "invalid_org_ref");
    d.get("/v1/orgs/losant:575ed6e87ae143cd83dc4aa8f")
        .await
        .error(400, "invalid_org_ref");
    d.get("/v1/orgs/losant:575ed6e87ae143cd83dc4aaz/usage")
        .await
        .error(400, "invalid_org_ref");
    d.get("/v1/orgs/losant:")
        .await
        .error(400, "invalid_org_ref");
    d.get("/v1/orgs/:575ed6e87ae143cd83dc4aa8")
        .await
        .error(400, "invalid_org_ref");
    let e = d.get("/v1/orgs/nosuchalias").await.error(404, "not_found");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("no org alias `nosuchalias`")
    );
    assert_eq!(e["backend"], serde_json::Value::Null);
    d.get("/v1/orgs/nosuchbackend:575ed6e87ae143cd83dc4aa8")
        .await
        .error(404, "not_found");

    // Patches: an unknown field, a non-JSON body, a non-object, a wrong type, no content type.
    let e = d
        .send_json(
            Method::PATCH,
            "/v1/orgs/acme",
            r#"{"name":"x","planId":"gold"}"#,
        )
        .await
        .error(400, "bad_request");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("unknown field `planId`"),
        "{e}"
    );
    assert_eq!(e["details"]["fields"], serde_json::json!(["planId"]));
    let e = d
        .send_json(Method::PATCH, "/v1/orgs/acme", "name=x")
        .await
        .error(400, "bad_request");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .starts_with("the body is not valid JSON"),
        "{e}"
    );
    d.send_json(Method::PATCH, "/v1/orgs/acme", "[]")
        .await
        .error(400, "bad_request");
    d.send_json(Method::PATCH, "/v1/orgs/acme", r#"{"name":42}"#)
        .await
        .error(400, "bad_request");
    d.send_json(Method::PATCH, "/v1/orgs/acme", r#"{"name":null}"#)
        .await
        .error(400, "bad_request");
    d.send_json(Method::PATCH, "/v1/orgs/acme", "")
        .await
        .error(400, "bad_request");
    let a = d
        .client
        .send(
            Method::PATCH,
            &d.gw.url("/v1/orgs/acme"),
            &[("content-type", "text/plain")],
            Some(b"{}".to_vec()),
        )
        .await;
    a.error(400, "bad_request");

    // Query parameters: reversed range, range too long, bad numbers, unknown names.
    let e = d
        .get("/v1/orgs/acme/usage/devices?from=2016-06-15T00:00:00Z&to=2016-06-13T00:00:00Z")
        .await
        .error(400, "bad_request");
    assert!(
        e["message"].as_str().unwrap().contains("must be before"),
        "{e}"
    );
    d.get("/v1/orgs/acme/usage/devices?from=2015-01-01T00:00:00Z&to=2016-06-13T00:00:00Z")
        .await
        .error(400, "bad_request");
    d.get("/v1/orgs/acme/usage/devices?from=yesterday")
        .await
        .error(400, "bad_request");
    // An instant past year 9999 in UTC: once a panic (500), now a 400 naming the value.
    let e = d
        .get("/v1/orgs/acme/usage/devices?from=9999-12-31T23:30:00-01:00")
        .await
        .error(400, "bad_request");
    assert!(
        e["message"].as_str().unwrap().contains("outside the years"),
        "{e}"
    );
    let long = "1".repeat(3000);
    let e = d
        .get(&format!("/v1/orgs/acme/usage/devices?from={long}"))
        .await
        .error(400, "bad_request");
    assert!(
        e["message"].as_str().unwrap().len() < 300,
        "bad values are truncated in messages: {e}"
    );
    d.get("/v1/orgs/acme/usage/devices?interval=fortnight")
        .await
        .error(400, "bad_request");
    let e = d
        .get("/v1/backends/losant/orgs?limit=abc")
        .await
        .error(400, "bad_request");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("`limit` must be an integer from 1 to 500"),
        "{e}"
    );
    d.get("/v1/backends/losant/orgs?limit=0")
        .await
        .error(400, "bad_request");
    d.get("/v1/backends/losant/orgs?limit=501")
        .await
        .error(400, "bad_request");
    d.get("/v1/backends/losant/orgs?sort=color")
        .await
        .error(400, "bad_request");
    d.get("/v1/backends/losant/orgs?cursor=not-a-cursor")
        .await
        .error(400, "bad_request");
    d.get("/v1/orgs/acme?includ=raw")
        .await
        .error(400, "bad_request");
    d.get("/v1/orgs/acme?include=everything")
        .await
        .error(400, "bad_request");

    // A 10 MB body, declared and streamed.
    let big = vec![b' '; 10 * 1024 * 1024];
    let a = d
        .client
        .send(
            Method::PATCH,
            &d.gw.url("/v1/orgs/acme"),
            &[("content-type", "application/json")],
            Some(big),
        )
        .await;
    let e = a.error(413, "payload_too_large");
    assert_eq!(e["details"]["limitBytes"], 1024 * 1024);

    // Routes and methods that do not exist.
    d.get("/v1/nothing").await.error(404, "not_found");
    let a = d
        .client
        .send(Method::POST, &d.gw.url("/v1/orgs/acme"), &[], None)
        .await;
    a.error(405, "method_not_allowed");
    let allow = a.headers["allow"].to_str().unwrap();
    assert!(
        allow.contains("GET") && allow.contains("PATCH") && allow.contains("DELETE"),
        "{allow}"
    );

    assert_eq!(
        d.losant_calls(),
        before,
        "none of these reached the backend"
    );
}

#[tokio::test]
async fn errors_come_in_the_documented_order() {
    // org reference (404/400), then capability (501), then query (400), then body.
    let d = Demo::start().await;
    let before = d.sims.requests_total();
    let send = |method: Method, path: &str, body: Option<&str>| {
        let url = d.gw.url(path);
        let body = body.map(|b| b.as_bytes().to_vec());
        let client = &d.client;
        async move {
            client
                .send(method, &url, &[("content-type", "application/json")], body)
                .await
        }
    };

    // A path that does not decode: an invalid org reference where `{org}` is the only
    // parameter, a malformed path where there is a second one.
    d.get("/v1/orgs/%FF").await.error(400, "invalid_org_ref");
    d.get("/v1/orgs/%FF/usage/devices")
        .await
        .error(400, "bad_request");
    send(Method::DELETE, "/v1/orgs/%FF/plans/gold", None)
        .await
        .error(400, "bad_request");

    // An unknown org beats a route the backend lacks and a bad query.
    d.get("/v1/orgs/nosuchalias/plans?bogus=1")
        .await
        .error(404, "not_found");
    // A route the backend lacks (Losant has no plans, customers or subscriptions) beats a
    // bad query, a bad body and an unknown customer.
    d.get("/v1/orgs/acme/plans?bogus=1")
        .await
        .error(501, "unsupported");
    send(
        Method::PUT,
        "/v1/orgs/acme/plans/gold?bogus=1",
        Some("not json"),
    )
    .await
    .error(501, "unsupported");
    d.get("/v1/orgs/acme/customers?status=nope")
        .await
        .error(501, "unsupported");
    d.get("/v1/orgs/acme/customers/nosuchalias/subscriptions?bogus=1")
        .await
        .error(501, "unsupported");
    // A bad query beats a bad body.
    let e = send(Method::PATCH, "/v1/orgs/acme?bogus=1", Some("not json"))
        .await
        .error(400, "bad_request");
    assert!(e["message"].as_str().unwrap().contains("`bogus`"), "{e}");
    assert_eq!(
        d.sims.requests_total(),
        before,
        "no backend call for any of them"
    );
}

#[tokio::test]
async fn streamed_bodies_over_the_limit_are_413() {
    // A chunked body declares no length; the limit applies while reading it.
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;

    let d = Demo::start().await;
    let body = Chunks(
        (0..40)
            .map(|_| bytes::Bytes::from(vec![b' '; 64 * 1024]))
            .collect(),
    );
    let client: Client<_, Chunks> = Client::builder(TokioExecutor::new()).build_http();
    let req = http::Request::builder()
        .method(Method::PATCH)
        .uri(d.gw.url("/v1/orgs/acme"))
        .header("content-type", "application/json")
        .header(
            "authorization",
            format!("Bearer {}", crate::harness::test_token()),
        )
        .body(body)
        .unwrap();
    let resp = client.request(req).await.unwrap();
    assert_eq!(resp.status(), 413);
    assert!(resp.headers().get("content-length").is_none() || resp.status() == 413);
    assert_eq!(d.losant_calls(), 0);
}

/// A body sent in chunks, with no declared length.
struct Chunks(std::collections::VecDeque<bytes::Bytes>);

impl http_body::Body for Chunks {
    type Data = bytes::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, Self::Error>>> {
        std::task::Poll::Ready(self.0.pop_front().map(|b| Ok(http_body::Frame::data(b))))
    }
}
