//! Pure conversions between Losant's wire types and orgway's model, both ways. No I/O: every
//! function here takes vendor values (or bytes) and returns normalized ones, and is tested with
//! payloads shaped like the vendor's schemas. Usage series are Losant's answers turned into
//! core's [`Bucket`]s, which [`orgway_core::series`] groups and totals.

use std::collections::BTreeMap;

use orgway_core::call::from_value;
use orgway_core::series::Bucket;
use orgway_core::text::excerpt;
use orgway_core::{
    BackendError, Counts, Interval, ListQuery, Metric, Org, OrgPatch, OrgStatus, Page, Patch,
    PlanRef, SortField, TimeRange, Timestamp, Unit, UsageMetric, UsagePoint, UsageSummary,
};

use crate::wire::{
    DeviceCounts, DisabledAt, InstanceOrg, InstanceOrgPatch, InstanceOrgs, NotebookMinuteCounts,
    PayloadCountsBreakdown, PayloadStats,
};

/// Whether `s` is a Losant id: a Mongo ObjectId, 24 hexadecimal digits.
pub fn is_object_id(s: &str) -> bool {
    s.len() == 24 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Checks a native org id and returns its canonical (lowercase) spelling.
pub fn canonical_id(raw: &str) -> Result<String, String> {
    if is_object_id(raw) {
        Ok(raw.to_ascii_lowercase())
    } else {
        Err(format!(
            "`{}` is not a Losant org id (24 hexadecimal digits)",
            excerpt(raw, 64)
        ))
    }
}

/// The `summaryInclude` list asked for when reading one org: the counters `counts` is built
/// from.
pub const ORG_SUMMARY_FIELDS: &str =
    "deviceCount,memberCount,appCount,dashCount,flowCount,storageStats";

/// The `summaryInclude` list asked for by `GET /v1/orgs/{org}/usage`.
pub const USAGE_SUMMARY_FIELDS: &str = "apiTokenCount,appCount,dashCount,dataTableCount,deviceCount,deviceRecipeCount,eventCount,flowCount,integrationCount,notebookCount,webhookCount,memberCount,pendingInviteCount,payloadCount,storageStats,notebookStats";

fn timestamp(backend: &str, field: &str, s: &str) -> Result<Timestamp, BackendError> {
    Timestamp::parse_rfc3339(s).map_err(|_| {
        BackendError::bad_response(format!(
            "{backend} sent `{}` in `{field}`, which is not a date-time",
            excerpt(s, 64)
        ))
    })
}

fn opt_timestamp(
    backend: &str,
    field: &str,
    s: Option<&str>,
) -> Result<Option<Timestamp>, BackendError> {
    s.map(|s| timestamp(backend, field, s)).transpose()
}

/// An `instanceOrg` as an org. `raw` is the record as received, kept only when asked for.
pub fn org_from_wire(
    backend: &str,
    w: InstanceOrg,
    raw: Option<serde_json::Value>,
) -> Result<Org, BackendError> {
    let id = w.id.or(w.org_id).ok_or_else(|| {
        BackendError::bad_response(format!("{backend} sent an org without an id"))
    })?;
    let native_id = canonical_id(&id).map_err(|m| {
        BackendError::bad_response(format!("{backend} sent an org id it cannot use: {m}"))
    })?;
    // `disabledAt` holds the date the org was disabled, or `false`. The patch schema also
    // allows `true`, which can only mean disabled.
    let status = match &w.disabled_at {
        Some(DisabledAt::Date(_)) | Some(DisabledAt::Flag(true)) => OrgStatus::Disabled,
        Some(DisabledAt::Flag(false)) | None => OrgStatus::Active,
    };
    let summary = w.summary.unwrap_or_default();
    let counts = Counts {
        devices: summary.device_count,
        members: summary.member_count,
        applications: summary.app_count,
        dashboards: summary.dash_count,
        flows: summary.flow_count,
        storage_bytes: summary.storage_stats.as_ref().and_then(|s| s.size),
        ..Counts::default()
    };
    Ok(Org {
        native_id,
        name: w.name,
        // Losant has no "no description": an empty one is the absence of one.
        description: w.description.filter(|d| !d.is_empty()),
        status: Some(status),
        // `instanceId` is the owning instance, which is not an org.
        parent_native_id: None,
        plan: w.plan_id.map(|id| PlanRef {
            id: Some(id),
            name: None,
        }),
        created_at: opt_timestamp(backend, "creationDate", w.creation_date.as_deref())?,
        updated_at: opt_timestamp(backend, "lastUpdated", w.last_updated.as_deref())?,
        counts,
        raw,
    })
}

/// How one page of the API maps onto Losant's `page`/`perPage`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// The Losant page (0-based) to fetch first.
    pub page: u64,
    pub per_page: u64,
    /// Items to drop from the start of the first fetched page.
    pub skip: usize,
    /// Whether the next Losant page is needed too, because the wanted window straddles two.
    pub straddles: bool,
}

