//! Every Commvault route of the gateway, end to end against the Commvault simulator: plans
//! listed, associated, made default and dissociated through the seed's XML `PUT Organization`;
//! the login flow with one login however many calls wait; errors reported in bodies.

use std::sync::Arc;
use std::time::Duration;

use http::Method;
use orgway_sim::FaultPlan;
use orgway_sim::commvault::{ACME_AUTH_CODE, CommvaultConfig, CommvaultSim};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use quick_xml::events::Event;
use serde_json::Value;

use crate::harness::{Demo, Http, assert_raw_without};

/// An XML element: name, attributes (sorted), children.
#[derive(Debug, Clone, PartialEq, Eq)]
struct El {
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<El>,
}

/// Parses XML into elements, ignoring text and whitespace.
fn parse_xml(text: &str) -> El {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut stack: Vec<El> = vec![El {
        name: "#doc".into(),
        attrs: vec![],
        children: vec![],
    }];
    let el = |e: &quick_xml::events::BytesStart<'_>| {
        let mut attrs: Vec<(String, String)> = e
            .attributes()
            .map(|a| {
                let a = a.unwrap();
                (
                    a.key.into_inner().to_owned(),
                    a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .unwrap()
                        .into_owned(),
                )
            })
            .collect();
        attrs.sort();
        El {
            name: e.name().into_inner().to_owned(),
            attrs,
            children: vec![],
        }
    };
    loop {
        match reader.read_event().unwrap() {
            Event::Start(e) => stack.push(el(&e)),
            Event::Empty(e) => {
                let child = el(&e);
                stack.last_mut().unwrap().children.push(child);
            }
            Event::End(_) => {
                let done = stack.pop().unwrap();
                stack.last_mut().unwrap().children.push(done);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    stack.pop().unwrap().children.remove(0)
}

/// The element structure with attribute values dropped: names and nesting only.
fn shape(e: &El) -> El {
    El {
        name: e.name.clone(),
        attrs: e
            .attrs
            .iter()
            .map(|(k, _)| (k.clone(), String::new()))
            .collect(),
        children: e.children.iter().map(shape).collect(),
    }
}

/// The two request examples of the vendor's `PUT Organization` page, quoted verbatim in a
/// fixture.
fn seed_examples() -> Vec<El> {
    let seed = include_str!("fixtures/commvault-put-organization-examples.txt");
    let mut out = Vec::new();
    let mut rest = seed;
    while let Some(start) = rest.find("<Api_UpdateOrganizationPropertiesRequest>") {
        let end = rest[start..]
            .find("</Api_UpdateOrganizationPropertiesRequest>")
            .unwrap()
            + start;
        let xml = &rest[start..end + "</Api_UpdateOrganizationPropertiesRequest>".len()];
        out.push(parse_xml(xml));
        rest = &rest[end + 1..];
    }
    assert_eq!(
        out.len(),
        2,
        "the seed has an association example and a default-plan example"
    );
    out
}

fn find<'a>(e: &'a El, path: &[&str]) -> Option<&'a El> {
    match path.split_first() {
        None => Some(e),
        Some((first, rest)) => e
            .children
            .iter()
            .find(|c| c.name == *first)
            .and_then(|c| find(c, rest)),
    }
}

fn attr<'a>(e: &'a El, name: &str) -> Option<&'a str> {
    e.attrs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The XML bodies of the `PUT Organization` requests the simulator received.
fn puts(d: &Demo) -> Vec<(El, orgway_sim::RecordedRequest)> {
    d.commvault()
        .server()
        .requests()
        .into_iter()
        .filter(|r| r.method == "PUT" && r.path.to_lowercase().ends_with("/organization"))
        .map(|r| (parse_xml(&r.body_text()), r))
        .collect()
}

