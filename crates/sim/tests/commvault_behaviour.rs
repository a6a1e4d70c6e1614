//! How the Commvault simulator behaves over a sequence of calls: login in its forms, tokens
//! (missing, bad, idle, renewed, expired by the knob), the organization list and details, `PUT
//! Organization` in XML and JSON with failures reported in the body, paths and roots, the
//! response format, and the fault knobs.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{Response, send};
use orgway_sim::FaultPlan;
use orgway_sim::commvault::{CommvaultConfig, CommvaultSim, DEMO_PASSWORD, DEMO_USERNAME};
use serde_json::{Value, json};

const API: &str = "/webconsole/api";
/// `DEMO_PASSWORD` base64-encoded, as the wire carries it.
const DEMO_PASSWORD_B64: &str = "ZGVtby1wYXNzd29yZA==";
/// A plan name made of XML metacharacters.
const NASTY_PLAN: &str = r#"a"/><x y="&'"#;
const NASTY_PLAN_ESCAPED: &str = "a&quot;/&gt;&lt;x y=&quot;&amp;&apos;";

fn path(rest: &str) -> String {
    format!("{API}/{rest}")
}

async fn start_with(config: CommvaultConfig) -> (CommvaultSim, SocketAddr) {
    let sim = CommvaultSim::start(config).await.expect("start");
    let addr = sim.server().addr();
    (sim, addr)
}

async fn start() -> (CommvaultSim, SocketAddr) {
    start_with(CommvaultConfig::default()).await
}

/// A request with `Accept: application/json` and, when given, the token.
async fn call(
    addr: SocketAddr,
    method: &str,
    target: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: Option<&[u8]>,
) -> Response {
    let mut headers = vec![("Accept", "application/json")];
    if let Some(t) = token {
        headers.push(("Authtoken", t));
    }
    if let Some(ct) = content_type {
        headers.push(("Content-Type", ct));
    }
    send(addr, method, target, &headers, body).await
}

async fn get(addr: SocketAddr, target: &str, token: &str) -> Response {
    call(addr, "GET", target, Some(token), None, None).await
}

async fn post_json(addr: SocketAddr, target: &str, token: Option<&str>, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).expect("serialise");
    call(
        addr,
        "POST",
        target,
        token,
        Some("application/json"),
        Some(&bytes),
    )
    .await
}

