//! Pure conversions between Enhance's wire types and orgway's model, both ways. No I/O: every
//! function here takes vendor values and returns normalized ones (or the vendor request's
//! parameters), and is tested with payloads shaped like the vendor's OpenAPI schemas.

use orgway_core::series::Bucket;
use orgway_core::text::excerpt;
use orgway_core::{
    BackendError, Counts, CustomerFilter, Interval, ListQuery, Org, OrgPatch, OrgStatus, Patch,
    Plan, Quota, ResourceUse, SortField, Subscription, Timestamp, Unit, UsageMetric, UsageSummary,
};
use serde_json::Value;

use crate::wire;

/// Whether `s` is a UUID in its hyphenated form (any case): how Enhance writes org ids.
pub fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Checks a native org id (a UUID) and returns its canonical, lowercase spelling.
pub fn canonical_id(raw: &str) -> Result<String, String> {
    if is_uuid(raw) {
        Ok(raw.to_ascii_lowercase())
    } else {
        Err(format!(
            "`{}` is not an Enhance org id (a UUID such as 3fa85f64-5717-4562-b3fc-2c963f66afa6)",
            excerpt(raw, 64)
        ))
    }
}

/// Reads a plan id: Enhance's are integers, the API's strings. Refused before any call.
pub fn plan_id(raw: &str) -> Result<u64, BackendError> {
    raw.parse::<u64>()
        .ok()
        .filter(|_| raw.bytes().all(|b| b.is_ascii_digit()))
        .filter(|n| *n <= i64::MAX as u64)
        .ok_or_else(|| {
            BackendError::invalid_input(format!(
                "`{}` is not an Enhance plan id (an integer)",
                excerpt(raw, 64)
            ))
        })
}

fn bad(backend: &str, what: impl std::fmt::Display) -> BackendError {
    BackendError::bad_response(format!("{backend} sent {what}"))
}

/// Reads an instant Enhance writes as a plain string: RFC 3339, or the same without a zone
/// (taken as UTC), with a space or a `T`; a date alone is its midnight UTC, a month alone its
/// first day.
pub fn instant(s: &str) -> Option<Timestamp> {
    if let Ok(t) = Timestamp::parse_rfc3339(s) {
        return Some(t);
    }
    let s = s.trim();
    let with_t = s.replacen(' ', "T", 1);
    if with_t.len() >= 19 && with_t.as_bytes().get(10) == Some(&b'T') {
        return Timestamp::parse_rfc3339(&format!("{with_t}Z")).ok();
    }
    let parts: Vec<&str> = s.split('-').collect();
    let num = |p: &str| p.parse::<u32>().ok().filter(|_| !p.is_empty());
    match parts.as_slice() {
        [y, m, d] if y.len() == 4 && m.len() == 2 && d.len() == 2 => {
            Timestamp::from_date(num(y)? as i32, num(m)? as u8, num(d)? as u8).ok()
        }
        [y, m] if y.len() == 4 && m.len() == 2 => {
            Timestamp::from_date(num(y)? as i32, num(m)? as u8, 1).ok()
        }
        _ => None,
    }
}

/// A status from `status` and `suspendedBy`: `Org.status` is only `active` or `deleted`;
/// suspension is a non-null `suspendedBy`.
fn status(
    backend: &str,
    status: Option<&str>,
    suspended_by: Option<&str>,
) -> Result<Option<OrgStatus>, BackendError> {
    Ok(match status {
        Some("deleted") => Some(OrgStatus::Deleted),
        Some("active") if suspended_by.is_some() => Some(OrgStatus::Suspended),
        Some("active") => Some(OrgStatus::Active),
        None => None,
        Some(other) => {
            return Err(bad(
                backend,
                format!("an unknown status `{}`", excerpt(other, 64)),
            ));
        }
    })
}