fn plan_names(v: &Value) -> Vec<(String, bool)> {
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                p["isDefault"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn plans_are_listed_associated_made_default_and_dissociated() {
    let d = Demo::start().await;
    let domain = d.commvault().org(7).unwrap()["organizationInfo"]["organization"]["shortName"]
        ["domainName"]
        .as_str()
        .unwrap()
        .to_owned();

    let before = d.get("/v1/orgs/acme-backup/plans").await;
    assert_eq!(
        before.status,
        200,
        "{}",
        String::from_utf8_lossy(&before.body)
    );
    let before = before.json();
    assert!(
        plan_names(&before).contains(&("Laptop plan".into(), true)),
        "{before}"
    );
    assert!(!plan_names(&before).iter().any(|(n, _)| n == "Server plan"));
    assert_eq!(before["items"][0]["quotas"], serde_json::json!([]));
    assert_eq!(before["items"][0]["assignees"], Value::Null);
    assert_eq!(before["meta"]["kind"], "commvault");

    // Associate by name.
    let a = d
        .send_json(Method::PUT, "/v1/orgs/acme-backup/plans/Server%20plan", "")
        .await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    let a = a.json();
    assert_eq!(
        (
            a["id"].as_str(),
            a["name"].as_str(),
            a["isDefault"].as_bool()
        ),
        (Some("1"), Some("Server plan"), Some(false))
    );
    let listed = d.get("/v1/orgs/acme-backup/plans").await.json();
    assert!(plan_names(&listed).contains(&("Server plan".into(), false)));

    // The XML Commvault received has the seed's structure, values and headers.
    let seeds = seed_examples();
    let all = puts(&d);
    assert_eq!(all.len(), 1);
    let (xml, req) = &all[0];
    assert_eq!(shape(xml), shape(&seeds[0]), "association request: {xml:?}");
    assert_eq!(
        attr(
            find(xml, &["organizationInfo"]).unwrap(),
            "planDetailsOperationType"
        ),
        Some("ADD")
    );
    assert_eq!(
        attr(
            find(xml, &["organizationInfo", "planDetails", "plan"]).unwrap(),
            "planName"
        ),
        Some("Server plan")
    );
    let short = find(xml, &["organizationInfo", "organization", "shortName"]).unwrap();
    assert_eq!(
        (attr(short, "id"), attr(short, "domainName")),
        (Some("7"), Some(domain.as_str()))
    );
    assert_eq!(req.header("content-type"), Some("application/xml"));
    assert_eq!(req.header("accept"), Some("application/json"));
    assert!(req.header("authtoken").unwrap().starts_with("QSDK "));
    assert!(req.header("x-request-id").is_some());

    // Make it the default (by id, as listed): the default-plan request of the seed.
    let a = d
        .send_json(
            Method::PUT,
            "/v1/orgs/acme-backup/plans/1",
            r#"{"default":true}"#,
        )
        .await
        .json();
    assert_eq!(a["isDefault"], true);
    let all = puts(&d);
    assert_eq!(all.len(), 2, "the association is not sent again");
    let (xml, _) = &all[1];
    assert_eq!(
        shape(xml),
        shape(&seeds[1]),
        "default-plan request: {xml:?}"
    );
    assert_eq!(
        attr(
            find(xml, &["organizationInfo", "organizationProperties"]).unwrap(),
            "defaultPlansOperationType"
        ),
        Some("ADD")
    );
    assert_eq!(
        attr(
            find(
                xml,
                &[
                    "organizationInfo",
                    "organizationProperties",
                    "defaultPlans",
                    "plan"
                ]
            )
            .unwrap(),
            "planName"
        ),
        Some("Server plan")
    );
    let listed = d.get("/v1/orgs/acme-backup/plans").await.json();
    assert!(plan_names(&listed).contains(&("Server plan".into(), true)));

    // Putting it again changes nothing and sends nothing.
    let again = d
        .send_json(
            Method::PUT,
            "/v1/orgs/acme-backup/plans/Server%20plan",
            r#"{"default":true}"#,
        )
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(puts(&d).len(), 2);

    // Dissociate.
    let del = d
        .client
        .send(
            Method::DELETE,
            &d.gw.url("/v1/orgs/acme-backup/plans/Server%20plan"),
            &[],
            None,
        )
        .await;
    assert_eq!(del.status, 204, "{}", String::from_utf8_lossy(&del.body));
    let (xml, _) = puts(&d).pop().unwrap();
    assert_eq!(
        attr(
            find(&xml, &["organizationInfo"]).unwrap(),
            "planDetailsOperationType"
        ),
        Some("DELETE")
    );
    let listed = d.get("/v1/orgs/acme-backup/plans").await.json();
    assert!(
        !plan_names(&listed).iter().any(|(n, _)| n == "Server plan"),
        "{listed}"
    );
    let sim_org = d.commvault().org(7).unwrap();
    assert!(
        !sim_org.to_string().contains("Server plan"),
        "the simulator no longer associates it"
    );

    // Associating and defaulting in one request works too.
    let both = d
        .send_json(
            Method::PUT,
            "/v1/orgs/acme-backup/plans/Silver%20backup",
            r#"{"default":true}"#,
        )
        .await
        .json();
    assert_eq!(
        (both["name"].as_str(), both["isDefault"].as_bool()),
        (Some("Silver backup"), Some(true))
    );
    let (xml, _) = puts(&d).pop().unwrap();
    assert!(find(&xml, &["organizationInfo", "planDetails", "plan"]).is_some());
    assert!(
        find(
            &xml,
            &[
                "organizationInfo",
                "organizationProperties",
                "defaultPlans",
                "plan"
            ]
        )
        .is_some()
    );
}

#[tokio::test]
async fn plan_names_with_xml_metacharacters_round_trip_exactly() {
    let d = Demo::start().await;
    let name = r#"a"/><x y=""#;
    let id = d.commvault().add_plan(name);
    let path = format!(
        "/v1/orgs/acme-backup/plans/{}",
        utf8_percent_encode(name, NON_ALPHANUMERIC)
    );
    let a = d.send_json(Method::PUT, &path, "").await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    let a = a.json();
    assert_eq!(a["name"], name);
    assert_eq!(a["id"], id.to_string());
    // The vendor stored exactly that name.
    let stored = d.commvault().org(7).unwrap();
    let names: Vec<&str> = stored["organizationInfo"]["planDetails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["plan"]["planName"].as_str().unwrap())
        .collect();
    assert!(names.contains(&name), "{names:?}");
    // The wire carried it escaped, and an XML parser reads it back exactly.
    let (xml, req) = puts(&d).pop().unwrap();
    assert!(
        !req.body_text().contains(name),
        "escaped on the wire: {}",
        req.body_text()
    );
    assert_eq!(
        attr(
            find(&xml, &["organizationInfo", "planDetails", "plan"]).unwrap(),
            "planName"
        ),
        Some(name)
    );
    assert!(
        plan_names(&d.get("/v1/orgs/acme-backup/plans").await.json())
            .contains(&(name.to_owned(), false))
    );
    let del = d
        .client
        .send(
            Method::DELETE,
            &d.gw.url(&format!("/v1/orgs/acme-backup/plans/{id}")),
            &[],
            None,
        )
        .await;
    assert_eq!(del.status, 204);
}

#[tokio::test]
async fn errors_in_bodies_are_never_200() {
    let d = Demo::start().await;
    // Commvault answers HTTP 200 with an errorCode for an unknown plan. (The gateway sends one
    // only when it cannot read the CommCell's plan list: here `GET V2/Plan`, the second request
    // of a plan change after `GET Organization/{id}`, is refused.)
    assert_eq!(d.get("/v1/orgs/acme-backup").await.status, 200, "logged in");
    d.commvault().server().faults().set(FaultPlan {
        status: Some(404),
        after: 1,
        remaining: Some(1),
        ..FaultPlan::default()
    });
    let e = d
        .send_json(
            Method::PUT,
            "/v1/orgs/acme-backup/plans/Platinum%20plan",
            "",
        )
        .await
        .error(404, "not_found");
    assert_eq!(e["backend"], "commvault");
    assert_eq!(e["backendStatus"], 200);
    assert!(
        e["message"].as_str().unwrap().contains("does not exist"),
        "{e}"
    );
    let last = d
        .commvault()
        .server()
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.method == "PUT")
        .unwrap();
    assert!(
        last.body_text().contains("Platinum plan"),
        "without a plan list, the unknown name reached Commvault, which judged it"
    );

    d.client
        .send(
            Method::DELETE,
            &d.gw.url("/v1/orgs/acme-backup/plans/Platinum%20plan"),
            &[],
            None,
        )
        .await
        .error(404, "not_found");
    let e = d
        .get("/v1/orgs/commvault:999")
        .await
        .error(404, "not_found");
    assert_eq!(e["backendStatus"], 200);

    // An HTML error page, and a server failure.
    let faults = d.commvault().server().faults();
    faults.set(FaultPlan {
        malformed_body: true,
        remaining: Some(1),
        ..FaultPlan::default()
    });
    let e = d
        .get("/v1/orgs/acme-backup")
        .await
        .error(502, "backend_bad_response");
    assert!(e["message"].as_str().unwrap().contains("HTML"), "{e}");
    // A server failure lasting longer than the retries of a read.
    faults.set(FaultPlan {
        status: Some(500),
        ..FaultPlan::default()
    });
    d.get("/v1/orgs/acme-backup")
        .await
        .error(502, "backend_error");
    faults.clear();
    // An HTML error page is the web server's, not Commvault's answer, whatever its status.
    for status in [500, 404, 400] {
        faults.set(FaultPlan {
            status: Some(status),
            malformed_body: true,
            remaining: Some(1),
            ..FaultPlan::default()
        });
        d.get("/v1/orgs/acme-backup")
            .await
            .error(502, "backend_bad_response");
    }
    // A 503 page is the backend being unavailable (a read retries it: it lasts here).
    faults.set(FaultPlan {
        status: Some(503),
        malformed_body: true,
        ..FaultPlan::default()
    });
    d.get("/v1/orgs/acme-backup")
        .await
        .error(503, "backend_unavailable");
    faults.clear();
    assert_eq!(d.get("/v1/orgs/acme-backup").await.status, 200);
}

/// The simulator's Acme (`acme-backup`, id 7): Laptop plan (its default) and Gold backup.
fn acme_plans(d: &Demo) -> (Vec<String>, Vec<String>) {
    let org = d.commvault().org(7).unwrap();
    let names = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|p| p["plan"]["planName"].as_str().unwrap().to_owned())
            .collect()
    };
    let info = &org["organizationInfo"];
    (
        names(&info["planDetails"]),
        names(&info["organizationProperties"]["defaultPlans"]),
    )
}

