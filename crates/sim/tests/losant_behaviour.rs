//! How the Losant simulator behaves over a sequence of calls: auth, state that persists, list
//! paging/sorting/filtering, usage series, the request log and the fault knobs.

mod common;

use common::Client;
use orgway_sim::FaultPlan;
use orgway_sim::losant::{DEMO_INSTANCE_ID, DEMO_TOKEN, LosantConfig, LosantSim};
use serde_json::{Value, json};

const ORG: &str = "575ed6e87ae143cd83dc4aa8";
const DAY: i64 = 86_400_000;
const HOUR: i64 = 3_600_000;
/// 2024-03-04T00:00:00Z.
const MARCH_4_2024: i64 = 1_709_510_400_000;

fn orgs_path() -> String {
    format!("/instances/{DEMO_INSTANCE_ID}/orgs")
}

fn org_path(org: &str) -> String {
    format!("/instances/{DEMO_INSTANCE_ID}/orgs/{org}")
}

async fn start() -> (LosantSim, Client) {
    let sim = LosantSim::start(LosantConfig::default())
        .await
        .expect("start");
    let client = Client::new(sim.server().addr(), DEMO_TOKEN);
    (sim, client)
}

fn ints(body: &Value, key: &str) -> Vec<i64> {
    body["counts"]
        .as_array()
        .expect("counts")
        .iter()
        .map(|c| c[key].as_i64().expect("integer"))
        .collect()
}

fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|o| o["name"].as_str().expect("name").to_owned())
        .collect()
}