/// Maps an offset and a limit onto Losant pages of `limit` items: the window starts `skip`
/// items into page `offset / limit` and, unless it starts at a page boundary, runs into the
/// next page.
pub fn page_request(offset: u64, limit: u32) -> PageRequest {
    let per_page = u64::from(limit.max(1));
    let skip = (offset % per_page) as usize;
    PageRequest {
        page: offset / per_page,
        per_page,
        skip,
        straddles: skip != 0,
    }
}

/// Losant's `sortField` and `sortDirection` for a list query; `None` keeps Losant's default
/// (name, ascending).
pub fn sort_params(query: &ListQuery) -> Option<(&'static str, &'static str)> {
    let sort = query.sort?;
    let field = match sort.field {
        SortField::Name => "name",
        SortField::Id => "id",
        SortField::CreatedAt => "creationDate",
        SortField::UpdatedAt => "lastUpdated",
        // Not offered by Losant; the capability list keeps the gateway from asking.
        SortField::Status | SortField::Quota => return None,
    };
    Some((field, if sort.descending { "desc" } else { "asc" }))
}

/// The sort fields Losant applies itself.
pub const SORTS: &[SortField] = &[
    SortField::Name,
    SortField::Id,
    SortField::CreatedAt,
    SortField::UpdatedAt,
];

/// Assembles one API page from the one or two Losant pages fetched for it.
pub fn orgs_page(
    backend: &str,
    pages: Vec<InstanceOrgs>,
    req: &PageRequest,
    query: &ListQuery,
    include_raw: bool,
) -> Result<Page<Org>, BackendError> {
    let total = pages.first().and_then(|p| p.total_count);
    let mut items = Vec::new();
    for p in pages {
        for v in p.items {
            let w: InstanceOrg = from_value(backend, "an org list item", &v)?;
            items.push(org_from_wire(backend, w, include_raw.then_some(v))?);
        }
    }
    let items: Vec<Org> = items
        .into_iter()
        .skip(req.skip)
        .take(query.limit as usize)
        .collect();
    Ok(Page::from_offset(items, query.offset(), query.limit, total))
}

/// The `instanceOrgPatch` body for a patch. `now` is the instant recorded as `disabledAt` when
/// the org is disabled.
pub fn patch_body(patch: &OrgPatch, now: Timestamp) -> Result<InstanceOrgPatch, BackendError> {
    let name = match &patch.name {
        Patch::Keep => None,
        Patch::Set(n) => Some(n.clone()),
        Patch::Clear => {
            return Err(BackendError::invalid_input("a Losant org must have a name"));
        }
    };
    let description = match &patch.description {
        Patch::Keep => None,
        Patch::Set(d) => Some(d.clone()),
        // Losant has no null description; the empty string is how one is removed.
        Patch::Clear => Some(String::new()),
    };
    let disabled_at = match &patch.status {
        Patch::Keep => None,
        Patch::Set(OrgStatus::Active) => Some(DisabledAt::Flag(false)),
        Patch::Set(OrgStatus::Disabled) => Some(DisabledAt::Date(now.to_string())),
        Patch::Set(other) => {
            return Err(BackendError::unsupported_field(
                vec!["status".into()],
                format!(
                    "losant orgs can be active or disabled, not {}",
                    other.as_str()
                ),
            ));
        }
        Patch::Clear => {
            return Err(BackendError::invalid_input("status cannot be null"));
        }
    };
    Ok(InstanceOrgPatch {
        name,
        description,
        disabled_at,
    })
}