/// `DELETE` of Acme's Laptop plan (its default), with `headers`.
async fn remove_laptop_plan(d: &Demo, headers: &[(&str, &str)]) -> crate::harness::Answer {
    d.client
        .send(
            Method::DELETE,
            &d.gw.url("/v1/orgs/acme-backup/plans/Laptop%20plan"),
            headers,
            None,
        )
        .await
}

#[tokio::test]
async fn removing_the_default_plan_drops_the_default_first_then_the_association() {
    let d = Demo::start().await;
    assert_eq!(
        acme_plans(&d),
        (
            vec!["Laptop plan".to_owned(), "Gold backup".to_owned()],
            vec!["Laptop plan".to_owned()]
        )
    );
    let del = remove_laptop_plan(&d, &[]).await;
    assert_eq!(del.status, 204, "{}", String::from_utf8_lossy(&del.body));
    assert_eq!(acme_plans(&d), (vec!["Gold backup".to_owned()], vec![]));

    // Two requests: the default's DELETE alone, then the association's alone.
    let all = puts(&d);
    assert_eq!(all.len(), 2, "{all:?}");
    let (first, second) = (&all[0].0, &all[1].0);
    assert_eq!(
        attr(
            find(first, &["organizationInfo", "organizationProperties"]).unwrap(),
            "defaultPlansOperationType"
        ),
        Some("DELETE")
    );
    assert_eq!(
        attr(
            find(first, &["organizationInfo"]).unwrap(),
            "planDetailsOperationType"
        ),
        None
    );
    assert!(find(first, &["organizationInfo", "planDetails"]).is_none());
    assert_eq!(
        attr(
            find(second, &["organizationInfo"]).unwrap(),
            "planDetailsOperationType"
        ),
        Some("DELETE")
    );
    assert_eq!(
        attr(
            find(second, &["organizationInfo", "planDetails", "plan"]).unwrap(),
            "planName"
        ),
        Some("Laptop plan")
    );
    assert!(find(second, &["organizationInfo", "organizationProperties"]).is_none());
}