fn ids(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|o| o["id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn tokens_are_required_and_never_echoed() {
    let (sim, c) = start().await;
    let addr = sim.server().addr();

    let none = Client { addr, token: None }.get(&org_path(ORG)).await;
    assert_eq!(none.status, 401);
    assert_eq!(none.json()["type"], "Unauthorized");

    let secret = "sekrit-token-123";
    let wrong = Client::new(addr, secret).get(&org_path(ORG)).await;
    assert_eq!(wrong.status, 401);
    assert!(!wrong.text().contains(secret));

    let basic = common::send(
        addr,
        "GET",
        &org_path(ORG),
        &[("Authorization", "Basic dXNlcjpwYXNz")],
        None,
    )
    .await;
    assert_eq!(basic.status, 401);

    // A second configured token works as well as the first.
    let sim2 = LosantSim::start(LosantConfig {
        tokens: vec!["a".into(), "b".into()],
        ..LosantConfig::default()
    })
    .await
    .expect("start");
    let ok = Client::new(sim2.server().addr(), "b")
        .get(&org_path(ORG))
        .await;
    assert_eq!(ok.status, 200);
    assert!(!format!("{:?}", LosantConfig::default()).contains(DEMO_TOKEN));

    assert_eq!(c.get(&org_path(ORG)).await.status, 200);
    sim2.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn patches_persist_and_deletes_stick() {
    let (sim, c) = start().await;
    let before = c.get(&org_path(ORG)).await.json();

    let patched = c
        .patch(
            &org_path(ORG),
            &json!({"name": "Acme Renamed", "limits": {"device": 9000}, "disabledAt": "2025-01-02T03:04:05+01:00"}),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text());
    let after = c.get(&org_path(ORG)).await.json();
    assert_eq!(after["name"], "Acme Renamed");
    assert_eq!(after["limits"]["device"], 9000);
    // Limits merge: the others stay.
    assert_eq!(after["limits"]["member"], before["limits"]["member"]);
    assert_eq!(after["disabledAt"], "2025-01-02T02:04:05.000Z");
    assert_ne!(after["lastUpdated"], before["lastUpdated"]);
    assert_eq!(after["creationDate"], before["creationDate"]);
    assert_eq!(sim.org(ORG).expect("org")["name"], "Acme Renamed");

    // `true` means now, `false` re-enables.
    let now_disabled = c
        .patch(&org_path(ORG), &json!({"disabledAt": true}))
        .await
        .json();
    assert!(now_disabled["disabledAt"].is_string());
    let enabled = c
        .patch(&org_path(ORG), &json!({"disabledAt": false}))
        .await
        .json();
    assert_eq!(enabled["disabledAt"], false);

    // Ids are hex: case does not matter.
    let upper = c.get(&org_path(&ORG.to_uppercase())).await;
    assert_eq!(upper.status, 200);
    assert_eq!(upper.json()["id"], ORG);

    let total_before = c.get(&orgs_path()).await.json()["totalCount"].clone();
    assert_eq!(c.delete(&org_path(ORG)).await.status, 200);
    for resp in [
        c.get(&org_path(ORG)).await,
        c.patch(&org_path(ORG), &json!({"name": "x"})).await,
        c.delete(&org_path(ORG)).await,
        c.get(&format!("{}/deviceCounts", org_path(ORG))).await,
    ] {
        assert_eq!(resp.status, 404);
        assert_eq!(
            resp.json(),
            json!({"type": "NotFound", "message": "Organization was not found"})
        );
    }
    assert!(!sim.org_ids().contains(&ORG.to_owned()));
    assert!(sim.org(ORG).is_none());
    let total_after = c.get(&orgs_path()).await.json()["totalCount"].clone();
    assert_eq!(total_after.as_i64(), total_before.as_i64().map(|n| n - 1));

    // Creation appends, and the new org is served like the others.
    let created = c
        .post(
            &orgs_path(),
            &json!({"name": "Brand New", "members": [{"email": "x@y.example", "role": "edit"}]}),
        )
        .await;
    assert_eq!(created.status, 201);
    let created = created.json();
    let id = created["id"].as_str().expect("id").to_owned();
    assert_eq!(sim.org_ids().last(), Some(&id));
    assert_eq!(created["summary"]["pendingInviteCount"], 1);
    assert_eq!(created["instanceId"], DEMO_INSTANCE_ID);
    assert_eq!(c.get(&org_path(&id)).await.json()["name"], "Brand New");

    sim.shutdown().await;
}

#[tokio::test]
async fn the_list_pages_sorts_and_filters() {
    let (sim, c) = start().await;
    let all = c.get(&orgs_path()).await.json();
    let total = sim.org_ids().len();
    assert!((5..=6).contains(&total));
    assert_eq!(all["totalCount"], total);
    assert_eq!(all["count"], total);
    assert_eq!(all["perPage"], 100);
    assert_eq!(all["page"], 0);
    assert_eq!(all["sortField"], "name");
    assert_eq!(all["sortDirection"], "asc");
    assert!(all.get("filter").is_none());

    // Default sort: name, ignoring case.
    let by_name = names(&all);
    let mut sorted = by_name.clone();
    sorted.sort_by_key(|n| n.to_lowercase());
    assert_eq!(by_name, sorted);
    let desc = c
        .get(&format!("{}?sortDirection=desc", orgs_path()))
        .await
        .json();
    assert_eq!(
        names(&desc),
        sorted.iter().rev().cloned().collect::<Vec<_>>()
    );

    // creationDate ascending is creation order.
    let by_creation = c
        .get(&format!("{}?sortField=creationDate", orgs_path()))
        .await
        .json();
    assert_eq!(ids(&by_creation), sim.org_ids());
    let by_id = c
        .get(&format!("{}?sortField=id&sortDirection=DESC", orgs_path()))
        .await
        .json();
    assert_eq!(by_id["sortDirection"], "DESC");
    let mut expected = sim.org_ids();
    expected.sort();
    expected.reverse();
    assert_eq!(ids(&by_id), expected);

    // Paging covers everything once.
    let mut seen = Vec::new();
    for page in 0..4 {
        let p = c
            .get(&format!("{}?perPage=2&page={page}", orgs_path()))
            .await
            .json();
        assert_eq!(p["totalCount"], total);
        assert_eq!(p["perPage"], 2);
        assert_eq!(p["page"], page);
        let got = ids(&p);
        assert_eq!(p["count"], got.len());
        seen.extend(got);
    }
    assert_eq!(seen.len(), total);
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), total);

    // Filtering: a case-insensitive glob over the whole name.
    let acme = c
        .get(&format!("{}?filterField=name&filter=acme*", orgs_path()))
        .await
        .json();
    assert_eq!(names(&acme), vec!["Acme Industrial"]);
    assert_eq!(acme["totalCount"], 1);
    assert_eq!(acme["filter"], "acme*");
    assert_eq!(acme["filterField"], "name");
    let middle = c
        .get(&format!("{}?filterField=name&filter=*%20*", orgs_path()))
        .await
        .json();
    assert!(names(&middle).iter().all(|n| n.contains(' ')));
    let none = c
        .get(&format!("{}?filterField=name&filter=zzz*", orgs_path()))
        .await
        .json();
    assert_eq!(none["totalCount"], 0);
    // Without filterField the docs say there is no filtering.
    let unfiltered = c.get(&format!("{}?filter=acme*", orgs_path())).await.json();
    assert_eq!(unfiltered["totalCount"], total);

    // The advanced query overrides the simple filter.
    let q = "%7B%22name%22%3A%7B%22%24startsWith%22%3A%22c%22%2C%22%24ci%22%3Atrue%7D%7D";
    let cedar = c
        .get(&format!(
            "{}?filterField=name&filter=acme*&query={q}",
            orgs_path()
        ))
        .await
        .json();
    assert_eq!(names(&cedar), vec!["Cedar Smart Buildings"]);
    let tags_query = "%7B%22tags%22%3A%7B%22%24tagKey%22%3A%22region%22%7D%7D";
    assert_eq!(
        c.get(&format!("{}?query={tags_query}", orgs_path()))
            .await
            .status,
        400
    );

    for bad in [
        "page=-1",
        "page=one",
        "perPage=0",
        "perPage=1001",
        "sortField=size",
        "sortDirection=sideways",
        "filterField=description&filter=x",
        "query=%7Bnot-json",
        "page=1&page=2",
    ] {
        let resp = c.get(&format!("{}?{bad}", orgs_path())).await;
        assert_eq!(resp.status, 400, "{bad}: {}", resp.text());
        assert_eq!(resp.json()["type"], "Validation");
    }

    // summaryInclude adds payloadCount and nothing else changes.
    let plain = c.get(&org_path(ORG)).await.json();
    assert!(plain["summary"].get("payloadCount").is_none());
    assert!(plain["summary"]["deviceCount"].as_i64().is_some());
    for include in ["payloadCount", "deviceCount,%20payloadCount"] {
        let rich = c
            .get(&format!("{}?summaryInclude={include}", org_path(ORG)))
            .await
            .json();
        assert!(rich["summary"]["payloadCount"]["deviceState"].is_object());
        assert_eq!(
            rich["summary"]["deviceCount"],
            plain["summary"]["deviceCount"]
        );
    }
    let listed = c
        .get(&format!("{}?summaryInclude=payloadCount", orgs_path()))
        .await
        .json();
    assert!(listed["items"][0]["summary"]["payloadCount"].is_object());

    sim.shutdown().await;
}

