//! Pure conversions between the Access Service's shapes and orgway's model, both ways: numbers
//! sent as strings of digits, MiB to bytes, a plan list merged from the plan statistics and the
//! plan details, usage from the storage and user statistics, the organisation update body, and
//! the token endpoint's form and answer. No I/O.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use orgway_core::text::excerpt;
use orgway_core::{
    Assignees, BackendError, Org, OrgPatch, Patch, Plan, Quota, Unit, UsageMetric, UsageSummary,
};
use serde_json::{Map, Value, json};

use crate::config::Client;
use crate::wire::{
    List, Organisation, PlanDetails, PlanStatistics, StorageStatistics, TokenAnswer, UserStatistics,
};

/// Bytes in a mebibyte, the unit of every Cocoon quota.
pub const MIB: u64 = 1_048_576;

/// Checks a native organisation id (a positive number of at most 19 digits; Cocoon's are
/// 18-digit strings) and returns its canonical spelling.
pub fn canonical_id(raw: &str) -> Result<String, String> {
    let ok = !raw.is_empty() && raw.len() <= 19 && raw.bytes().all(|b| b.is_ascii_digit());
    match ok.then(|| raw.parse::<u64>().ok()).flatten() {
        Some(n) if n > 0 => Ok(n.to_string()),
        _ => Err(format!(
            "`{}` is not a Cocoon organisation id (a string of digits)",
            excerpt(raw, 64)
        )),
    }
}

/// A value as the message about it shows it: its JSON text, cut short.
fn shown(v: &Value) -> String {
    excerpt(&v.to_string(), 64)
}

/// Reads a whole non-negative number the vendor sends as a string of digits (`"4096"`), or as
/// a JSON number. Anything else is `backend_bad_response` naming `field` (written as the
/// message says it: `` `quota` of plan 7567… ``).
pub fn digits(backend: &str, field: &str, v: &Value) -> Result<u64, BackendError> {
    let n = match v {
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse::<u64>().ok()
        }
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 9.0e15)
                .map(|f| f as u64)
        }),
        _ => None,
    };
    n.ok_or_else(|| {
        BackendError::bad_response(format!(
            "{backend} sent {} as {field}, which is not a whole number (a string of digits)",
            shown(v)
        ))
    })
}

/// [`digits`] of a member that may be absent (or `null`).
pub fn optional_digits(
    backend: &str,
    field: &str,
    v: Option<&Value>,
) -> Result<Option<u64>, BackendError> {
    v.map(|v| digits(backend, field, v)).transpose()
}

/// An id (a string of digits), required, in its canonical spelling.
pub fn id(backend: &str, field: &str, v: Option<&Value>) -> Result<String, BackendError> {
    let v = v.ok_or_else(|| {
        BackendError::bad_response(format!("{backend} sent {field} without an `id`"))
    })?;
    Ok(digits(backend, &format!("the `id` of {field}"), v)?.to_string())
}

/// A quota in MiB as bytes.
pub fn mib_to_bytes(backend: &str, field: &str, mib: u64) -> Result<u64, BackendError> {
    mib.checked_mul(MIB).ok_or_else(|| {
        BackendError::bad_response(format!(
            "{backend} sent {mib} MiB as {field}, more bytes than orgway can count"
        ))
    })
}

/// The items of a list, under `items` (the seed's example) or `item` (its prose), after
/// checking that `count` and `offset`, when sent, are whole numbers. `what` names the list.
pub fn items(backend: &str, what: &str, list: List) -> Result<Vec<Value>, BackendError> {
    optional_digits(backend, &format!("`count` of {what}"), list.count.as_ref())?;
    optional_digits(
        backend,
        &format!("`offset` of {what}"),
        list.offset.as_ref(),
    )?;
    list.items
        .or(list.item)
        .ok_or_else(|| BackendError::bad_response(format!("{backend} sent {what} without `items`")))
}

fn non_empty(s: Option<&String>) -> Option<String> {
    s.filter(|s| !s.trim().is_empty()).cloned()
}

/// An organisation. Cocoon reports no status, parent, plan, dates or counters of its own.
pub fn org_from_wire(
    backend: &str,
    w: &Organisation,
    raw: Option<Value>,
) -> Result<Org, BackendError> {
    let native_id = id(
        backend,
        "an organisation",
        w.id.as_ref().or(w.org_group_id.as_ref()),
    )?;
    let mut org = Org::bare(native_id);
    org.name = non_empty(w.name.as_ref());
    org.description = non_empty(w.description.as_ref());
    org.raw = raw;
    Ok(org)
}