#[tokio::test]
async fn a_second_step_cut_short_by_the_deadline_says_what_was_done() {
    let d = Demo::start_with(|t| t.replace("timeout_ms = 5000", "timeout_ms = 800")).await;
    assert_eq!(d.get("/v1/orgs/acme-backup").await.status, 200, "logged in");
    // The org read, the default's DELETE, then the association's, held past the deadline:
    // the gateway's deadline ends the call, not the adapter's own error.
    d.commvault().server().faults().set(FaultPlan {
        latency_ms: 2000,
        after: 2,
        remaining: Some(1),
        ..FaultPlan::default()
    });
    let e = remove_laptop_plan(&d, &[("idempotency-key", "cut-short-1")])
        .await
        .error(504, "backend_timeout");
    assert_eq!(e["details"]["outcome"], "partial", "{e}");
    assert_eq!(e["details"]["step"], "remove-association", "{e}");
    assert_eq!(
        e["details"]["completed"],
        serde_json::json!(["remove-default"]),
        "{e}"
    );
}

#[tokio::test]
async fn a_failed_second_step_names_the_step_and_what_was_done() {
    let d = Demo::start().await;
    assert_eq!(d.get("/v1/orgs/acme-backup").await.status, 200, "logged in");
    // The DELETE reads the org, sends the default's DELETE, then the association's: the
    // third request fails.
    d.commvault().server().faults().set(FaultPlan {
        status: Some(500),
        after: 2,
        remaining: Some(1),
        ..FaultPlan::default()
    });
    let e = remove_laptop_plan(&d, &[])
        .await
        .error(502, "backend_error");
    assert_eq!(e["backend"], "commvault");
    assert_eq!(e["backendStatus"], 500);
    assert_eq!(e["details"]["step"], "remove-association", "{e}");
    assert_eq!(
        e["details"]["completed"],
        serde_json::json!(["remove-default"]),
        "{e}"
    );
    assert_eq!(puts(&d).len(), 2);
    // The first step stands: the plan is no longer the default, and still associated.
    assert_eq!(
        acme_plans(&d),
        (
            vec!["Laptop plan".to_owned(), "Gold backup".to_owned()],
            vec![]
        )
    );
    // Sent again, the DELETE finishes the job (the default is gone: one request).
    let del = remove_laptop_plan(&d, &[]).await;
    assert_eq!(del.status, 204, "{}", String::from_utf8_lossy(&del.body));
    assert_eq!(puts(&d).len(), 3);
    assert_eq!(acme_plans(&d), (vec!["Gold backup".to_owned()], vec![]));
}