#[tokio::test]
async fn usage_series_cover_the_range_in_whole_buckets() {
    let (sim, c) = start().await;
    let range = format!("start={MARCH_4_2024}&end={}", MARCH_4_2024 + 3 * DAY);
    let get = |action: &str, extra: &str| {
        let target = format!("{}/{action}?{range}{extra}", org_path(ORG));
        let c = c.clone();
        async move {
            let resp = c.get(&target).await;
            assert_eq!(resp.status, 200, "{target}: {}", resp.text());
            resp.json()
        }
    };

    let devices = get("deviceCounts", "").await;
    assert_eq!(devices["start"], "2024-03-04T00:00:00.000Z");
    assert_eq!(devices["end"], "2024-03-07T00:00:00.000Z");
    let dates: Vec<&str> = devices["counts"]
        .as_array()
        .expect("counts")
        .iter()
        .map(|c| c["date"].as_str().expect("date"))
        .collect();
    assert_eq!(
        dates,
        [
            "2024-03-04T00:00:00.000Z",
            "2024-03-05T00:00:00.000Z",
            "2024-03-06T00:00:00.000Z"
        ]
    );
    // total(d) = total(d-1) + created - deleted, near the org's deviceCount.
    let (totals, created, deleted) = (
        ints(&devices, "total"),
        ints(&devices, "created"),
        ints(&devices, "deleted"),
    );
    for d in 1..totals.len() {
        assert_eq!(totals[d], totals[d - 1] + created[d] - deleted[d]);
    }
    let device_count = sim.org(ORG).expect("org")["summary"]["deviceCount"]
        .as_i64()
        .expect("deviceCount");
    assert!(
        totals
            .iter()
            .all(|t| (t - device_count).abs() * 20 <= device_count)
    );

    let notebooks = get("notebookMinuteCounts", "").await;
    assert_eq!(ints(&notebooks, "minutes").len(), 3);

    let daily = get("payloadCountsBreakdown", "").await;
    let hourly = get("payloadCountsBreakdown", "&resolution=3600000").await;
    let (daily, hourly) = (ints(&daily, "value"), ints(&hourly, "value"));
    assert_eq!(daily.len(), 3);
    assert_eq!(hourly.len(), 72);
    for (d, day_value) in daily.iter().enumerate() {
        let sum: i64 = hourly[d * 24..(d + 1) * 24].iter().sum();
        assert_eq!(sum, *day_value, "hours of day {d} do not add up");
        assert!(*day_value > 0);
    }

    let bytes = ints(
        &get("payloadCountsBreakdown", "&asBytes=true").await,
        "value",
    );
    let with_nb = ints(
        &get("payloadCountsBreakdown", "&includeNonBillable=true").await,
        "value",
    );
    for d in 0..3 {
        assert!(
            bytes[d] >= daily[d] * 100,
            "bytes should be sizes, not counts"
        );
        assert!(with_nb[d] >= daily[d]);
    }
    let hourly_nb = ints(
        &get(
            "payloadCountsBreakdown",
            "&resolution=3600000&includeNonBillable=true",
        )
        .await,
        "value",
    );
    assert!(hourly_nb.iter().zip(&hourly).all(|(nb, b)| nb >= b));

    // payloadCounts over the same days adds up to the daily breakdown.
    let stats = get("payloadCounts", "").await;
    let stats_total: f64 = stats
        .as_object()
        .expect("stats")
        .values()
        .flat_map(|sources| sources.as_object().expect("sources").values())
        .map(|v| v.as_f64().expect("number"))
        .sum();
    assert_eq!(stats_total as i64, daily.iter().sum::<i64>());
    let stats_bytes = get("payloadCounts", "&asBytes=true").await;
    assert!(stats_bytes["deviceState"]["mqtt"].as_f64() > stats["deviceState"]["mqtt"].as_f64());

    // A ragged range is covered by whole buckets.
    let ragged = c
        .get(&format!(
            "{}/payloadCountsBreakdown?start={}&end={}&resolution=3600000",
            org_path(ORG),
            MARCH_4_2024 + 30 * 60_000,
            MARCH_4_2024 + 2 * HOUR + 1
        ))
        .await
        .json();
    assert_eq!(ints(&ragged, "value").len(), 3);
    assert_eq!(ragged["counts"][0]["date"], "2024-03-04T00:00:00.000Z");

    // Defaults: the last 30 days up to now.
    let default = c
        .get(&format!("{}/deviceCounts", org_path(ORG)))
        .await
        .json();
    assert!((30..=31).contains(&ints(&default, "total").len()));

    for bad in [
        "deviceCounts?start=yesterday",
        "deviceCounts?start=1.5",
        "deviceCounts?start=1709769600000&end=1709510400000",
        "deviceCounts?start=1&end=999999999999999999",
        "payloadCounts?asBytes=maybe",
        "payloadCountsBreakdown?resolution=60000",
        "payloadCountsBreakdown?includeNonBillable=2",
        "payloadCountsBreakdown?start=1000&end=1709510400000&resolution=3600000",
    ] {
        let resp = c.get(&format!("{}/{bad}", org_path(ORG))).await;
        assert_eq!(resp.status, 400, "{bad}: {}", resp.text());
    }
    // Parameters an action does not have are ignored.
    let ignored = c
        .get(&format!(
            "{}/deviceCounts?resolution=nonsense&{range}",
            org_path(ORG)
        ))
        .await;
    assert_eq!(ignored.status, 200);

    sim.shutdown().await;
}