/// Who is on a plan, from the statistics' four counters, when all four are there.
///
/// The documents do not say whether the users who used storage
/// (`usedPlanQuotaOriginatorsCount`) include those over the quota
/// (`exceededPlanQuotaOriginatorsCount`); the figures do: when unused, used and exceeded add
/// up to the total the three are apart, otherwise (unused and used add up to it) the exceeded
/// are some of the used.
pub fn assignees(total: u64, unused: u64, used: u64, exceeded: u64) -> Assignees {
    let apart = exceeded > 0 && unused.saturating_add(used).saturating_add(exceeded) == total;
    Assignees {
        total,
        within_quota: if apart {
            used
        } else {
            used.saturating_sub(exceeded)
        },
        unused,
        over_quota: exceeded,
    }
}

fn storage_quota(bytes: u64) -> Quota {
    Quota {
        resource: "storage".to_owned(),
        limit: Some(bytes),
        unit: Unit::Bytes,
    }
}

/// The plans of an organisation: every plan of `…/statistics/plans` (which has "all current
/// plans") in its order, with its description and default flag from `…/plans` when that lists
/// it, then any plan only `…/plans` lists (one created between the two reads). Quotas become
/// bytes, originator counts `assignees`. With `include_raw`, each plan's raw record is
/// `{"statistics": …, "plan": …}`, the two records it was made from (`null` where one is
/// missing).
pub fn plans(
    backend: &str,
    statistics: &[Value],
    details: &[Value],
    include_raw: bool,
) -> Result<Vec<Plan>, BackendError> {
    let mut known: Vec<(String, PlanDetails, &Value)> = Vec::with_capacity(details.len());
    for v in details {
        let d: PlanDetails = orgway_core::call::from_value(backend, "a plan", v)?;
        known.push((id(backend, "a plan", d.id.as_ref())?, d, v));
    }
    let mut merged = vec![false; known.len()];
    let mut out = Vec::with_capacity(statistics.len().max(known.len()));
    for v in statistics {
        let s: PlanStatistics = orgway_core::call::from_value(backend, "a plan statistic", v)?;
        let plan_id = id(backend, "a plan statistic", s.id.as_ref())?;
        let d = known.iter().position(|(i, _, _)| *i == plan_id).map(|i| {
            merged[i] = true;
            (&known[i].1, known[i].2)
        });
        out.push(plan(backend, plan_id, Some((&s, v)), d, include_raw)?);
    }
    for ((plan_id, d, v), merged) in known.iter().zip(merged) {
        if !merged {
            out.push(plan(
                backend,
                plan_id.clone(),
                None,
                Some((d, v)),
                include_raw,
            )?);
        }
    }
    Ok(out)
}

/// One plan from its statistics and its details (each with its raw record), either of which
/// may be missing.
fn plan(
    backend: &str,
    plan_id: String,
    statistics: Option<(&PlanStatistics, &Value)>,
    details: Option<(&PlanDetails, &Value)>,
    include_raw: bool,
) -> Result<Plan, BackendError> {
    let (s, d) = (statistics.map(|(s, _)| s), details.map(|(d, _)| d));
    let of = |m: &str| format!("`{m}` of plan {plan_id}");
    let quota = s
        .and_then(|s| s.quota.as_ref())
        .or(d.and_then(|d| d.quota.as_ref()));
    let quotas = match quota {
        Some(q) => {
            let mib = digits(backend, &of("quota"), q)?;
            vec![storage_quota(mib_to_bytes(backend, &of("quota"), mib)?)]
        }
        None => Vec::new(),
    };
    let assignees = match s {
        Some(s) => {
            let count = |m: &str, v: &Option<Value>| optional_digits(backend, &of(m), v.as_ref());
            match (
                count("originatorsCount", &s.originators_count)?,
                count(
                    "unusedPlanQuotaOriginatorsCount",
                    &s.unused_plan_quota_originators_count,
                )?,
                count(
                    "usedPlanQuotaOriginatorsCount",
                    &s.used_plan_quota_originators_count,
                )?,
                count(
                    "exceededPlanQuotaOriginatorsCount",
                    &s.exceeded_plan_quota_originators_count,
                )?,
            ) {
                (Some(t), Some(n), Some(u), Some(x)) => Some(assignees(t, n, u, x)),
                _ => None,
            }
        }
        None => None,
    };
    let raw_of = |r: Option<&Value>| r.cloned().unwrap_or(Value::Null);
    Ok(Plan {
        name: s
            .and_then(|s| non_empty(s.name.as_ref()))
            .or_else(|| d.and_then(|d| non_empty(d.name.as_ref()))),
        description: d.and_then(|d| non_empty(d.description.as_ref())),
        is_default: d.and_then(|d| d.is_default),
        quotas,
        assignees,
        raw: include_raw.then(|| {
            json!({
                "statistics": raw_of(statistics.map(|(_, v)| v)),
                "plan": raw_of(details.map(|(_, v)| v)),
            })
        }),
        id: plan_id,
    })
}