fn org_id(backend: &str, field: &str, id: &str) -> Result<String, BackendError> {
    canonical_id(id).map_err(|_| {
        bad(
            backend,
            format!("`{}` in `{field}`, which is not a UUID", excerpt(id, 64)),
        )
    })
}

/// An `Org` as an org. `raw` is the record as received, kept only when asked for.
pub fn org_from_wire(backend: &str, w: wire::Org, raw: Option<Value>) -> Result<Org, BackendError> {
    let created_at = match w.created_at.as_deref() {
        None => None,
        Some(s) => Some(instant(s).ok_or_else(|| {
            bad(
                backend,
                format!(
                    "`{}` in `createdAt`, which is not a date-time",
                    excerpt(s, 64)
                ),
            )
        })?),
    };
    Ok(Org {
        native_id: org_id(backend, "id", &w.id)?,
        name: w.name,
        // Enhance orgs have no description.
        description: None,
        status: status(backend, w.status.as_deref(), w.suspended_by.as_deref())?,
        parent_native_id: w
            .parent_id
            .as_deref()
            .map(|p| org_id(backend, "parentId", p))
            .transpose()?,
        plan: None,
        created_at,
        updated_at: None,
        counts: Counts {
            websites: w.websites_count,
            subscriptions: w.subscriptions_count,
            ..Counts::default()
        },
        raw,
    })
}

/// The unit of a resource's quantities: disk space and transfer are bytes (the document gives
/// no unit; its other sizes, `fsQuotaLimit` and the bandwidth, are bytes), the rest counts.
pub fn unit_of(resource: &str) -> Unit {
    match resource {
        "diskspace" | "transfer" => Unit::Bytes,
        _ => Unit::Count,
    }
}

/// A `Plan` as a plan on offer: its `resources[]` are its quotas, `limit: null` when the
/// resource has no `total` (unlimited). Enhance gives how many subscribe (`subscriptionsCount`)
/// but not how many are within their quota, so `assignees` is unknown.
pub fn plan_from_wire(p: wire::Plan, raw: Option<Value>) -> Plan {
    Plan {
        id: p.id.to_string(),
        name: p.name,
        description: None,
        is_default: None,
        quotas: p
            .resources
            .into_iter()
            .map(|r| Quota {
                unit: unit_of(&r.name),
                resource: r.name,
                limit: r.total,
            })
            .collect(),
        assignees: None,
        raw,
    }
}

/// A `Subscription` as a subscription, each resource with its usage and quota.
pub fn subscription_from_wire(
    backend: &str,
    s: wire::Subscription,
    raw: Option<Value>,
) -> Result<Subscription, BackendError> {
    Ok(Subscription {
        id: s.id.to_string(),
        plan_id: s.plan_id.map(|p| p.to_string()),
        plan_name: s.plan_name,
        subscriber_native_id: s
            .subscriber_id
            .as_deref()
            .map(|i| org_id(backend, "subscriberId", i))
            .transpose()?,
        vendor_native_id: s
            .vendor_id
            .as_deref()
            .map(|i| org_id(backend, "vendorId", i))
            .transpose()?,
        status: status(backend, s.status.as_deref(), s.suspended_by.as_deref())?,
        resources: s
            .resources
            .into_iter()
            .map(|r| ResourceUse {
                unit: unit_of(&r.name),
                resource: r.name,
                used: r.usage,
                limit: r.total,
            })
            .collect(),
        raw,
    })
}

/// An org's usage: the usage of each resource summed over its own subscriptions that are not
/// deleted, in the order resources first appear.
pub fn usage_from_subscriptions(subs: &[wire::Subscription], raw: Option<Value>) -> UsageSummary {
    let mut metrics: Vec<UsageMetric> = Vec::new();
    for s in subs
        .iter()
        .filter(|s| s.status.as_deref() != Some("deleted"))
    {
        for r in &s.resources {
            match metrics.iter_mut().find(|m| m.metric == r.name) {
                Some(m) => m.value = m.value.saturating_add(r.usage),
                None => metrics.push(UsageMetric {
                    metric: r.name.clone(),
                    value: r.usage,
                    unit: unit_of(&r.name),
                }),
            }
        }
    }
    UsageSummary { metrics, raw }
}