async fn put_xml(addr: SocketAddr, token: &str, xml: &str) -> Value {
    let r = call(
        addr,
        "PUT",
        &path("Organization"),
        Some(token),
        Some("application/xml"),
        Some(xml.as_bytes()),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

async fn put_json(addr: SocketAddr, token: &str, target: &str, body: &Value) -> Value {
    let bytes = serde_json::to_vec(body).expect("serialise");
    let r = call(
        addr,
        "PUT",
        target,
        Some(token),
        Some("application/json"),
        Some(&bytes),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

/// Logs the demo user in the way cvpysdk does; returns the token.
async fn login(addr: SocketAddr, device: &str) -> String {
    let r = post_json(
        addr,
        &path("Login"),
        None,
        &json!({"mode": 4, "username": DEMO_USERNAME, "password": DEMO_PASSWORD_B64,
                "deviceId": device, "clientType": 30}),
    )
    .await;
    assert_eq!(r.status, 200);
    r.json()["token"].as_str().expect("token").to_owned()
}

fn ok() -> Value {
    json!({"error": {"errorMessage": "", "errorCode": 0}})
}

fn plan_names(org: &Value) -> Vec<String> {
    org["organizationInfo"]["planDetails"]
        .as_array()
        .expect("planDetails")
        .iter()
        .map(|p| p["plan"]["planName"].as_str().expect("planName").to_owned())
        .collect()
}

fn default_names(org: &Value) -> Vec<String> {
    org["organizationInfo"]["organizationProperties"]["defaultPlans"]
        .as_array()
        .expect("defaultPlans")
        .iter()
        .map(|p| p["plan"]["planName"].as_str().expect("planName").to_owned())
        .collect()
}

fn error_code(body: &Value) -> i64 {
    body["error"]["errorCode"].as_i64().expect("errorCode")
}

#[tokio::test]
async fn logs_in_with_the_documented_json_and_cvpysdk_bodies() {
    let (sim, addr) = start().await;

    let documented = post_json(
        addr,
        &path("Login"),
        None,
        &json!({"domain": "", "username": DEMO_USERNAME, "password": DEMO_PASSWORD_B64,
                "commserver": "", "timeout": 30}),
    )
    .await;
    assert_eq!(documented.status, 200);
    let body = documented.json();
    let token = body["token"].as_str().expect("token");
    assert!(token.starts_with("QSDK ") && token.len() > 40);
    assert_eq!(body["userName"], DEMO_USERNAME);
    assert_eq!(body["aliasName"], "1");
    assert!(body["userGUID"].as_str().is_some_and(|g| !g.is_empty()));
    assert_eq!(body["isAccountLocked"], false);

    let sdk = login(addr, "host.example").await;
    assert_ne!(sdk, token, "every login gets its own token");
    let who = post_json(addr, &path("WhoAmI"), Some(&sdk), &json!({})).await;
    assert_eq!(
        who.json(),
        json!({"user": {"userName": DEMO_USERNAME, "userId": 1,
                        "userGUID": who.json()["user"]["userGUID"]}, "errorCode": 0})
    );
    // User names compare without regard to case.
    let upper = post_json(
        addr,
        &path("Login"),
        None,
        &json!({"username": "ADMIN", "password": DEMO_PASSWORD_B64}),
    )
    .await;
    assert!(upper.json()["token"].is_string());
    assert_eq!((sim.logins(), sim.failed_logins()), (3, 0));
}

#[tokio::test]
async fn logs_in_with_the_documented_xml_body() {
    let (sim, addr) = start().await;
    let xml = format!(
        r#"<DM2ContentIndexing_CheckCredentialReq domain="" username="{DEMO_USERNAME}" password="{DEMO_PASSWORD_B64}" commserver="" timeout="30"/>"#
    );
    let json_answer = call(
        addr,
        "POST",
        &path("Login"),
        None,
        Some("application/xml"),
        Some(xml.as_bytes()),
    )
    .await;
    assert!(json_answer.json()["token"].is_string());

    let xml_answer = send(
        addr,
        "POST",
        &path("Login"),
        &[
            ("Accept", "application/xml"),
            ("Content-Type", "application/xml"),
        ],
        Some(xml.as_bytes()),
    )
    .await;
    assert_eq!(xml_answer.status, 200);
    assert!(
        xml_answer
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/xml"))
    );
    let text = xml_answer.text();
    assert!(
        text.contains("<DM2ContentIndexing_CheckCredentialResp "),
        "{text}"
    );
    assert!(text.contains(r#"token="QSDK "#), "{text}");
    assert!(
        text.contains(&format!(r#"userName="{DEMO_USERNAME}""#)),
        "{text}"
    );
    assert_eq!(sim.logins(), 2);
}

#[tokio::test]
async fn plain_text_and_wrong_passwords_do_not_log_in() {
    let (sim, addr) = start().await;
    let attempts = [
        json!({"username": DEMO_USERNAME, "password": DEMO_PASSWORD}),
        json!({"username": DEMO_USERNAME, "password": "d3Jvbmc="}),
        json!({"username": "nobody", "password": DEMO_PASSWORD_B64}),
        json!({"username": DEMO_USERNAME, "password": DEMO_PASSWORD_B64, "domain": "corp"}),
        json!({"username": DEMO_USERNAME}),
    ];
    for attempt in &attempts {
        let r = post_json(addr, &path("Login"), None, attempt).await;
        assert_eq!(r.status, 200, "failures are reported in the body");
        let body = r.json();
        assert!(body.get("token").is_none(), "{attempt} must not log in");
        let message = body["errList"][0]["errLogMessage"]
            .as_str()
            .expect("errList[0].errLogMessage, as cvpysdk reads it");
        assert!(!message.is_empty());
        assert!(!r.text().contains(DEMO_PASSWORD));
    }
    let wrong = post_json(
        addr,
        &path("Login"),
        None,
        &json!({"username": DEMO_USERNAME, "password": "d3Jvbmc="}),
    )
    .await
    .json();
    assert_eq!(wrong["errList"][0]["errorCode"], 7);
    assert_eq!(
        wrong["errList"][0]["errLogMessage"],
        "Invalid Username or Password"
    );
    let garbage = call(
        addr,
        "POST",
        &path("Login"),
        None,
        Some("application/json"),
        Some(b"{not json"),
    )
    .await;
    assert_eq!(garbage.json()["errList"][0]["errorCode"], 1);
    assert_eq!((sim.logins(), sim.failed_logins()), (0, 7));
}

#[tokio::test]
async fn calls_without_a_live_token_get_401() {
    let (sim, addr) = start().await;
    let orgs = path("Organization");

    let none = call(addr, "GET", &orgs, None, None, None).await;
    assert_eq!(none.status, 401);
    assert!(none.json()["errorMessage"].is_string());

    let secret = "QSDK 0123456789abcdef-not-issued";
    let bad = get(addr, &orgs, secret).await;
    assert_eq!(bad.status, 401);
    assert!(!bad.text().contains(secret));

    // The token is used verbatim: the bare hex without `QSDK ` is not a token.
    let token = login(addr, "d").await;
    assert_eq!(get(addr, &orgs, &token).await.status, 200);
    let bare = token.trim_start_matches("QSDK ");
    assert_eq!(get(addr, &orgs, bare).await.status, 401);

    // Logout ends the session.
    let out = call(addr, "POST", &path("Logout"), Some(&token), None, None).await;
    assert_eq!((out.status, out.text().as_str()), (200, "User logged out"));
    assert_eq!(get(addr, &orgs, &token).await.status, 401);
    assert_eq!(
        post_json(addr, &path("WhoAmI"), Some(&token), &json!({}))
            .await
            .status,
        401
    );

    // No token travels into the request log's answers or the error bodies.
    for r in sim.server().requests() {
        assert!(!r.path.contains("QSDK"));
    }
}

#[tokio::test]
async fn idle_tokens_expire_and_use_resets_the_timer() {
    let (_sim, addr) = start_with(CommvaultConfig {
        token_idle_timeout: Duration::from_millis(600),
        ..CommvaultConfig::default()
    })
    .await;
    let token = login(addr, "d").await;
    let orgs = path("Organization");
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(
            get(addr, &orgs, &token).await.status,
            200,
            "each use resets the idle timer"
        );
    }
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(get(addr, &orgs, &token).await.status, 401);
}

#[tokio::test]
async fn renewal_replaces_the_token() {
    let (sim, addr) = start().await;
    let orgs = path("Organization");
    let old = login(addr, "laptop-1").await;

    let renewed = post_json(
        addr,
        &path("RenewLoginToken"),
        Some(&old),
        &json!({"sessionId": old, "deviceId": "laptop-1"}),
    )
    .await;
    assert_eq!(renewed.status, 200);
    let new = renewed.json()["token"].as_str().expect("token").to_owned();
    assert!(new.starts_with("QSDK ") && new != old);
    assert_eq!(
        get(addr, &orgs, &old).await.status,
        401,
        "the old token dies"
    );
    assert_eq!(get(addr, &orgs, &new).await.status, 200);
    assert_eq!(sim.renewals(), 1);

    // After expiry (cvpysdk renews on 401), the same device may renew; another may not.
    sim.expire_all_tokens();
    assert_eq!(get(addr, &orgs, &new).await.status, 401);
    let stranger = post_json(
        addr,
        &path("RenewLoginToken"),
        None,
        &json!({"sessionId": new, "deviceId": "laptop-2"}),
    )
    .await;
    assert_eq!(stranger.status, 200);
    assert_eq!(stranger.json()["error"]["errorCode"], 8);
    assert!(stranger.json()["error"]["errLogMessage"].is_string());
    let again = post_json(
        addr,
        &path("RenewLoginToken"),
        Some(&new),
        &json!({"sessionId": new, "deviceId": "laptop-1"}),
    )
    .await
    .json();
    let third = again["token"].as_str().expect("renewed after expiry");
    assert_eq!(get(addr, &orgs, third).await.status, 200);
    assert_eq!(sim.renewals(), 2);

    // A token without a device id (issue_token, for static-authtoken setups) works until it
    // dies, and cannot be renewed after.
    let issued = sim.issue_token("Admin").expect("configured user");
    assert_eq!(get(addr, &orgs, &issued).await.status, 200);
    assert!(sim.issue_token("nobody").is_none());
    sim.expire_all_tokens();
    let dead = post_json(
        addr,
        &path("RenewLoginToken"),
        None,
        &json!({"sessionId": issued, "deviceId": "x"}),
    )
    .await
    .json();
    assert!(dead.get("token").is_none());

    // The knob refuses every renewal, even of a live token.
    let live = login(addr, "laptop-1").await;
    sim.set_renewal_allowed(false);
    let refused = post_json(
        addr,
        &path("RenewLoginToken"),
        Some(&live),
        &json!({"sessionId": live, "deviceId": "laptop-1"}),
    )
    .await
    .json();
    assert_eq!(refused["error"]["errorCode"], 8);
    assert_eq!(get(addr, &orgs, &live).await.status, 200, "still live");
    sim.set_renewal_allowed(true);
    let allowed = post_json(
        addr,
        &path("RenewLoginToken"),
        Some(&live),
        &json!({"sessionId": live, "deviceId": "laptop-1"}),
    )
    .await
    .json();
    assert!(allowed["token"].is_string());
    assert_eq!(sim.renewals(), 3);
    assert_eq!(sim.logins(), 2);
}

#[tokio::test]
async fn the_list_pages_filters_sorts_and_projects() {
    let (sim, addr) = start().await;
    let t = login(addr, "d").await;

    let all = get(addr, &path("Organization"), &t).await.json();
    assert_eq!(all["filterQueryCount"], 5);
    let providers = all["providers"].as_array().expect("providers");
    let ids: Vec<u64> = providers
        .iter()
        .map(|p| p["shortName"]["id"].as_u64().expect("id"))
        .collect();
    assert_eq!(ids, vec![1, 7, 12, 23, 31]);
    assert_eq!(ids, sim.org_ids());
    let acme = &providers[1];
    assert_eq!(acme["connectName"], "Acme");
    assert_eq!(acme["shortName"]["domainName"], "acme");
    assert_eq!(acme["serviceType"], 5);
    assert_eq!(acme["enabled"], true);
    assert_eq!(acme["primaryContacts"][0]["fullName"], "Jo Admin");
    assert!(acme["primaryContacts"][0]["user"]["userName"].is_string());
    assert!(acme["providerGUID"].is_string());
    assert!(acme["flags"].is_object());
    assert_eq!(acme["associatedEntitiesCount"], 48 + 50 + 2);
    assert_eq!(providers[3]["enabled"], false);
    assert_eq!(providers[3]["ownerCompanyName"], "Umbrella Health");

    let page = get(addr, &path("organization?start=2&limit=2"), &t)
        .await
        .json();
    assert_eq!(page["filterQueryCount"], 5, "the total counts every match");
    let names: Vec<&str> = page["providers"]
        .as_array()
        .expect("providers")
        .iter()
        .map(|p| p["connectName"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["Globex", "Initech"]);

    let fl = get(
        addr,
        &path("organization?Fl=providers.associatedEntitiesCount,providers.shortName,providers.connectName"),
        &t,
    )
    .await
    .json();
    assert_eq!(
        fl["providers"][0],
        json!({"associatedEntitiesCount": 12 + 3 + 2, "shortName": {"id": 1, "domainName": "company001"},
               "connectName": "Company001"})
    );

    let sorted = get(
        addr,
        &path("organization?fl=providers.connectName&sort=providers.associatedEntitiesCount:-1&limit=1"),
        &t,
    )
    .await
    .json();
    assert_eq!(
        sorted["providers"],
        json!([{"connectName": "Umbrella Health"}])
    );

    let filtered = get(
        addr,
        &path("organization?fq=providers.canCreateCompanies:eq:false&fq=providers.connectName:contains:o"),
        &t,
    )
    .await
    .json();
    assert_eq!(filtered["filterQueryCount"], 2, "{filtered}"); // Company001, Globex
    let searched = get(
        addr,
        &path("organization?search=providers.connectName,providers.primaryContacts.fullName:contains:lumbergh"),
        &t,
    )
    .await
    .json();
    assert_eq!(searched["providers"][0]["connectName"], "Initech");
    assert_eq!(searched["filterQueryCount"], 1);

    for bad in [
        "limit=ten",
        "start=-1",
        "sort=providers.connectName:up",
        "fq=x:like:y",
    ] {
        let r = get(addr, &path(&format!("organization?{bad}")), &t).await;
        assert_eq!(r.status, 200, "{bad}");
        assert_eq!(r.json()["errorCode"], 1, "{bad}: {}", r.text());
        assert!(r.json()["errorMessage"].is_string());
    }
}

#[tokio::test]
async fn one_organization_has_the_documented_shape() {
    let (sim, addr) = start().await;
    let t = login(addr, "d").await;

    let acme = get(addr, &path("Organization/7"), &t).await.json();
    assert_eq!(Some(&acme), sim.org(7).as_ref());
    let info = &acme["organizationInfo"];
    let org = &info["organization"];
    assert_eq!(org["connectName"], "Acme");
    assert_eq!(org["shortName"], json!({"id": 7, "domainName": "acme"}));
    assert_eq!(org["enabled"], true);
    assert!(org["description"].is_string());
    assert_eq!(org["emailDomainNames"], json!(["acme.example"]));
    assert_eq!(
        org["deactivateOptions"],
        json!({"disableBackup": false, "disableRestore": false, "disableLogin": false})
    );
    let props = &info["organizationProperties"];
    assert_eq!(
        props["defaultPlans"],
        json!([{"plan": {"planId": 2, "planName": "Laptop plan"}, "subtype": 33554439}])
    );
    assert_eq!(props["userCount"], 48);
    assert_eq!(props["totalMachineCount"], 50);
    assert_eq!(props["serverCount"], 9);
    assert_eq!(props["physicalDeviceCount"], 44);
    assert_eq!(props["orgCreationDateTime"], 1_591_106_700, "epoch seconds");
    assert_eq!(props["canCreateCompanies"], false);
    assert_eq!(props["primaryContacts"][0]["fullName"], "Jo Admin");
    assert_eq!(props["enableAuthCodeGen"], true);
    assert_eq!(props["authCode"], orgway_sim::commvault::ACME_AUTH_CODE);
    assert_eq!(
        info["planDetails"],
        json!([{"plan": {"planId": 2, "planName": "Laptop plan"}},
               {"plan": {"planId": 3, "planName": "Gold backup"}}])
    );

    let initech = sim.org(23).expect("initech");
    assert_eq!(
        initech["organizationInfo"]["organization"]["deactivateOptions"]["disableLogin"],
        true
    );
    assert!(sim.org(99).is_none());

    let missing = get(addr, &path("Organization/99"), &t).await;
    assert_eq!(missing.status, 200);
    assert_eq!(
        missing.json(),
        json!({"errorCode": 2, "errorMessage": "Organization [99] does not exist"})
    );
    assert_eq!(
        get(addr, &path("Organization/acme"), &t).await.json()["errorCode"],
        1
    );

    let commcell = get(addr, &path("Organization/0/defaultplan"), &t)
        .await
        .json();
    assert_eq!(
        commcell["organizationInfo"]["organizationProperties"]["defaultPlans"],
        json!([{"plan": {"planId": 1, "planName": "Server plan"}, "subtype": 33554437}])
    );
    let acme_defaults = get(addr, &path("Organization/7/defaultplan"), &t)
        .await
        .json();
    assert_eq!(
        acme_defaults["organizationInfo"]["organization"]["connectName"],
        "Acme"
    );

    let plans = get(addr, &path("V2/Plan"), &t).await.json();
    let listed = plans["plans"].as_array().expect("plans");
    assert!(listed.len() >= 5);
    assert_eq!(listed[0]["plan"]["planId"], 1);
    assert_eq!(listed[0]["plan"]["planName"], "Server plan");
    assert!(listed[0]["plan"]["entityInfo"]["companyName"].is_string());
    let plan = get(addr, &path("V2/Plan/2"), &t).await.json();
    assert_eq!(plan["plan"]["summary"]["plan"]["planName"], "Laptop plan");
    assert_eq!(plan["plan"]["summary"]["subtype"], 33554439);
    assert_eq!(
        get(addr, &path("V2/Plan/999"), &t).await.json()["errorCode"],
        3
    );

    let groups = get(addr, &path("UserGroup?parentProvider/providerId=7"), &t)
        .await
        .json();
    let names: Vec<&str> = groups["userGroups"]
        .as_array()
        .expect("userGroups")
        .iter()
        .map(|g| {
            g["userGroupEntity"]["userGroupName"]
                .as_str()
                .expect("name")
        })
        .collect();
    assert_eq!(names, ["acme\\Tenant Admin", "acme\\Tenant Users"]);
}

#[tokio::test]
async fn xml_put_adds_deletes_and_sets_default_plans() {
    let (sim, addr) = start().await;
    let t = login(addr, "d").await;

    // The seed's first example, verbatim: associate a plan.
    let add = "<Api_UpdateOrganizationPropertiesRequest> <organizationInfo planDetailsOperationType=\"ADD\"> <planDetails> <plan planName=\"Laptop plan\" /> </planDetails> <organization> <shortName domainName=\"company001\" id=\"1\" /> </organization> </organizationInfo>\n</Api_UpdateOrganizationPropertiesRequest>";
    assert_eq!(put_xml(addr, &t, add).await, ok());
    let org = sim.org(1).expect("company001");
    assert_eq!(plan_names(&org), ["Server plan", "Laptop plan"]);
    assert!(default_names(&org).is_empty());

    // The seed's second example, verbatim: make it the default.
    let default = "<Api_UpdateOrganizationPropertiesRequest> <organizationInfo> <organization> <shortName domainName=\"company001\" id=\"1\" /> </organization> <organizationProperties defaultPlansOperationType=\"ADD\"> <defaultPlans> <plan planName=\"Laptop plan\" /> </defaultPlans> </organizationProperties> </organizationInfo>\n</Api_UpdateOrganizationPropertiesRequest>";
    assert_eq!(put_xml(addr, &t, default).await, ok());
    assert_eq!(default_names(&sim.org(1).expect("org")), ["Laptop plan"]);

    // DELETE dissociates, and the default goes with it.
    let delete = r#"<Api_UpdateOrganizationPropertiesRequest><organizationInfo planDetailsOperationType="DELETE"><planDetails><plan planName="Laptop plan"/></planDetails><organization><shortName id="1"/></organization></organizationInfo></Api_UpdateOrganizationPropertiesRequest>"#;
    assert_eq!(put_xml(addr, &t, delete).await, ok());
    let org = sim.org(1).expect("org");
    assert_eq!(plan_names(&org), ["Server plan"]);
    assert!(default_names(&org).is_empty());

    // OVERWRITE with two plans in one planDetails, the org found by its alias alone.
    let overwrite = r#"<?xml version="1.0"?><Api_UpdateOrganizationPropertiesRequest><organizationInfo planDetailsOperationType="OVERWRITE"><planDetails><plan planName="Gold backup"/><plan planName="Silver backup"/></planDetails><organization><shortName domainName="Company001"/></organization></organizationInfo></Api_UpdateOrganizationPropertiesRequest>"#;
    assert_eq!(put_xml(addr, &t, overwrite).await, ok());
    assert_eq!(
        plan_names(&sim.org(1).expect("org")),
        ["Gold backup", "Silver backup"]
    );
}

#[tokio::test]
async fn one_xml_request_may_associate_a_plan_and_make_it_the_default() {
    let (sim, addr) = start().await;
    let t = login(addr, "d").await;
    let both = r#"<Api_UpdateOrganizationPropertiesRequest>
  <organizationInfo planDetailsOperationType="ADD">
    <planDetails><plan planName="Bronze laptop"/></planDetails>
    <organization><shortName domainName="globex" id="12"/></organization>
    <organizationProperties defaultPlansOperationType="ADD">
      <defaultPlans><plan planName="Bronze laptop"/></defaultPlans>
    </organizationProperties>
  </organizationInfo>
</Api_UpdateOrganizationPropertiesRequest>"#;
    assert_eq!(put_xml(addr, &t, both).await, ok());
    let org = sim.org(12).expect("globex");
    assert_eq!(
        plan_names(&org),
        ["Server plan", "Silver backup", "Bronze laptop"]
    );
    assert_eq!(default_names(&org), ["Bronze laptop"]);
}

#[tokio::test]
async fn operations_apply_in_document_order_and_a_default_needs_its_plan() {
    let (sim, addr) = start().await;
    let t = login(addr, "d").await;
    // Acme's default plan, dissociated and then removed as a default in one body: when the
    // default-plan DELETE applies, the plan is no longer associated. Nothing changes.
    let both = r#"<Api_UpdateOrganizationPropertiesRequest><organizationInfo planDetailsOperationType="DELETE"><planDetails><plan planName="Laptop plan"/></planDetails><organization><shortName domainName="acme" id="7"/></organization><organizationProperties defaultPlansOperationType="DELETE"><defaultPlans><plan planName="Laptop plan"/></defaultPlans></organizationProperties></organizationInfo></Api_UpdateOrganizationPropertiesRequest>"#;
    let refused = put_xml(addr, &t, both).await;
    assert_eq!(error_code(&refused), 4, "{refused}");
    assert!(
        refused["error"]["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("so it cannot be a default plan")),
        "{refused}"
    );
    let org = sim.org(7).expect("acme");
    assert_eq!(plan_names(&org), ["Laptop plan", "Gold backup"]);
    assert_eq!(default_names(&org), ["Laptop plan"]);

    // The default first, then the association, in two requests: both succeed.
    let default = r#"<Api_UpdateOrganizationPropertiesRequest><organizationInfo><organization><shortName domainName="acme" id="7"/></organization><organizationProperties defaultPlansOperationType="DELETE"><defaultPlans><plan planName="Laptop plan"/></defaultPlans></organizationProperties></organizationInfo></Api_UpdateOrganizationPropertiesRequest>"#;
    assert_eq!(put_xml(addr, &t, default).await, ok());
    assert!(default_names(&sim.org(7).expect("acme")).is_empty());
    let association = r#"<Api_UpdateOrganizationPropertiesRequest><organizationInfo planDetailsOperationType="DELETE"><planDetails><plan planName="Laptop plan"/></planDetails><organization><shortName domainName="acme" id="7"/></organization></organizationInfo></Api_UpdateOrganizationPropertiesRequest>"#;
    assert_eq!(put_xml(addr, &t, association).await, ok());
    assert_eq!(plan_names(&sim.org(7).expect("acme")), ["Gold backup"]);

    // A default-plan DELETE for a plan the company does not have is refused too.
    assert_eq!(error_code(&put_xml(addr, &t, default).await), 4);
}

#[tokio::test]
async fn xml_metacharacters_in_plan_names_round_trip_exactly() {
    let (sim, addr) = start().await;
    let t = login(addr, "d").await;
    let id = sim.add_plan(NASTY_PLAN);
    assert_eq!(
        sim.add_plan(NASTY_PLAN),
        id,
        "adding the same name twice is one plan"
    );

    let xml = format!(
        r#"<Api_UpdateOrganizationPropertiesRequest><organizationInfo planDetailsOperationType="ADD"><planDetails><plan planName="{NASTY_PLAN_ESCAPED}"/></planDetails><organization><shortName id="7"/></organization><organizationProperties defaultPlansOperationType="ADD"><defaultPlans><plan planName="{NASTY_PLAN_ESCAPED}"/></defaultPlans></organizationProperties></organizationInfo></Api_UpdateOrganizationPropertiesRequest>"#
    );
    assert_eq!(put_xml(addr, &t, &xml).await, ok());
    let org = get(addr, &path("Organization/7"), &t).await.json();
    assert_eq!(plan_names(&org), ["Laptop plan", "Gold backup", NASTY_PLAN]);
    // The new server-type default replaces no laptop default: one default per plan type.
    assert_eq!(default_names(&org), ["Laptop plan", NASTY_PLAN]);
    let listed = get(addr, &path("V2/Plan"), &t).await.json();
    assert!(
        listed["plans"]
            .as_array()
            .expect("plans")
            .iter()
            .any(|p| p["plan"]["planName"] == NASTY_PLAN && p["plan"]["planId"] == id)
    );

    // The XML rendering escapes it again.
    let as_xml = send(
        addr,
        "GET",
        &path("Organization/7"),
        &[("Accept", "application/xml"), ("Authtoken", &t)],
        None,
    )
    .await;
    let text = as_xml.text();
    assert!(
        text.contains(&format!(r#"planName="{NASTY_PLAN_ESCAPED}""#)),
        "{text}"
    );
    assert!(!text.contains(NASTY_PLAN), "{text}");

    // The raw, unescaped name is not XML at all.
    let raw = format!(
        r#"<Api_UpdateOrganizationPropertiesRequest><organizationInfo planDetailsOperationType="ADD"><planDetails><plan planName="{NASTY_PLAN}"/></planDetails><organization><shortName id="12"/></organization></organizationInfo></Api_UpdateOrganizationPropertiesRequest>"#
    );
    assert_eq!(error_code(&put_xml(addr, &t, &raw).await), 1);
    assert!(!plan_names(&sim.org(12).expect("globex")).contains(&NASTY_PLAN.to_owned()));
}

#[tokio::test]
async fn json_put_takes_numeric_operations_and_the_query_id() {
    let (sim, addr) = start().await;
    let t = login(addr, "d").await;
    let target = path("Organization?organizationId=12");
    let org = |ops: Value| -> Value {
        let mut body = json!({"organizationInfo": {
            "organization": {"connectName": "Globex", "description": "",
                             "emailDomainNames": ["globex.example"],
                             "shortName": {"id": 12, "domainName": "globex"}},
            "organizationProperties": {}
        }});
        if let (Some(info), Value::Object(ops)) = (body["organizationInfo"].as_object_mut(), ops) {
            info.extend(ops);
        }
        body
    };

    // 2 = ADD (with cvpysdk's optional job start fields).
    let add = org(json!({"planDetailsOperationType": 2,
        "planDetails": [{"plan": {"planId": 2}, "jobStartTime": 0, "isStartTimeOverridden": true}]}));
    assert_eq!(put_json(addr, &t, &target, &add).await, ok());
    assert_eq!(
        plan_names(&sim.org(12).expect("org")),
        ["Server plan", "Silver backup", "Laptop plan"]
    );
    // 1 = OVERWRITE, as cvpysdk's `org.plans = [...]`.
    let overwrite = org(json!({"planDetailsOperationType": 1,
        "planDetails": [{"plan": {"planId": 3}}, {"plan": {"planId": 2}}]}));
    assert_eq!(put_json(addr, &t, &target, &overwrite).await, ok());
    assert_eq!(
        plan_names(&sim.org(12).expect("org")),
        ["Gold backup", "Laptop plan"]
    );
    // Default plans as cvpysdk's `default_plan` setter sends them (no operation type).
    let default = org(json!({"organizationProperties": {"defaultPlans": [
        {"plan": {"planId": 2, "planName": "Laptop plan"}, "subtype": 33554439}]}}));
    assert_eq!(put_json(addr, &t, &target, &default).await, ok());
    assert_eq!(default_names(&sim.org(12).expect("org")), ["Laptop plan"]);
    // 3 = DELETE, as cvpysdk's `dissociate_plans`.
    let delete =
        org(json!({"planDetailsOperationType": 3, "planDetails": [{"plan": {"planId": 2}}]}));
    assert_eq!(put_json(addr, &t, &target, &delete).await, ok());
    let now = sim.org(12).expect("org");
    assert_eq!(plan_names(&now), ["Gold backup"]);
    assert!(default_names(&now).is_empty());

    // Renames and other properties.
    let mut rename = org(json!({"organizationProperties": {"loginSessionTimeoutInMinutes": 45}}));
    rename["newCompanyName"] = json!("Globex Corporation");
    rename["newAliasName"] = json!("globexcorp");
    rename["organizationInfo"]["organization"]["emailDomainNames"] =
        json!(["globex.example", "gx.example"]);
    assert_eq!(put_json(addr, &t, &target, &rename).await, ok());
    let now = sim.org(12).expect("org");
    let info = &now["organizationInfo"];
    assert_eq!(info["organization"]["connectName"], "Globex Corporation");
    assert_eq!(
        info["organization"]["shortName"]["domainName"],
        "globexcorp"
    );
    assert_eq!(
        info["organization"]["emailDomainNames"],
        json!(["globex.example", "gx.example"])
    );
    assert_eq!(
        info["organizationProperties"]["loginSessionTimeoutInMinutes"],
        45
    );

    // The CommCell's default plan, as cvpysdk's `set_default_plan` sends it.
    let commcell = json!({"organizationInfo": {"organization": {"shortName": {"id": 0}},
        "organizationProperties": {"defaultPlansOperationType": 1,
                                   "defaultPlans": [{"plan": {"planName": "Gold backup"}}]}}});
    assert_eq!(
        put_json(addr, &t, &path("organization"), &commcell).await,
        ok()
    );
    let defaults = get(addr, &path("Organization/0/defaultplan"), &t)
        .await
        .json();
    assert_eq!(
        defaults["organizationInfo"]["organizationProperties"]["defaultPlans"][0]["plan"]["planName"],
        "Gold backup"
    );
}

#[tokio::test]
async fn put_failures_come_in_the_body_with_http_200() {
    let (sim, addr) = start().await;
    let t = login(addr, "d").await;
    let before: Vec<Value> = sim
        .org_ids()
        .into_iter()
        .filter_map(|id| sim.org(id))
        .collect();

    let unknown_org = r#"<Api_UpdateOrganizationPropertiesRequest><organizationInfo planDetailsOperationType="ADD"><planDetails><plan planName="Laptop plan"/></planDetails><organization><shortName id="99"/></organization></organizationInfo></Api_UpdateOrganizationPropertiesRequest>"#;
    assert_eq!(
        put_xml(addr, &t, unknown_org).await,
        json!({"error": {"errorCode": 2, "errorMessage": "Organization [99] does not exist"}})
    );
    let unknown_plan = r#"<Api_UpdateOrganizationPropertiesRequest><organizationInfo planDetailsOperationType="ADD"><planDetails><plan planName="Platinum"/></planDetails><organization><shortName id="7"/></organization></organizationInfo></Api_UpdateOrganizationPropertiesRequest>"#;
    assert_eq!(
        put_xml(addr, &t, unknown_plan).await,
        json!({"error": {"errorCode": 3, "errorMessage": "Plan [Platinum] does not exist"}})
    );
    let not_associated = r#"<Api_UpdateOrganizationPropertiesRequest><organizationInfo><organization><shortName id="7"/></organization><organizationProperties defaultPlansOperationType="ADD"><defaultPlans><plan planName="Silver backup"/></defaultPlans></organizationProperties></organizationInfo></Api_UpdateOrganizationPropertiesRequest>"#;
    let refused = put_xml(addr, &t, not_associated).await;
    assert_eq!(error_code(&refused), 4);
    assert_eq!(
        refused["error"]["errorMessage"],
        "Plan [Silver backup] is not associated with the company [Acme], so it cannot be a default plan"
    );
    // A good association in the same request as a bad default: nothing changes.
    let half_good = r#"<Api_UpdateOrganizationPropertiesRequest><organizationInfo planDetailsOperationType="ADD"><planDetails><plan planName="Server plan"/></planDetails><organization><shortName id="7"/></organization><organizationProperties defaultPlansOperationType="ADD"><defaultPlans><plan planName="Silver backup"/></defaultPlans></organizationProperties></organizationInfo></Api_UpdateOrganizationPropertiesRequest>"#;
    assert_eq!(error_code(&put_xml(addr, &t, half_good).await), 4);

    for malformed in [
        "<Api_UpdateOrganizationPropertiesRequest><organizationInfo>",
        "<Wrong_Root/>",
        r#"<Api_UpdateOrganizationPropertiesRequest><organizationInfo planDetailsOperationType="MERGE"><organization><shortName id="7"/></organization></organizationInfo></Api_UpdateOrganizationPropertiesRequest>"#,
        r#"<Api_UpdateOrganizationPropertiesRequest><organizationInfo><planDetails><plan planName="Laptop plan"/></planDetails><organization><shortName id="7"/></organization></organizationInfo></Api_UpdateOrganizationPropertiesRequest>"#,
        "<Api_UpdateOrganizationPropertiesRequest/>",
    ] {
        let body = put_xml(addr, &t, malformed).await;
        assert_eq!(error_code(&body), 1, "{malformed}: {body}");
    }
    let bad_json = call(
        addr,
        "PUT",
        &path("Organization?organizationId=7"),
        Some(&t),
        Some("application/json"),
        Some(b"{\"organizationInfo\": "),
    )
    .await;
    assert_eq!(bad_json.status, 200);
    assert_eq!(error_code(&bad_json.json()), 1);
    let mismatch = put_json(
        addr,
        &t,
        &path("Organization?organizationId=12"),
        &json!({"organizationInfo": {"organization": {"shortName": {"id": 7}}}}),
    )
    .await;
    assert_eq!(error_code(&mismatch), 1);
    let clash = put_json(
        addr,
        &t,
        &path("Organization?organizationId=12"),
        &json!({"newAliasName": "ACME"}),
    )
    .await;
    assert_eq!(error_code(&clash), 6);

    let after: Vec<Value> = sim
        .org_ids()
        .into_iter()
        .filter_map(|id| sim.org(id))
        .collect();
    assert_eq!(before, after, "failed updates change nothing");
}

#[tokio::test]
async fn paths_ignore_case_under_both_roots() {
    let (_sim, addr) = start().await;
    for root in ["/webconsole/api", "/commandcenter/api", "/WebConsole/API/"] {
        let r = call(addr, "GET", root, None, None, None).await;
        assert_eq!(r.status, 200, "{root}");
    }
    let t = login(addr, "d").await;
    for target in [
        "/commandcenter/api/Organization/7",
        "/webconsole/api/organization/7",
        "/CommandCenter/Api/ORGANIZATION/7/",
    ] {
        let r = get(addr, target, &t).await;
        assert_eq!(r.status, 200, "{target}");
        assert_eq!(
            r.json()["organizationInfo"]["organization"]["connectName"],
            "Acme"
        );
    }
    let cc_login = post_json(
        addr,
        "/commandcenter/api/login",
        None,
        &json!({"username": DEMO_USERNAME, "password": DEMO_PASSWORD_B64}),
    )
    .await;
    assert!(cc_login.json()["token"].is_string());

    // Unknown routes and methods: the web server's HTML pages, before any token check.
    let unknown = call(
        addr,
        "GET",
        &path("Organization/7/action/lock"),
        None,
        None,
        None,
    )
    .await;
    assert_eq!(unknown.status, 404);
    assert!(unknown.text().contains("<title>404 Not Found</title>"));
    assert_eq!(
        call(addr, "GET", "/api/Organization", None, None, None)
            .await
            .status,
        404
    );
    let wrong = call(addr, "DELETE", &path("Organization"), Some(&t), None, None).await;
    assert_eq!(wrong.status, 405);
    assert!(
        wrong
            .header("content-type")
            .is_some_and(|c| c.starts_with("text/html"))
    );
}

#[tokio::test]
async fn accept_xml_gets_xml() {
    let (_sim, addr) = start().await;
    let t = login(addr, "d").await;
    let xml_headers = [("Accept", "application/xml"), ("Authtoken", t.as_str())];

    // Attribute order follows the JSON object's, which is not part of the contract: check
    // elements and attributes one by one.
    let who = send(addr, "POST", &path("WhoAmI"), &xml_headers, None).await;
    assert!(
        who.header("content-type")
            .is_some_and(|c| c.starts_with("application/xml"))
    );
    let text = who.text();
    assert!(text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?><CvEntities_ProcessingInstructionInfo errorCode=\"0\"><user "), "{text}");
    assert!(
        text.contains(&format!(" userName=\"{DEMO_USERNAME}\"")),
        "{text}"
    );
    assert!(
        text.ends_with("/></CvEntities_ProcessingInstructionInfo>"),
        "{text}"
    );

    let list = send(
        addr,
        "GET",
        &path("Organization?limit=1"),
        &xml_headers,
        None,
    )
    .await;
    let text = list.text();
    assert!(
        text.contains("<Api_GetOrganizationsResp filterQueryCount=\"5\">"),
        "{text}"
    );
    assert_eq!(text.matches("<providers ").count(), 1, "{text}");
    assert!(text.contains("<shortName "), "{text}");
    assert!(text.contains(" domainName=\"company001\""), "{text}");

    let put = send(
        addr,
        "PUT",
        &path("Organization"),
        &[
            ("Accept", "application/xml"),
            ("Authtoken", t.as_str()),
            ("Content-Type", "application/xml"),
        ],
        Some(br#"<Api_UpdateOrganizationPropertiesRequest><organizationInfo planDetailsOperationType="ADD"><planDetails><plan planName="Nope"/></planDetails><organization><shortName id="1"/></organization></organizationInfo></Api_UpdateOrganizationPropertiesRequest>"#),
    )
    .await;
    assert_eq!(put.status, 200);
    let text = put.text();
    assert!(text.contains("<App_GenericResp><error "), "{text}");
    assert!(text.contains(" errorCode=\"3\""), "{text}");
    assert!(
        text.contains(" errorMessage=\"Plan [Nope] does not exist\""),
        "{text}"
    );
}

#[tokio::test]
async fn faults_look_like_commvault_failures() {
    let (sim, addr) = start().await;
    let t = login(addr, "d").await;
    let target = path("Organization");

    sim.server().faults().set(FaultPlan {
        status: Some(503),
        remaining: Some(1),
        ..FaultPlan::default()
    });
    let forced = get(addr, &target, &t).await;
    assert_eq!(forced.status, 503);
    assert_eq!(
        forced.json(),
        json!({"errorCode": 503, "errorMessage": "Service Unavailable"})
    );
    assert_eq!(get(addr, &target, &t).await.status, 200, "one request only");

    sim.server().faults().set(FaultPlan {
        malformed_body: true,
        remaining: Some(1),
        ..FaultPlan::default()
    });
    let broken = get(addr, &target, &t).await;
    assert_eq!(broken.status, 200);
    assert!(
        broken
            .header("content-type")
            .is_some_and(|c| c.starts_with("text/html"))
    );
    assert!(serde_json::from_slice::<Value>(&broken.body).is_err());
    assert!(broken.text().contains("<title>"));

    // Through the control endpoint, as a running demo would be driven.
    let plan = br#"{"status": 500, "malformedBody": true}"#;
    let set = send(addr, "PUT", "/_sim/faults", &[], Some(plan)).await;
    assert_eq!(set.status, 204);
    let both = get(addr, &target, &t).await;
    assert_eq!(both.status, 500);
    assert!(both.text().contains("<title>HTTP Status 500"));
    assert_eq!(
        send(addr, "DELETE", "/_sim/faults", &[], None).await.status,
        204
    );
    assert_eq!(get(addr, &target, &t).await.status, 200);

    // Latency delays without changing the answer.
    sim.server().faults().set(FaultPlan {
        latency_ms: 150,
        remaining: Some(1),
        ..FaultPlan::default()
    });
    let started = std::time::Instant::now();
    assert_eq!(get(addr, &target, &t).await.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(150));
}