/// `GET /v1/orgs/{org}/usage` from an org's summary.
pub fn usage_from_org(
    backend: &str,
    w: &InstanceOrg,
    raw: Option<serde_json::Value>,
) -> Result<UsageSummary, BackendError> {
    let s = w.summary.clone().unwrap_or_default();
    let mut metrics = Vec::new();
    let mut push = |metric: &str, value: Option<u64>, unit: Unit| {
        if let Some(value) = value {
            metrics.push(UsageMetric {
                metric: metric.to_owned(),
                value,
                unit,
            });
        }
    };
    push("devices", s.device_count, Unit::Count);
    push("device-recipes", s.device_recipe_count, Unit::Count);
    push("applications", s.app_count, Unit::Count);
    push("dashboards", s.dash_count, Unit::Count);
    push("flows", s.flow_count, Unit::Count);
    push("data-tables", s.data_table_count, Unit::Count);
    push("notebooks", s.notebook_count, Unit::Count);
    push("webhooks", s.webhook_count, Unit::Count);
    push("integrations", s.integration_count, Unit::Count);
    push("events", s.event_count, Unit::Count);
    push("members", s.member_count, Unit::Count);
    push("pending-invites", s.pending_invite_count, Unit::Count);
    push("api-tokens", s.api_token_count, Unit::Count);
    if let Some(st) = &s.storage_stats {
        push("storage", st.size, Unit::Bytes);
        push("files", st.count, Unit::Count);
    }
    if let Some(nb) = &s.notebook_stats {
        push("notebook-minutes", nb.minutes_this_period, Unit::Minutes);
        push("notebook-runs", nb.runs_this_period, Unit::Count);
    }
    if let Some(p) = &s.payload_count {
        let (total, _) = payload_totals(backend, p)?;
        push("payloads", Some(total), Unit::Count);
    }
    Ok(UsageSummary { metrics, raw })
}

/// Reads a vendor `number` that must be a whole, non-negative count.
fn whole(backend: &str, field: &str, v: f64) -> Result<u64, BackendError> {
    if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= 9.0e15 {
        Ok(v as u64)
    } else {
        Err(BackendError::bad_response(format!(
            "{backend} sent {v} in `{field}`, which is not a whole non-negative number"
        )))
    }
}

/// The grand total of a `payloadStats` object and the total per payload type (summed over
/// sources).
pub fn payload_totals(
    backend: &str,
    stats: &PayloadStats,
) -> Result<(u64, BTreeMap<String, u64>), BackendError> {
    let mut per_type = BTreeMap::new();
    let mut total: u64 = 0;
    for (kind, sources) in stats {
        let mut sum: u64 = 0;
        for (source, v) in sources {
            sum = sum.saturating_add(whole(backend, &format!("{kind}.{source}"), *v)?);
        }
        total = total.saturating_add(sum);
        per_type.insert(kind.clone(), sum);
    }
    Ok((total, per_type))
}

fn bucket_at(backend: &str, s: &str) -> Result<Timestamp, BackendError> {
    timestamp(backend, "date", s)
}

/// `deviceCounts` as daily buckets: the value is the device total that day, the detail the
/// devices created and deleted.
pub fn device_buckets(backend: &str, w: &DeviceCounts) -> Result<Vec<Bucket>, BackendError> {
    w.counts
        .iter()
        .map(|c| {
            let mut detail = BTreeMap::new();
            detail.insert("created".to_owned(), c.created.unwrap_or(0));
            detail.insert("deleted".to_owned(), c.deleted.unwrap_or(0));
            Ok(Bucket {
                at: bucket_at(backend, &c.date)?,
                value: c.total.ok_or_else(|| {
                    BackendError::bad_response(format!(
                        "{backend} sent a device count without a total"
                    ))
                })?,
                detail: Some(detail),
            })
        })
        .collect()
}

/// `notebookMinuteCounts` as daily buckets: minutes, with the runs by outcome as detail.
pub fn notebook_buckets(
    backend: &str,
    w: &NotebookMinuteCounts,
) -> Result<Vec<Bucket>, BackendError> {
    w.counts
        .iter()
        .map(|c| {
            let mut detail = BTreeMap::new();
            detail.insert("completed".to_owned(), c.completed.unwrap_or(0));
            detail.insert("canceled".to_owned(), c.canceled.unwrap_or(0));
            detail.insert("errored".to_owned(), c.errored.unwrap_or(0));
            detail.insert("timeout".to_owned(), c.timeout.unwrap_or(0));
            Ok(Bucket {
                at: bucket_at(backend, &c.date)?,
                value: c.minutes.unwrap_or(0),
                detail: Some(detail),
            })
        })
        .collect()
}