/// The sort fields Enhance's customer list applies itself (`sortBy`). Status is left to the
/// gateway: Enhance sorts by its own `status` (active, deleted), which knows no suspension.
pub const CUSTOMER_SORTS: &[SortField] = &[SortField::Id, SortField::Name, SortField::CreatedAt];

/// `offset`, `limit` and, when the query sorts, `sortBy` / `sortOrder`.
pub fn page_params(
    query: &ListQuery,
    sort_by: Option<&'static str>,
) -> Vec<(&'static str, String)> {
    let mut p = vec![
        ("offset", query.offset().to_string()),
        ("limit", query.limit.to_string()),
    ];
    if let (Some(field), Some(sort)) = (sort_by, query.sort) {
        p.push(("sortBy", field.to_owned()));
        p.push((
            "sortOrder",
            if sort.descending { "desc" } else { "asc" }.to_owned(),
        ));
    }
    p
}

/// The query of `getOrgCustomers`: paging, sorting, and the filter (`status`, `recursive`,
/// `maxDepth`).
pub fn customer_params(query: &ListQuery, filter: &CustomerFilter) -> Vec<(&'static str, String)> {
    let sort_by = query.sort.and_then(|s| match s.field {
        SortField::Id => Some("id"),
        SortField::Name => Some("name"),
        SortField::CreatedAt => Some("createdAt"),
        // Not native (see `CUSTOMER_SORTS`): the gateway sorts these itself.
        SortField::UpdatedAt | SortField::Status | SortField::Quota => None,
    });
    let mut p = page_params(query, sort_by);
    if filter.recursive {
        p.push(("recursive", "true".to_owned()));
        if let Some(d) = filter.max_depth {
            p.push(("maxDepth", d.to_string()));
        }
    }
    if let Some(s) = filter.status {
        // The gateway only lets active, suspended and deleted through, Enhance's three.
        p.push(("status", s.as_str().to_owned()));
    }
    p
}

/// The `OrgUpdate` body of a patch: `name`, and `status` as `isSuspended` (and `status` back
/// to `active` when an org is made active again).
pub fn patch_body(patch: &OrgPatch) -> Result<wire::OrgUpdate, BackendError> {
    let mut u = wire::OrgUpdate::default();
    match &patch.name {
        Patch::Keep => {}
        Patch::Set(n) if !n.trim().is_empty() => u.name = Some(n.clone()),
        _ => {
            return Err(BackendError::invalid_input(
                "an Enhance org must have a name",
            ));
        }
    }
    if !patch.description.is_keep() {
        return Err(BackendError::unsupported_field(
            vec!["description".into()],
            "enhance orgs have no description",
        ));
    }
    match &patch.status {
        Patch::Keep => {}
        Patch::Set(OrgStatus::Active) => {
            u.status = Some("active");
            u.is_suspended = Some(false);
        }
        Patch::Set(OrgStatus::Suspended) => u.is_suspended = Some(true),
        Patch::Set(other) => {
            return Err(BackendError::unsupported_field(
                vec!["status".into()],
                format!(
                    "enhance orgs can be made active or suspended, not {}",
                    other.as_str()
                ),
            ));
        }
        Patch::Clear => {
            return Err(BackendError::invalid_input(
                "an Enhance org must have a status",
            ));
        }
    }
    Ok(u)
}

/// The `timeInterval` to ask `getCustomersAdded` for: hours as asked, else days, which the
/// gateway sums into months and totals. (Enhance's own months are whole calendar months: a
/// range starting or ending inside one would lose its first month or count its last beyond
/// the range, where docs/API.md §3 sums the days inside the range.)
pub fn stats_interval(interval: Interval) -> &'static str {
    match interval {
        Interval::Hour => "hour",
        Interval::Day | Interval::Month | Interval::Total => "day",
    }
}