#[tokio::test]
async fn series_are_deterministic() {
    let (sim, c) = start().await;
    let (other, c2) = start().await;
    for action in [
        "deviceCounts",
        "notebookMinuteCounts",
        "payloadCounts",
        "payloadCountsBreakdown?resolution=3600000&",
    ] {
        let sep = if action.ends_with('&') { "" } else { "?" };
        let target = format!(
            "{}/{action}{sep}start={MARCH_4_2024}&end={}",
            org_path(ORG),
            MARCH_4_2024 + 5 * DAY
        );
        let a = c.get(&target).await.text();
        let b = c.get(&target).await.text();
        let elsewhere = c2.get(&target).await.text();
        assert_eq!(a, b, "{action} changed between calls");
        assert_eq!(a, elsewhere, "{action} differs between simulators");
    }

    // Overlapping ranges agree on the days they share.
    let long = c
        .get(&format!(
            "{}/deviceCounts?start={MARCH_4_2024}&end={}",
            org_path(ORG),
            MARCH_4_2024 + 10 * DAY
        ))
        .await
        .json();
    let short = c
        .get(&format!(
            "{}/deviceCounts?start={}&end={}",
            org_path(ORG),
            MARCH_4_2024 + 4 * DAY,
            MARCH_4_2024 + 6 * DAY
        ))
        .await
        .json();
    assert_eq!(long["counts"][4], short["counts"][0]);
    assert_eq!(long["counts"][5], short["counts"][1]);

    // Different orgs differ.
    let ids = sim.org_ids();
    let a = c
        .get(&format!(
            "{}/payloadCountsBreakdown?start={MARCH_4_2024}&end={}",
            org_path(&ids[0]),
            MARCH_4_2024 + DAY
        ))
        .await
        .json();
    let b = c
        .get(&format!(
            "{}/payloadCountsBreakdown?start={MARCH_4_2024}&end={}",
            org_path(&ids[1]),
            MARCH_4_2024 + DAY
        ))
        .await
        .json();
    assert_ne!(a["counts"], b["counts"]);

    // Before an org existed there is nothing to count.
    let before = c
        .get(&format!(
            "{}/payloadCountsBreakdown?start={}&end={}",
            org_path(ORG),
            1_400_000_000_000i64,
            1_400_000_000_000i64 + 2 * DAY
        ))
        .await
        .json();
    assert!(ints(&before, "value").iter().all(|v| *v == 0));

    other.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn ids_instances_and_routes() {
    let (sim, c) = start().await;
    for (target, status, kind) in [
        (org_path("575ed6e87ae143cd83dc4aa"), 400, "Validation"),
        (org_path("575ed6e87ae143cd83dc4aaz"), 400, "Validation"),
        (org_path("0123456789abcdef01234567"), 404, "NotFound"),
        (
            "/instances/0123456789abcdef01234567/orgs".to_owned(),
            404,
            "NotFound",
        ),
        ("/instances/bogus/orgs".to_owned(), 400, "Validation"),
        ("/instances".to_owned(), 404, "NotFound"),
        (format!("{}/summary", org_path(ORG)), 404, "NotFound"),
    ] {
        let resp = c.get(&target).await;
        assert_eq!(resp.status, status, "{target}: {}", resp.text());
        assert_eq!(resp.json()["type"], kind, "{target}");
    }
    let wrong_instance = c
        .get("/instances/0123456789abcdef01234567/orgs")
        .await
        .json();
    assert_eq!(wrong_instance["message"], "Instance was not found");
    let put = c.call("PUT", &org_path(ORG), &[], Some(&json!({}))).await;
    assert_eq!(put.status, 404);
    assert_eq!(put.json()["type"], "NotFound");
    sim.shutdown().await;
}

#[tokio::test]
async fn the_request_log_keeps_headers_and_query() {
    let (sim, c) = start().await;
    sim.server().clear_requests();
    let resp = c
        .call(
            "GET",
            &format!(
                "{}?_actions=false&_links=true&_embedded=true&summaryInclude=payloadCount",
                org_path(ORG)
            ),
            &[("losantdomain", "example.com")],
            None,
        )
        .await;
    assert_eq!(resp.status, 200);
    let log = sim.server().requests();
    let last = log.last().expect("a recorded request");
    assert_eq!(last.method, "GET");
    assert_eq!(last.path, org_path(ORG));
    assert_eq!(last.header("losantdomain"), Some("example.com"));
    assert_eq!(last.header("accept-version"), Some("^1.31.0"));
    assert_eq!(
        last.query_param("summaryInclude").as_deref(),
        Some("payloadCount")
    );
    assert_eq!(last.query_param("_links").as_deref(), Some("true"));
    sim.shutdown().await;
}

#[tokio::test]
async fn fault_knobs_force_errors_and_broken_bodies() {
    let (sim, c) = start().await;

    sim.server().faults().set(FaultPlan {
        status: Some(503),
        remaining: Some(1),
        ..FaultPlan::default()
    });
    let forced = c.get(&org_path(ORG)).await;
    assert_eq!(forced.status, 503);
    let body = forced.json();
    assert_eq!(body["type"], "ServiceUnavailable");
    assert!(body["message"].is_string());
    assert_eq!(
        c.get(&org_path(ORG)).await.status,
        200,
        "the fault was for one request"
    );

    sim.server().faults().set(FaultPlan {
        malformed_body: true,
        remaining: Some(1),
        ..FaultPlan::default()
    });
    let broken = c.get(&org_path(ORG)).await;
    assert_eq!(broken.status, 200);
    assert!(
        broken
            .header("content-type")
            .is_some_and(|ct| ct.starts_with("application/json"))
    );
    assert!(serde_json::from_slice::<Value>(&broken.body).is_err());

    sim.server().faults().set(FaultPlan {
        status: Some(500),
        malformed_body: true,
        ..FaultPlan::default()
    });
    let both = c.get(&org_path(ORG)).await;
    assert_eq!(both.status, 500);
    assert!(serde_json::from_slice::<Value>(&both.body).is_err());
    sim.server().faults().clear();
    assert_eq!(c.get(&org_path(ORG)).await.status, 200);

    sim.shutdown().await;
}

#[tokio::test]
async fn an_empty_instance_and_a_bad_config() {
    let sim = LosantSim::start(LosantConfig {
        seed_demo_data: false,
        ..LosantConfig::default()
    })
    .await
    .expect("start");
    assert!(sim.org_ids().is_empty());
    let c = Client::new(sim.server().addr(), DEMO_TOKEN);
    let list = c.get(&orgs_path()).await.json();
    assert_eq!(list["totalCount"], 0);
    assert_eq!(list["items"], json!([]));
    assert_eq!(sim.instance_id(), DEMO_INSTANCE_ID);
    assert!(sim.base_url().starts_with("http://127.0.0.1:"));
    sim.shutdown().await;

    let bad = LosantSim::start(LosantConfig {
        instance_id: "nope".into(),
        ..LosantConfig::default()
    })
    .await;
    assert!(bad.is_err());
}