/// `payloadCountsBreakdown` as buckets of the requested resolution.
pub fn payload_buckets(
    backend: &str,
    w: &PayloadCountsBreakdown,
) -> Result<Vec<Bucket>, BackendError> {
    w.counts
        .iter()
        .map(|c| {
            Ok(Bucket {
                at: bucket_at(backend, &c.date)?,
                value: whole(backend, "value", c.value.unwrap_or(0.0))?,
                detail: None,
            })
        })
        .collect()
}

/// What a metric reads from Losant, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesSource {
    /// `deviceCounts` (daily).
    DeviceCounts,
    /// `notebookMinuteCounts` (daily).
    NotebookMinuteCounts,
    /// `payloadCountsBreakdown` at the given resolution in milliseconds.
    PayloadBreakdown { resolution_ms: u64 },
    /// `payloadCounts`: one total with the per-type detail.
    PayloadCounts,
}

/// Milliseconds in a day and an hour: the two resolutions `payloadCountsBreakdown` accepts.
pub const DAY_MS: u64 = 86_400_000;
pub const HOUR_MS: u64 = 3_600_000;

/// Chooses the Losant action for a metric and interval.
///
/// `interval=total` of payloads reads `payloadCounts`, which has the per-type detail; but that
/// action cannot include non-billable payloads, so with `billable=false` the total is summed
/// from the breakdown instead (and has no per-type detail).
pub fn series_source(
    metric: Metric,
    interval: Interval,
    include_non_billable: bool,
) -> Option<SeriesSource> {
    match (metric, interval) {
        (Metric::Devices, Interval::Day | Interval::Month | Interval::Total) => {
            Some(SeriesSource::DeviceCounts)
        }
        (Metric::NotebookMinutes, Interval::Day | Interval::Month | Interval::Total) => {
            Some(SeriesSource::NotebookMinuteCounts)
        }
        (Metric::Payloads, Interval::Hour) => Some(SeriesSource::PayloadBreakdown {
            resolution_ms: HOUR_MS,
        }),
        (Metric::Payloads, Interval::Day | Interval::Month) => {
            Some(SeriesSource::PayloadBreakdown {
                resolution_ms: DAY_MS,
            })
        }
        (Metric::Payloads, Interval::Total) if include_non_billable => {
            Some(SeriesSource::PayloadBreakdown {
                resolution_ms: DAY_MS,
            })
        }
        (Metric::Payloads, Interval::Total) => Some(SeriesSource::PayloadCounts),
        _ => None,
    }
}

/// The `start` and `end` (ms since the epoch) of a usage action for a range.
///
/// Losant reads a `start` or `end` of 0 or less as relative to now (0 is now, or the default
/// 30 days), so an instant at or before the epoch cannot be sent as it is: it would silently
/// ask for another range. Losant keeps no usage from before 1970, so a range is cut to start
/// at 1 ms, and one that ends by then is refused.
pub fn usage_window(range: &TimeRange) -> Result<(i64, i64), BackendError> {
    let start = range.from().unix_millis().max(1);
    let end = range.to().unix_millis();
    if end <= start {
        return Err(BackendError::invalid_input(
            "losant keeps no usage from before 1970-01-01T00:00:00.001Z",
        ));
    }
    Ok((start, end))
}