/// `GET /v1/orgs/{org}/usage` from the storage statistics (`storage`: bytes used;
/// `storage-allocated` and `storage-required`: the MiB figures in bytes) and the user
/// statistics (users per role). A figure Cocoon does not send is not reported; a page with
/// none of its figures is not what orgway reads it as (its member names are orgway's reading,
/// see `wire::StorageStatistics`), and is `backend_bad_response`, not a usage with nothing in it.
pub fn usage(
    backend: &str,
    storage: &StorageStatistics,
    users: &UserStatistics,
    raw: Option<Value>,
) -> Result<UsageSummary, BackendError> {
    let none_of = |page: &str, members: &str| {
        BackendError::bad_response(format!(
            "{backend} sent {page} statistics with none of {members}"
        ))
    };
    if storage.used_storage.is_none()
        && storage.allocated_storage.is_none()
        && storage.required_storage.is_none()
    {
        return Err(none_of(
            "storage",
            "`usedStorage`, `allocatedStorage`, `requiredStorage`",
        ));
    }
    if users.originator_count.is_none()
        && users.collaborator_count.is_none()
        && users.organisation_admin_count.is_none()
    {
        return Err(none_of(
            "user",
            "`originatorCount`, `collaboratorCount`, `organisationAdminCount`",
        ));
    }
    let mut metrics = Vec::new();
    let field = |m: &str| format!("`{m}` of the storage statistics");
    if let Some(used) = optional_digits(
        backend,
        &field("usedStorage"),
        storage.used_storage.as_ref(),
    )? {
        metrics.push(UsageMetric {
            metric: "storage".to_owned(),
            value: used,
            unit: Unit::Bytes,
        });
    }
    for (metric, member, v) in [
        (
            "storage-allocated",
            "allocatedStorage",
            &storage.allocated_storage,
        ),
        (
            "storage-required",
            "requiredStorage",
            &storage.required_storage,
        ),
    ] {
        if let Some(mib) = optional_digits(backend, &field(member), v.as_ref())? {
            metrics.push(UsageMetric {
                metric: metric.to_owned(),
                value: mib_to_bytes(backend, &field(member), mib)?,
                unit: Unit::Bytes,
            });
        }
    }
    for (metric, member, v) in [
        ("originators", "originatorCount", &users.originator_count),
        (
            "collaborators",
            "collaboratorCount",
            &users.collaborator_count,
        ),
        (
            "organisation-admins",
            "organisationAdminCount",
            &users.organisation_admin_count,
        ),
    ] {
        let f = format!("`{member}` of the user statistics");
        if let Some(value) = optional_digits(backend, &f, v.as_ref())? {
            metrics.push(UsageMetric {
                metric: metric.to_owned(),
                value,
                unit: Unit::Count,
            });
        }
    }
    Ok(UsageSummary { metrics, raw })
}

/// The body of `PUT /api/v1/organisations/{orgGroupId}` for a patch: only the members it
/// changes. Cocoon has no null description; the empty string removes one.
pub fn update_body(patch: &OrgPatch) -> Result<Value, BackendError> {
    let mut body = Map::new();
    match &patch.name {
        Patch::Keep => {}
        Patch::Set(n) => {
            body.insert("name".to_owned(), Value::from(n.as_str()));
        }
        Patch::Clear => {
            return Err(BackendError::invalid_input(
                "a Cocoon organisation must have a name",
            ));
        }
    }
    match &patch.description {
        Patch::Keep => {}
        Patch::Set(d) => {
            body.insert("description".to_owned(), Value::from(d.as_str()));
        }
        Patch::Clear => {
            body.insert("description".to_owned(), Value::from(""));
        }
    }
    if !patch.status.is_keep() {
        return Err(BackendError::unsupported_field(
            vec!["status".into()],
            "cocoon organisations have no status",
        ));
    }
    Ok(Value::Object(body))
}