/// The entries of `CustomersAddedStats` as buckets, in time order.
pub fn customer_buckets(
    backend: &str,
    stats: &[wire::ResourceCountByInterval],
) -> Result<Vec<Bucket>, BackendError> {
    let mut out = Vec::with_capacity(stats.len());
    for e in stats {
        let at = instant(&e.interval).ok_or_else(|| {
            bad(
                backend,
                format!(
                    "`{}` in `interval`, which is not a date-time",
                    excerpt(&e.interval, 64)
                ),
            )
        })?;
        let n = e.resource_count;
        if !(n.is_finite() && n >= 0.0 && n.fract() == 0.0 && n < 9.0e15) {
            return Err(bad(
                backend,
                format!("{n} in `resourceCount`, which is not a count"),
            ));
        }
        out.push(Bucket {
            at,
            value: n as u64,
            detail: None,
        });
    }
    out.sort_by_key(|b| b.at);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert_eq!(
            canonical_id("3FA85F64-5717-4562-B3FC-2C963F66AFA6").unwrap(),
            "3fa85f64-5717-4562-b3fc-2c963f66afa6"
        );
        for bad in [
            "3fa85f64571745 62b3fc2c963f66afa6",
            "42",
            "",
            "3fa85f64-5717-4562-b3fc-2c963f66afaz",
        ] {
            assert!(canonical_id(bad).is_err(), "{bad}");
        }
        assert_eq!(plan_id("5").unwrap(), 5);
        for bad in ["", "-1", "+5", "5.0", "x", "99999999999999999999", " 5"] {
            assert_eq!(
                plan_id(bad).unwrap_err().kind,
                orgway_core::ErrorKind::InvalidInput,
                "{bad}"
            );
        }
    }

    #[test]
    fn instants() {
        let s = |t: &str| instant(t).map(|t| t.to_string());
        assert_eq!(
            s("2025-05-08T10:00:00Z").as_deref(),
            Some("2025-05-08T10:00:00Z")
        );
        assert_eq!(
            s("2025-05-08T12:00:00+02:00").as_deref(),
            Some("2025-05-08T10:00:00Z")
        );
        assert_eq!(
            s("2025-05-08 10:00:00").as_deref(),
            Some("2025-05-08T10:00:00Z")
        );
        assert_eq!(
            s("2025-05-08T10:00:00.250").as_deref(),
            Some("2025-05-08T10:00:00.250Z")
        );
        assert_eq!(s("2025-05-08").as_deref(), Some("2025-05-08T00:00:00Z"));
        assert_eq!(s("2025-05").as_deref(), Some("2025-05-01T00:00:00Z"));
        for bad in ["yesterday", "2025-13-01", "2025/05/08", ""] {
            assert_eq!(instant(bad), None, "{bad}");
        }
    }

    #[test]
    fn patches() {
        let p = |name: Patch<String>, status: Patch<OrgStatus>| OrgPatch {
            name,
            status,
            ..OrgPatch::default()
        };
        let body = patch_body(&p(
            Patch::Set("New".into()),
            Patch::Set(OrgStatus::Suspended),
        ))
        .unwrap();
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            serde_json::json!({"name": "New", "isSuspended": true})
        );
        let body = patch_body(&p(Patch::Keep, Patch::Set(OrgStatus::Active))).unwrap();
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            serde_json::json!({"status": "active", "isSuspended": false})
        );
        assert!(patch_body(&p(Patch::Clear, Patch::Keep)).is_err());
        assert!(patch_body(&p(Patch::Set(" ".into()), Patch::Keep)).is_err());
        assert!(matches!(
            patch_body(&p(Patch::Keep, Patch::Set(OrgStatus::Disabled)))
                .unwrap_err()
                .kind,
            orgway_core::ErrorKind::UnsupportedField { .. }
        ));
    }
}