/// The one point of `interval=total` payloads, from `payloadCounts`.
pub fn payload_total_point(
    backend: &str,
    stats: &PayloadStats,
    from: Timestamp,
) -> Result<UsagePoint, BackendError> {
    let (total, per_type) = payload_totals(backend, stats)?;
    Ok(UsagePoint {
        at: from,
        value: total,
        detail: Some(per_type),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use orgway_core::Sort;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
    }

    #[test]
    fn usage_windows_never_send_instants_losant_reads_as_relative() {
        let w = |from: &str, to: &str| usage_window(&TimeRange::new(ts(from), ts(to)).unwrap());
        assert_eq!(
            w("2016-06-13T00:00:00Z", "2016-06-14T00:00:00Z").unwrap(),
            (1_465_776_000_000, 1_465_862_400_000)
        );
        assert_eq!(
            w("1970-01-01T00:00:00Z", "1970-01-02T00:00:00Z").unwrap(),
            (1, 86_400_000)
        );
        assert_eq!(
            w("1969-12-02T00:00:00Z", "1970-01-01T00:00:01Z").unwrap(),
            (1, 1_000)
        );
        for (from, to) in [
            ("1969-12-02T00:00:00Z", "1970-01-01T00:00:00Z"),
            ("1969-12-02T00:00:00Z", "1970-01-01T00:00:00.001Z"),
            ("1900-01-01T00:00:00Z", "1900-02-01T00:00:00Z"),
        ] {
            let e = w(from, to).unwrap_err();
            assert_eq!(e.kind, orgway_core::ErrorKind::InvalidInput, "{from} {to}");
        }
    }

    #[test]
    fn ids() {
        assert_eq!(
            canonical_id("575ED6E87AE143CD83DC4AA8").unwrap(),
            "575ed6e87ae143cd83dc4aa8"
        );
        assert!(canonical_id("575ed6e87ae143cd83dc4aa8f").is_err()); // 25 digits
        assert!(canonical_id("../../x").is_err());
        assert!(canonical_id("575ed6e87ae143cd83dc4aaz").is_err());
        assert!(canonical_id("").is_err());
    }

    #[test]
    fn pages_map_to_losant_pages() {
        assert_eq!(
            page_request(0, 50),
            PageRequest {
                page: 0,
                per_page: 50,
                skip: 0,
                straddles: false
            }
        );
        assert_eq!(
            page_request(100, 50),
            PageRequest {
                page: 2,
                per_page: 50,
                skip: 0,
                straddles: false
            }
        );
        // A caller that changed its page size between pages: the window straddles two pages.
        assert_eq!(
            page_request(30, 20),
            PageRequest {
                page: 1,
                per_page: 20,
                skip: 10,
                straddles: true
            }
        );
    }

    #[test]
    fn sorts() {
        let q = |s: &str| ListQuery {
            sort: Sort::parse(s),
            ..ListQuery::first()
        };
        assert_eq!(
            sort_params(&q("-createdAt")),
            Some(("creationDate", "desc"))
        );
        assert_eq!(sort_params(&q("name")), Some(("name", "asc")));
        assert_eq!(sort_params(&ListQuery::first()), None);
    }

    #[test]
    fn patch_bodies() {
        let now = ts("2024-01-02T03:04:05Z");
        let p = OrgPatch {
            name: Patch::Set("New".into()),
            description: Patch::Clear,
            status: Patch::Set(OrgStatus::Disabled),
        };
        let body = serde_json::to_value(patch_body(&p, now).unwrap()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"name": "New", "description": "", "disabledAt": "2024-01-02T03:04:05Z"})
        );
        let p = OrgPatch {
            status: Patch::Set(OrgStatus::Active),
            ..OrgPatch::default()
        };
        let body = serde_json::to_value(patch_body(&p, now).unwrap()).unwrap();
        assert_eq!(body, serde_json::json!({"disabledAt": false}));
        let p = OrgPatch {
            status: Patch::Set(OrgStatus::Suspended),
            ..OrgPatch::default()
        };
        assert!(matches!(
            patch_body(&p, now).unwrap_err().kind,
            orgway_core::ErrorKind::UnsupportedField { .. }
        ));
        let p = OrgPatch {
            name: Patch::Clear,
            ..OrgPatch::default()
        };
        assert!(patch_body(&p, now).is_err());
    }

    #[test]
    fn sources() {
        use SeriesSource::*;
        assert_eq!(
            series_source(Metric::Payloads, Interval::Total, false),
            Some(PayloadCounts)
        );
        assert_eq!(
            series_source(Metric::Payloads, Interval::Total, true),
            Some(PayloadBreakdown {
                resolution_ms: DAY_MS
            })
        );
        assert_eq!(
            series_source(Metric::Payloads, Interval::Hour, false),
            Some(PayloadBreakdown {
                resolution_ms: HOUR_MS
            })
        );
        assert_eq!(series_source(Metric::Devices, Interval::Hour, false), None);
        assert_eq!(
            series_source(Metric::DataTraffic, Interval::Day, false),
            None
        );
    }

    #[test]
    fn whole_numbers_only() {
        assert_eq!(whole("l", "x", 3.0).unwrap(), 3);
        assert!(whole("l", "x", 3.5).is_err());
        assert!(whole("l", "x", -1.0).is_err());
        assert!(whole("l", "x", f64::NAN).is_err());
    }
}