/// `Authorization: Basic base64(client_id:client_secret)` for the token endpoint.
pub fn basic_auth(client: &Client) -> String {
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", client.id, client.secret.expose()))
    )
}

/// A token request.
#[derive(Clone, Copy)]
pub enum Grant<'a> {
    Password {
        username: &'a str,
        password: &'a str,
    },
    Refresh(&'a str),
}

// The password and the refresh token never reach a log line through `{:?}`.
impl std::fmt::Debug for Grant<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.grant_type())
    }
}

impl Grant<'_> {
    /// The `grant_type` value.
    pub fn grant_type(&self) -> &'static str {
        match self {
            Grant::Password { .. } => "password",
            Grant::Refresh(_) => "refresh_token",
        }
    }
}

/// The form body of a token request (`application/x-www-form-urlencoded`).
pub fn token_form(grant: Grant<'_>) -> String {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("grant_type", grant.grant_type());
    match grant {
        Grant::Password { username, password } => {
            form.append_pair("username", username);
            form.append_pair("password", password);
        }
        Grant::Refresh(token) => {
            form.append_pair("refresh_token", token);
        }
    }
    form.finish()
}

/// What a token answer gives.
#[derive(Clone)]
pub struct Issued {
    pub access_token: String,
    pub refresh_token: Option<String>,
    /// How long the access token is accepted: `expires_in`, else the JWT's `exp`.
    pub lifetime: Option<Duration>,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued")
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

/// The `exp` claim (seconds since the epoch) of a JWT, if it is one and has it.
pub fn jwt_exp(token: &str) -> Option<u64> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("exp")?.as_u64()
}