#[tokio::test]
async fn a_two_step_change_runs_to_its_end_when_its_caller_hangs_up_and_the_gateway_stops() {
    use tokio::io::AsyncWriteExt;
    let mut d = Demo::start().await;
    assert_eq!(d.get("/v1/orgs/acme-backup").await.status, 200, "logged in");
    // The org read, the default's DELETE, then the association's, held back 800 ms.
    d.commvault().server().faults().set(FaultPlan {
        latency_ms: 800,
        after: 2,
        remaining: Some(1),
        ..FaultPlan::default()
    });
    let mut s = tokio::net::TcpStream::connect(d.gw.addr).await.unwrap();
    s.write_all(
        format!(
            "DELETE /v1/orgs/acme-backup/plans/Laptop%20plan HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\n\r\n",
            crate::harness::test_token()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    // The caller gives up once the first step is made, and the gateway is told to stop.
    let started = std::time::Instant::now();
    while puts(&d).is_empty() && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(s);
    d.gw.shut_down().await.unwrap();
    // The shutdown waited for the write: both steps were sent, and the plan is removed.
    assert_eq!(puts(&d).len(), 2, "both steps were sent");
    assert_eq!(acme_plans(&d), (vec!["Gold backup".to_owned()], vec![]));
}

#[tokio::test]
async fn an_unknown_plan_is_404_without_a_write() {
    let d = Demo::start().await;
    for body in ["", r#"{"default":true}"#] {
        let e = d
            .send_json(
                Method::PUT,
                "/v1/orgs/acme-backup/plans/Platinum%20plan",
                body,
            )
            .await
            .error(404, "not_found");
        assert_eq!(e["backend"], "commvault");
        assert!(
            e["message"].as_str().unwrap().contains("Platinum plan"),
            "{e}"
        );
    }
    assert!(
        d.commvault()
            .server()
            .requests()
            .iter()
            .any(|r| r.path.ends_with("/V2/Plan")),
        "the CommCell's plan list was read"
    );
    assert!(puts(&d).is_empty(), "no PUT Organization was sent");
}

#[tokio::test]
async fn include_raw_never_shows_registration_codes_or_contacts() {
    let d = Demo::start().await;
    // The vendor's records hold them: Acme's registration code, and its contact's address (in
    // the organization and in each list entry).
    let acme = d.commvault().org(7).unwrap();
    let props = &acme["organizationInfo"]["organizationProperties"];
    assert_eq!(props["authCode"], ACME_AUTH_CODE);
    let email = props["primaryContacts"][0]["email"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(email.contains('@'));

    assert_raw_without(
        &d,
        &[
            "/v1/orgs/acme-backup?include=raw",
            "/v1/backends/commvault/orgs?include=raw&limit=50",
            "/v1/orgs/acme-backup/plans?include=raw",
            "/v1/orgs/acme-backup/usage?include=raw",
        ],
        &["authCode", "primaryContacts"],
        &[ACME_AUTH_CODE, &email, "Jo Admin"],
    )
    .await;
    // The rest of the record is kept.
    let r = d.get("/v1/orgs/acme-backup?include=raw").await.json();
    assert_eq!(
        r["raw"]["organizationInfo"]["organization"]["connectName"],
        "Acme"
    );
    assert_eq!(
        r["raw"]["organizationInfo"]["organizationProperties"]["enableAuthCodeGen"],
        true
    );

    // And the backend says what it removes.
    let backends = d.get("/v1/backends").await.json();
    let cv = backends["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["kind"] == "commvault")
        .unwrap();
    assert_eq!(
        cv["capabilities"]["rawRedactions"],
        serde_json::json!(["authCode", "primaryContacts"])
    );
}

#[tokio::test]
async fn orgs_usage_and_lists() {
    let d = Demo::start().await;
    let sim = d.commvault().org(7).unwrap();
    let props = &sim["organizationInfo"]["organizationProperties"];
    let v = d.get("/v1/orgs/acme-backup").await.json();
    assert_eq!(v["id"], "commvault:7");
    assert_eq!(v["alias"], "acme-backup");
    assert_eq!(v["kind"], "commvault");
    assert_eq!(
        v["name"],
        sim["organizationInfo"]["organization"]["connectName"]
    );
    assert_eq!(v["counts"]["users"], props["userCount"]);
    assert_eq!(v["counts"]["machines"], props["totalMachineCount"]);
    assert_eq!(v["counts"]["servers"], props["serverCount"]);
    let created =
        orgway_core::Timestamp::from_unix_seconds(props["orgCreationDateTime"].as_i64().unwrap())
            .unwrap();
    assert_eq!(v["createdAt"], created.to_string());
    assert_eq!(v["plan"]["name"], "Laptop plan");
    assert_eq!(v["status"], "active");
    assert_eq!(
        d.get("/v1/orgs/commvault:23").await.json()["status"],
        "disabled"
    );
    assert_eq!(
        d.get("/v1/orgs/commvault:0007").await.json()["id"],
        "commvault:7",
        "ids are canonical"
    );

    let u = d.get("/v1/orgs/acme-backup/usage").await.json();
    let users = u["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["metric"] == "users")
        .unwrap();
    assert_eq!(users["value"], props["userCount"]);

    // The whole list by cursor, natively sorted by name.
    let ids = d.commvault().org_ids();
    let pages = org_pages(&d, "limit=2&sort=name", ids.len()).await;
    for page in &pages {
        assert_eq!(page["total"], ids.len());
    }
    let seen = item_fields(&pages, "name");
    assert_eq!(seen.len(), ids.len());
    let mut sorted = seen.clone();
    sorted.sort_by_key(|n| n.to_lowercase());
    assert_eq!(seen, sorted);
    let req = d
        .commvault()
        .server()
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.query_param("sort").is_some())
        .unwrap();
    assert_eq!(
        req.query_param("sort").as_deref(),
        Some("providers.connectName:1")
    );
    assert_eq!(req.query_param("start").as_deref(), Some("4"));

    // Plans sort in the gateway (Commvault returns an org's plans whole).
    let p = d.get("/v1/orgs/commvault:1/plans?sort=-name").await.json();
    let names: Vec<String> = plan_names(&p).into_iter().map(|(n, _)| n).collect();
    let mut expect = names.clone();
    expect.sort_by_key(|n| std::cmp::Reverse(n.to_lowercase()));
    assert_eq!(names, expect);
}

/// Sends `n` concurrent GETs and returns their statuses.
async fn burst(d: &Demo, n: usize, path: &str) -> Vec<u16> {
    let mut tasks = Vec::new();
    for i in 0..n {
        let client = d.client.clone();
        let url = d.gw.url(if i % 2 == 0 {
            path
        } else {
            "/v1/orgs/acme-backup/plans"
        });
        tasks.push(tokio::spawn(async move {
            client
                .send(Method::GET, &url, &[], None)
                .await
                .status
                .as_u16()
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

#[tokio::test]
async fn one_login_however_many_calls_wait() {
    let d = Demo::start().await;
    let cv = &d.commvault();

    // Fifty calls at once on a gateway that has not logged in yet: one login.
    assert_eq!(cv.logins(), 0);
    assert!(
        burst(&d, 50, "/v1/orgs/acme-backup")
            .await
            .iter()
            .all(|s| *s == 200)
    );
    assert_eq!(cv.logins(), 1);

    // The token expires mid-run: fifty calls, one renewal, no new login.
    cv.expire_all_tokens();
    assert!(
        burst(&d, 50, "/v1/orgs/acme-backup")
            .await
            .iter()
            .all(|s| *s == 200)
    );
    assert_eq!((cv.logins(), cv.renewals()), (1, 1));

    // Expired again and Commvault will not renew: fifty calls, exactly one fresh login.
    cv.expire_all_tokens();
    cv.set_renewal_allowed(false);
    assert!(
        burst(&d, 50, "/v1/orgs/acme-backup")
            .await
            .iter()
            .all(|s| *s == 200)
    );
    assert_eq!((cv.logins(), cv.renewals()), (2, 1));

    // The login carried the password base64-encoded.
    let login = cv
        .server()
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/Login"))
        .unwrap();
    let body: Value = serde_json::from_slice(&login.body).unwrap();
    assert_eq!(body["username"], "admin");
    use base64::Engine;
    assert_eq!(
        body["password"],
        base64::engine::general_purpose::STANDARD.encode(orgway_sim::commvault::DEMO_PASSWORD)
    );
    assert!(
        !login
            .body_text()
            .contains(orgway_sim::commvault::DEMO_PASSWORD)
    );
}

#[tokio::test]
async fn idle_expiry_is_renewed_transparently() {
    // A CommCell whose tokens die after 1 s idle, as real ones do after 30 minutes.
    let cv = CommvaultSim::start(CommvaultConfig {
        token_idle_timeout: std::time::Duration::from_millis(1000),
        ..CommvaultConfig::default()
    })
    .await
    .unwrap();
    let config = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n\n[auth]\nmode = \"off\"\n\n[[backends]]\nname = \"cv\"\nkind = \"commvault\"\nbase_url = \"{}\"\nusername = \"admin\"\npassword = \"${{PW}}\"\n",
        cv.base_url()
    );
    let config = orgway::Config::parse(&config, "t.toml", std::path::Path::new("."), &|n: &str| {
        (n == "PW").then(|| "demo-password".to_owned())
    })
    .unwrap();
    let gw = crate::harness::Gateway::start(config).await;
    let http = Http::new();
    assert_eq!(
        http.send(Method::GET, &gw.url("/v1/orgs/cv:7"), &[], None)
            .await
            .status,
        200
    );
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let results = Arc::new(tokio::sync::Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (http, url, results) = (http.clone(), gw.url("/v1/orgs/cv:7/plans"), results.clone());
        tasks.push(tokio::spawn(async move {
            let s = http
                .send(Method::GET, &url, &[], None)
                .await
                .status
                .as_u16();
            results.lock().await.push(s);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert!(results.lock().await.iter().all(|s| *s == 200));
    assert_eq!(
        cv.logins() + cv.renewals(),
        2,
        "one login, then one renewal after the idle expiry"
    );
    gw.stop().await.unwrap();
    cv.shutdown().await;
}

#[tokio::test]
async fn a_static_authtoken_needs_no_login() {
    let cv = CommvaultSim::start(CommvaultConfig::default())
        .await
        .unwrap();
    let token = cv.issue_token("admin").unwrap();
    let gw = gateway_with_token(&cv, &token).await;
    let http = Http::new();
    let a = http
        .send(Method::GET, &gw.url("/v1/orgs/cv:7"), &[], None)
        .await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(cv.logins(), 0);
    let sent = cv.server().requests().into_iter().last().unwrap();
    assert_eq!(sent.header("authtoken"), Some(token.as_str()));
    // A token Commvault no longer accepts, and will not renew, is the gateway's problem: 502.
    cv.expire_all_tokens();
    cv.set_renewal_allowed(false);
    let e = http
        .send(Method::GET, &gw.url("/v1/orgs/cv:7"), &[], None)
        .await
        .error(502, "backend_auth_failed");
    assert!(!e.to_string().contains(&token[5..]));
    gw.stop().await.unwrap();
    cv.shutdown().await;
}

#[tokio::test]
async fn a_commcell_whose_listing_does_not_page_is_paged_by_the_gateway() {
    let d = Demo::start().await;
    d.commvault().set_whole_lists(true);
    let mut ids: Vec<String> = d.commvault().org_ids().iter().map(u64::to_string).collect();
    ids.sort();
    let pages = org_pages(&d, "limit=2", ids.len()).await;
    for page in &pages {
        assert_eq!(page["total"], ids.len());
        assert!(page["items"].as_array().unwrap().len() <= 2);
    }
    // Every org once, and the cursor ends.
    let mut seen = item_fields(&pages, "nativeId");
    seen.sort();
    assert_eq!(seen, ids);
    // A sort asked for is honoured over the whole list.
    let names = item_fields(
        &org_pages(&d, "limit=2&sort=-name", ids.len()).await,
        "name",
    );
    let mut sorted = names.clone();
    sorted.sort_by_key(|n| std::cmp::Reverse(n.to_lowercase()));
    assert_eq!(names, sorted);
    assert_eq!(names.len(), ids.len());
}

#[tokio::test]
async fn a_bearer_token_commvault_refuses_is_not_sent_for_renewal() {
    // cvpysdk renews `QSDK` tokens on a 401, never a `Bearer` one: the gateway does not post it
    // to `RenewLoginToken` either.
    let cv = CommvaultSim::start(CommvaultConfig::default())
        .await
        .unwrap();
    let gw = gateway_with_token(&cv, "Bearer eyJhbGciOi.not-one-it-knows").await;
    Http::new()
        .send(Method::GET, &gw.url("/v1/orgs/cv:7"), &[], None)
        .await
        .error(502, "backend_auth_failed");
    let paths: Vec<String> = cv.server().requests().into_iter().map(|r| r.path).collect();
    assert!(
        !paths.iter().any(|p| p.contains("RenewLoginToken")),
        "{paths:?}"
    );
    gw.stop().await.unwrap();
    cv.shutdown().await;
}

/// Every page of `GET /v1/backends/commvault/orgs?{query}`, following `nextCursor`; the
/// cursor must end within `max` pages.
async fn org_pages(d: &Demo, query: &str, max: usize) -> Vec<Value> {
    let mut pages = Vec::new();
    let mut url = format!("/v1/backends/commvault/orgs?{query}");
    for _ in 0..max {
        let page = d.get(&url).await;
        assert_eq!(page.status, 200, "{}", String::from_utf8_lossy(&page.body));
        let page = page.json();
        let next = page["nextCursor"].as_str().map(str::to_owned);
        pages.push(page);
        match next {
            Some(c) => url = format!("/v1/backends/commvault/orgs?{query}&cursor={c}"),
            None => return pages,
        }
    }
    panic!("the cursor of `{query}` did not end within {max} pages");
}

/// The text field `name` of every item of `pages`, in order.
fn item_fields(pages: &[Value], name: &str) -> Vec<String> {
    pages
        .iter()
        .flat_map(|p| p["items"].as_array().unwrap())
        .map(|o| o[name].as_str().unwrap().to_owned())
        .collect()
}

/// A gateway with one Commvault backend `cv` calling with the configured `authtoken`.
async fn gateway_with_token(cv: &CommvaultSim, token: &str) -> crate::harness::Gateway {
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n\n[auth]\nmode = \"off\"\n\n[[backends]]\nname = \"cv\"\nkind = \"commvault\"\nbase_url = \"{}\"\nauthtoken = \"${{CV_TOKEN}}\"\n",
        cv.base_url()
    );
    let token = token.to_owned();
    let config = orgway::Config::parse(
        &text,
        "t.toml",
        std::path::Path::new("."),
        &move |n: &str| (n == "CV_TOKEN").then(|| token.clone()),
    )
    .unwrap();
    crate::harness::Gateway::start(config).await
}

/// A gateway with one Commvault backend `cv` logging in with `password`.
async fn gateway_for(
    cv: &CommvaultSim,
    password: &'static str,
    extra: &str,
) -> crate::harness::Gateway {
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n\n[auth]\nmode = \"off\"\n\n[[backends]]\nname = \"cv\"\nkind = \"commvault\"\nbase_url = \"{}\"\nusername = \"admin\"\npassword = \"${{PW}}\"\n{extra}\n",
        cv.base_url()
    );
    let config = orgway::Config::parse(
        &text,
        "t.toml",
        std::path::Path::new("."),
        &move |n: &str| (n == "PW").then(|| password.to_owned()),
    )
    .unwrap();
    crate::harness::Gateway::start(config).await
}

fn login_requests(cv: &CommvaultSim) -> usize {
    cv.server()
        .requests()
        .iter()
        .filter(|r| r.path.to_ascii_lowercase().ends_with("/login"))
        .count()
}

#[tokio::test]
async fn a_refused_login_is_tried_once_for_all_waiting_calls() {
    let cv = CommvaultSim::start(CommvaultConfig::default())
        .await
        .unwrap();
    let gw = gateway_for(&cv, "wrong-password", "").await;
    let http = Http::new();
    let mut tasks = Vec::new();
    for _ in 0..30 {
        let (http, url) = (http.clone(), gw.url("/v1/orgs/cv:7"));
        tasks.push(tokio::spawn(async move {
            http.send(Method::GET, &url, &[], None)
                .await
                .status
                .as_u16()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 502);
    }
    assert_eq!(
        (login_requests(&cv), cv.failed_logins()),
        (1, 1),
        "one login for thirty waiting calls"
    );
    // Within the cool-down the refusal is answered from memory: the account is not hammered.
    http.send(Method::GET, &gw.url("/v1/orgs/cv:7"), &[], None)
        .await
        .error(502, "backend_auth_failed");
    assert_eq!(login_requests(&cv), 1);
    gw.stop().await.unwrap();
    cv.shutdown().await;
}

#[tokio::test]
async fn a_caller_giving_up_does_not_abort_the_login_others_wait_for() {
    let cv = CommvaultSim::start(CommvaultConfig::default())
        .await
        .unwrap();
    let gw = gateway_for(
        &cv,
        orgway_sim::commvault::DEMO_PASSWORD,
        "timeout_ms = 10000",
    )
    .await;
    let http = Http::new();
    // The next request Commvault sees, the login, takes 3 s.
    cv.server().faults().set(FaultPlan {
        latency_ms: 3000,
        remaining: Some(1),
        ..FaultPlan::default()
    });
    let (h, url) = (http.clone(), gw.url("/v1/orgs/cv:7"));
    let impatient = tokio::spawn(async move {
        tokio::time::timeout(
            std::time::Duration::from_millis(1500),
            h.send(Method::GET, &url, &[], None),
        )
        .await
        .is_ok()
    });
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let mut patient = Vec::new();
    for _ in 0..10 {
        let (h, url) = (http.clone(), gw.url("/v1/orgs/cv:7/plans"));
        patient.push(tokio::spawn(async move {
            h.send(Method::GET, &url, &[], None).await.status.as_u16()
        }));
    }
    assert!(!impatient.await.unwrap(), "the first caller gave up");
    for p in patient {
        assert_eq!(p.await.unwrap(), 200);
    }
    assert_eq!(
        (login_requests(&cv), cv.logins()),
        (1, 1),
        "the login the first caller started served the others"
    );
    gw.stop().await.unwrap();
    cv.shutdown().await;
}

#[tokio::test]
async fn plan_names_match_in_any_letter_case() {
    let d = Demo::start().await;
    let a = d
        .send_json(Method::PUT, "/v1/orgs/commvault:1/plans/gold%20BACKUP", "")
        .await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(a.json()["name"], "Gold backup", "the backend's spelling");
    let del = d
        .client
        .send(
            Method::DELETE,
            &d.gw.url("/v1/orgs/commvault:1/plans/GOLD%20backup"),
            &[],
            None,
        )
        .await;
    assert_eq!(del.status, 204);
}

#[tokio::test]
async fn a_login_that_never_answers_is_abandoned_after_the_backend_timeout() {
    let cv = CommvaultSim::start(CommvaultConfig::default())
        .await
        .unwrap();
    let gw = gateway_for(
        &cv,
        orgway_sim::commvault::DEMO_PASSWORD,
        "timeout_ms = 800",
    )
    .await;
    let http = Http::new();
    // The first login hangs far longer than the backend's timeout.
    cv.server().faults().set(FaultPlan {
        latency_ms: 30_000,
        remaining: Some(1),
        ..FaultPlan::default()
    });
    http.send(Method::GET, &gw.url("/v1/orgs/cv:7"), &[], None)
        .await
        .error(504, "backend_timeout");
    // The call after the deadline does not wait on the hung login: it logs in again.
    let a = http
        .send(Method::GET, &gw.url("/v1/orgs/cv:7"), &[], None)
        .await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(login_requests(&cv), 2);
    assert_eq!(cv.logins(), 1, "the second login succeeded");
    gw.stop().await.unwrap();
    cv.shutdown().await;
}

#[tokio::test]
async fn login_refusals_answered_with_a_4xx_are_auth_failures_and_back_off() {
    let cv = CommvaultSim::start(CommvaultConfig::default())
        .await
        .unwrap();
    let gw = gateway_for(&cv, "wrong-password", "").await;
    let http = Http::new();
    // A strict server answers a wrong password with 400 "Invalid username or password".
    cv.server().faults().set(FaultPlan {
        status: Some(400),
        ..FaultPlan::default()
    });
    // 100 calls over 7 s, past the first 5 s of backoff.
    for _ in 0..100 {
        let e = http
            .send(Method::GET, &gw.url("/v1/orgs/cv:7"), &[], None)
            .await
            .error(502, "backend_auth_failed");
        assert_eq!(e["backend"], "cv");
        tokio::time::sleep(std::time::Duration::from_millis(70)).await;
    }
    let attempts = login_requests(&cv);
    assert!(
        (2..=3).contains(&attempts),
        "one attempt, then one more after the 5 s backoff: {attempts}"
    );
    gw.stop().await.unwrap();

    // A wrong base path: the login meets a 404, which is a refusal too, never `not_found`.
    cv.server().faults().clear();
    let before = login_requests(&cv);
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n\n[auth]\nmode = \"off\"\n\n[[backends]]\nname = \"cv\"\nkind = \"commvault\"\nbase_url = \"{}/no/such/root\"\nusername = \"admin\"\npassword = \"${{PW}}\"\n",
        cv.server().base_url()
    );
    let config = orgway::Config::parse(&text, "t.toml", std::path::Path::new("."), &|n: &str| {
        (n == "PW").then(|| orgway_sim::commvault::DEMO_PASSWORD.to_owned())
    })
    .unwrap();
    let gw = crate::harness::Gateway::start(config).await;
    for _ in 0..5 {
        let e = http
            .send(Method::GET, &gw.url("/v1/orgs/cv:7"), &[], None)
            .await
            .error(502, "backend_auth_failed");
        assert_eq!(e["backendStatus"], 404, "{e}");
    }
    let wrong_path_logins = cv
        .server()
        .requests()
        .iter()
        .filter(|r| r.path.to_ascii_lowercase().ends_with("/login"))
        .count()
        - before;
    assert_eq!(wrong_path_logins, 1, "5 calls, 1 login attempt");
    gw.stop().await.unwrap();
    cv.shutdown().await;
}