/// Reads a token answer; `now` is the time in seconds since the epoch (for a JWT `exp`). A
/// lifetime of zero is read as one second, so that a token is used at least once.
pub fn issued(backend: &str, answer: &TokenAnswer, now: u64) -> Result<Issued, BackendError> {
    let access_token = answer
        .access_token
        .clone()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            BackendError::bad_response(format!(
                "{backend} answered a token request without an access_token"
            ))
        })?;
    if http::HeaderValue::from_str(&format!("Bearer {access_token}")).is_err() {
        return Err(BackendError::bad_response(format!(
            "{backend} issued an access token that is not a valid header value"
        )));
    }
    let seconds = match &answer.expires_in {
        Some(v) => Some(digits(backend, "`expires_in` of a token answer", v)?),
        None => jwt_exp(&access_token).map(|exp| exp.saturating_sub(now)),
    };
    Ok(Issued {
        access_token,
        refresh_token: answer.refresh_token.clone().filter(|t| !t.is_empty()),
        lifetime: seconds.map(|s| Duration::from_secs(s.max(1))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use orgway_core::{ErrorKind, Secret};

    #[test]
    fn an_organisation_id_is_read_from_id_or_org_group_id() {
        let read = |json: &str| {
            let w: Organisation = serde_json::from_str(json).unwrap();
            org_from_wire("c", &w, None).map(|o| o.native_id)
        };
        assert_eq!(read(r#"{"id":"42","name":"A"}"#).unwrap(), "42");
        assert_eq!(read(r#"{"orgGroupId":"42","name":"A"}"#).unwrap(), "42");
        assert_eq!(read(r#"{"id":42,"orgGroupId":"42"}"#).unwrap(), "42");
        assert_eq!(
            read(r#"{"name":"A"}"#).unwrap_err().kind,
            ErrorKind::BadResponse
        );
    }

    #[test]
    fn statistics_pages_without_any_figure_are_bad_responses() {
        let storage = StorageStatistics {
            used_storage: Some(Value::String("5".into())),
            ..StorageStatistics::default()
        };
        let users = UserStatistics {
            collaborator_count: Some(Value::String("2".into())),
            ..UserStatistics::default()
        };
        let u = usage("c", &storage, &users, None).unwrap();
        assert_eq!(u.metrics.len(), 2);
        for (s, us, says) in [
            (&StorageStatistics::default(), &users, "storage statistics"),
            (&storage, &UserStatistics::default(), "user statistics"),
        ] {
            let e = usage("c", s, us, None).unwrap_err();
            assert_eq!(e.kind, ErrorKind::BadResponse);
            assert!(e.message.contains(says), "{}", e.message);
        }
    }

    #[test]
    fn ids() {
        assert_eq!(
            canonical_id("749418071827214336").unwrap(),
            "749418071827214336"
        );
        assert_eq!(canonical_id("007").unwrap(), "7");
        for bad in ["", "0", "12a", "-1", &"9".repeat(20), "1 2", "../1"] {
            assert!(canonical_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn numbers_as_strings_of_digits() {
        assert_eq!(digits("c", "`quota`", &json!("4096")).unwrap(), 4096);
        assert_eq!(digits("c", "`quota`", &json!(4096)).unwrap(), 4096);
        assert_eq!(digits("c", "`quota`", &json!(2.0)).unwrap(), 2);
        for bad in [
            json!("12x"),
            json!(""),
            json!("-1"),
            json!(1.5),
            json!(-3),
            json!(true),
            json!([1]),
        ] {
            let e = digits("share", "`quota` of plan 1", &bad).unwrap_err();
            assert_eq!(e.kind, ErrorKind::BadResponse);
            assert!(e.message.starts_with("share sent "), "{}", e.message);
            assert!(e.message.contains("`quota` of plan 1"), "{}", e.message);
        }
        let e = digits("share", "`quota`", &json!("12x")).unwrap_err();
        assert_eq!(
            e.message,
            "share sent \"12x\" as `quota`, which is not a whole number (a string of digits)"
        );
        assert_eq!(optional_digits("c", "x", None).unwrap(), None);
        assert!(mib_to_bytes("c", "x", u64::MAX / 2).is_err());
        assert_eq!(mib_to_bytes("c", "x", 4096).unwrap(), 4 << 30);
    }

    #[test]
    fn list_members() {
        let l = |v: Value| serde_json::from_value::<List>(v).unwrap();
        assert_eq!(
            items(
                "c",
                "x",
                l(json!({"items": [1], "count": "1", "offset": "0"}))
            )
            .unwrap(),
            [json!(1)]
        );
        assert_eq!(
            items("c", "x", l(json!({"item": [2], "count": 1}))).unwrap(),
            [json!(2)]
        );
        assert!(items("c", "x", l(json!({"count": "0"}))).is_err());
        let e = items(
            "c",
            "the plan statistics",
            l(json!({"items": [], "count": "two"})),
        )
        .unwrap_err();
        assert!(
            e.message.contains("`count` of the plan statistics"),
            "{}",
            e.message
        );
        let e = items(
            "c",
            "the plan statistics",
            l(json!({"items": [], "offset": "x"})),
        )
        .unwrap_err();
        assert!(e.message.contains("`offset`"), "{}", e.message);
    }

    #[test]
    fn who_is_on_a_plan() {
        // The seed's Staff Originators: one user, who used storage within the quota.
        let a = assignees(1, 0, 1, 0);
        assert_eq!(
            (a.total, a.within_quota, a.unused, a.over_quota),
            (1, 1, 0, 0)
        );
        // Exceeded users counted among the used (unused + used = total).
        let a = assignees(10, 4, 6, 2);
        assert_eq!((a.within_quota, a.over_quota), (4, 2));
        // Counted apart (unused + used + exceeded = total).
        let a = assignees(10, 4, 4, 2);
        assert_eq!((a.within_quota, a.over_quota), (4, 2));
    }

    #[test]
    fn plans_merge_statistics_and_details() {
        let stats = [
            json!({"id": "2", "name": "B", "quota": "10", "originatorsCount": 3,
                   "unusedPlanQuotaOriginatorsCount": 1, "usedPlanQuotaOriginatorsCount": 2,
                   "exceededPlanQuotaOriginatorsCount": 1}),
            json!({"id": "1", "name": "A", "quota": "5"}),
        ];
        let details = [
            json!({"id": "1", "name": "A", "description": "a", "quota": "5", "isDefault": true}),
            json!({"id": "3", "name": "C", "description": "", "quota": 7, "isDefault": false}),
        ];
        let p = plans("c", &stats, &details, true).unwrap();
        let ids: Vec<&str> = p.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(
            ids,
            ["2", "1", "3"],
            "statistics order, then plans only listed"
        );
        assert_eq!(p[0].quotas, vec![storage_quota(10 * MIB)]);
        assert_eq!(p[0].assignees, Some(assignees(3, 1, 2, 1)));
        assert_eq!((p[0].description.as_deref(), p[0].is_default), (None, None));
        assert_eq!(
            (p[1].description.as_deref(), p[1].is_default),
            (Some("a"), Some(true))
        );
        assert_eq!(p[1].assignees, None, "not every counter was sent");
        assert_eq!(
            (p[2].name.as_deref(), p[2].description.as_deref()),
            (Some("C"), None)
        );
        assert_eq!(p[2].quotas, vec![storage_quota(7 * MIB)]);
        assert_eq!(p[1].raw.as_ref().unwrap()["plan"]["description"], "a");
        assert_eq!(p[2].raw.as_ref().unwrap()["statistics"], Value::Null);
        assert!(
            plans("c", &stats, &details, false).unwrap()[0]
                .raw
                .is_none()
        );

        let bad = [json!({"id": "9", "quota": "12x"})];
        let e = plans("share", &bad, &[], false).unwrap_err();
        assert_eq!(e.kind, ErrorKind::BadResponse);
        assert!(e.message.contains("`quota` of plan 9"), "{}", e.message);
        let e = plans("share", &[json!({"name": "x"})], &[], false).unwrap_err();
        assert!(e.message.contains("without an `id`"), "{}", e.message);
        let e = plans("share", &[json!({"id": "x1"})], &[], false).unwrap_err();
        assert!(
            e.message.contains("the `id` of a plan statistic"),
            "{}",
            e.message
        );
    }

    #[test]
    fn update_bodies() {
        let p = OrgPatch {
            name: Patch::Set("New".into()),
            description: Patch::Clear,
            ..OrgPatch::default()
        };
        assert_eq!(
            update_body(&p).unwrap(),
            json!({"name": "New", "description": ""})
        );
        let p = OrgPatch {
            name: Patch::Clear,
            ..OrgPatch::default()
        };
        assert_eq!(update_body(&p).unwrap_err().kind, ErrorKind::InvalidInput);
    }

    #[test]
    fn token_requests_and_answers() {
        let client = Client {
            id: "app".into(),
            secret: Secret::new("s3cret"),
        };
        assert_eq!(basic_auth(&client), "Basic YXBwOnMzY3JldA==");
        assert_eq!(
            token_form(Grant::Password {
                username: "a@b.c",
                password: "p&w"
            }),
            "grant_type=password&username=a%40b.c&password=p%26w"
        );
        assert_eq!(
            token_form(Grant::Refresh("r/t")),
            "grant_type=refresh_token&refresh_token=r%2Ft"
        );
        assert_eq!(format!("{:?}", Grant::Refresh("secret")), "refresh_token");

        // The seed's example header and a payload starting like its example.
        let jwt = format!(
            "eyJhbGciOiJSUzI1NiJ9.{}.c2ln",
            URL_SAFE_NO_PAD.encode(r#"{"exp":1467016666,"user_name":"alex"}"#)
        );
        assert_eq!(jwt_exp(&jwt), Some(1_467_016_666));
        assert_eq!(jwt_exp("opaque"), None);
        let answer = |v: Value| serde_json::from_value::<TokenAnswer>(v).unwrap();
        let i = issued(
            "c",
            &answer(json!({"access_token": jwt, "expires_in": 299, "refresh_token": "r"})),
            0,
        )
        .unwrap();
        assert_eq!(
            (i.lifetime, i.refresh_token.as_deref()),
            (Some(Duration::from_secs(299)), Some("r"))
        );
        let i = issued("c", &answer(json!({"access_token": jwt})), 1_467_016_066).unwrap();
        assert_eq!(
            i.lifetime,
            Some(Duration::from_secs(600)),
            "from the JWT's exp"
        );
        let i = issued(
            "c",
            &answer(json!({"access_token": "opaque", "expires_in": "0"})),
            0,
        )
        .unwrap();
        assert_eq!(i.lifetime, Some(Duration::from_secs(1)));
        assert_eq!(
            issued("c", &answer(json!({"access_token": "opaque"})), 0)
                .unwrap()
                .lifetime,
            None
        );
        assert!(issued("c", &answer(json!({"token_type": "bearer"})), 0).is_err());
        assert!(issued("c", &answer(json!({"access_token": "a\nb"})), 0).is_err());
        assert!(
            issued(
                "c",
                &answer(json!({"access_token": "t", "expires_in": "soon"})),
                0
            )
            .is_err()
        );
        assert!(!format!("{i:?}").contains("opaque"));
    }
}
