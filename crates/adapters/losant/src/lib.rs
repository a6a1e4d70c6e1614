//! orgway-losant: the Losant Instance Org dialect (Bearer token, JSON, ms-epoch time ranges).
//!
//! Serves, for the orgs of one Enterprise instance: org get / patch / delete, the instance-org
//! list, the org's usage summary, and the `devices`, `notebook-minutes` and `payloads` series.
//! Losant has no plans, customers or subscriptions resource; those routes are `501`.
//!
//! Raw records (`include=raw`) leave without `billingEmail` ([`CAPABILITIES`]'s
//! `raw_redactions`).
//!
//! # Layout
//! - [`config`]: the `[[backends]]` keys of a Losant backend, validated.
//! - [`wire`]: the vendor's JSON shapes.
//! - [`map`]: pure conversions between wire and model, both ways.
//! - [`error`]: `{type, message}` errors as `BackendError`s.
//! - [`client`]: the thin I/O part: paths, headers and SDK query controls, on core's
//!   [`orgway_core::call`].

pub mod client;
pub mod config;
pub mod error;
pub mod map;
pub mod wire;

use http::Method;
use orgway_core::{
    Backend, BackendError, BoxFuture, CallContext, Capabilities, Interval, ListQuery, ListSupport,
    Metric, MetricSupport, OpKind, Operation, OrgPatch, OrgStatus, Output, PatchField,
    SeriesOptions, SortField, TimeRange, Timestamp, Unit,
};

pub use config::{LosantConfig, LosantSettings};

use client::{org_path, orgs_path, send};
use map::SeriesSource;
use orgway_core::call::decode_json;
use orgway_core::series::{self, Aggregate};
use wire::{
    DeviceCounts, InstanceOrg, InstanceOrgs, NotebookMinuteCounts, PayloadCountsBreakdown,
    PayloadStats,
};

/// The dialect's name.
pub const KIND: &str = "losant";

/// What a Losant backend can do.
pub const CAPABILITIES: Capabilities = Capabilities {
    operations: &[
        OpKind::GetOrg,
        OpKind::PatchOrg,
        OpKind::DeleteOrg,
        OpKind::ListOrgs,
        OpKind::GetUsage,
        OpKind::GetUsageSeries,
    ],
    metrics: &[
        MetricSupport {
            metric: Metric::Devices,
            unit: Unit::Count,
            intervals: &[Interval::Day, Interval::Month, Interval::Total],
            bytes: false,
            non_billable: false,
        },
        MetricSupport {
            metric: Metric::NotebookMinutes,
            unit: Unit::Minutes,
            intervals: &[Interval::Day, Interval::Month, Interval::Total],
            bytes: false,
            non_billable: false,
        },
        MetricSupport {
            metric: Metric::Payloads,
            unit: Unit::Count,
            intervals: &[
                Interval::Hour,
                Interval::Day,
                Interval::Month,
                Interval::Total,
            ],
            bytes: true,
            non_billable: true,
        },
    ],
    patchable: &[
        PatchField::Name,
        PatchField::Description,
        PatchField::Status,
    ],
    settable_statuses: &[OrgStatus::Active, OrgStatus::Disabled],
    orgs: ListSupport {
        native_sorts: map::SORTS,
        fields: &[
            SortField::Id,
            SortField::Name,
            SortField::CreatedAt,
            SortField::UpdatedAt,
            SortField::Status,
        ],
    },
    plans: ListSupport::NONE,
    customers: ListSupport::NONE,
    subscriptions: ListSupport::NONE,
    // The instance-org record (the vendor's `instanceOrg` schema) holds no token, key or
    // password: its counters (`apiTokenCount`, `credentialCount`, …) are counts only. The one
    // contact detail is `billingEmail`, the billing contact's address; `customerId` and
    // `subscriptionId` name billing records and are kept.
    raw_redactions: &["billingEmail"],
};

/// A Losant backend.
#[derive(Debug)]
pub struct Losant {
    cfg: LosantConfig,
}

impl Losant {
    /// A backend from a validated configuration.
    pub fn new(cfg: LosantConfig) -> Self {
        Losant { cfg }
    }

    async fn get_org(
        &self,
        cx: &CallContext,
        org: &str,
        summary: &str,
    ) -> Result<(InstanceOrg, Option<serde_json::Value>), BackendError> {
        let call = client::call(Method::GET, org_path(&self.cfg, org, None))
            .param("summaryInclude", summary);
        let body = send(&self.cfg, cx, call).await?;
        decode_json(&self.cfg.name, "an org", &body, cx.include_raw())
    }

    async fn patch_org(
        &self,
        cx: &CallContext,
        org: &str,
        patch: &OrgPatch,
    ) -> Result<Output, BackendError> {
        let body = map::patch_body(patch, Timestamp::now())?;
        let json = serde_json::to_vec(&body).map_err(|e| {
            BackendError::upstream(format!("could not encode the patch: {e}")).retryable(false)
        })?;
        let call = client::call(Method::PATCH, org_path(&self.cfg, org, None))
            .param("summaryInclude", map::ORG_SUMMARY_FIELDS)
            .json(json);
        let answer = send(&self.cfg, cx, call).await?;
        // Losant answered 2xx: the change is made, whatever fails now.
        cx.change_applied();
        decode_json::<InstanceOrg>(&self.cfg.name, "an org", &answer, cx.include_raw())
            .and_then(|(w, raw)| map::org_from_wire(&self.cfg.name, w, raw))
            .map(|org| Output::Org(Box::new(org)))
            .map_err(|e| e.after_change(&self.cfg.name))
    }

    async fn list_orgs(&self, cx: &CallContext, query: &ListQuery) -> Result<Output, BackendError> {
        let req = map::page_request(query.offset(), query.limit);
        let fetch = |page: u64| {
            let mut call = client::call(Method::GET, orgs_path(&self.cfg))
                .param("page", page.to_string())
                .param("perPage", req.per_page.to_string())
                .param("summaryInclude", map::ORG_SUMMARY_FIELDS);
            if let Some((field, dir)) = map::sort_params(query) {
                call = call.param("sortField", field).param("sortDirection", dir);
            }
            call
        };
        let mut pages = Vec::with_capacity(2);
        let body = send(&self.cfg, cx, fetch(req.page)).await?;
        let (first, _) = decode_json::<InstanceOrgs>(&self.cfg.name, "an org list", &body, false)?;
        let more = req.straddles && first.items.len() as u64 == req.per_page;
        pages.push(first);
        if more {
            let body = send(&self.cfg, cx, fetch(req.page + 1)).await?;
            pages.push(decode_json::<InstanceOrgs>(&self.cfg.name, "an org list", &body, false)?.0);
        }
        Ok(Output::Orgs(map::orgs_page(
            &self.cfg.name,
            pages,
            &req,
            query,
            cx.include_raw(),
        )?))
    }

    async fn series(
        &self,
        cx: &CallContext,
        org: &str,
        metric: Metric,
        interval: Interval,
        range: TimeRange,
        options: SeriesOptions,
    ) -> Result<Output, BackendError> {
        let support = CAPABILITIES.metric(metric).ok_or_else(|| {
            BackendError::unsupported(
                CAPABILITIES.metric_names(),
                format!("losant has no `{}` metric", metric.as_str()),
            )
        })?;
        let source = map::series_source(metric, interval, options.include_non_billable)
            .ok_or_else(|| {
                BackendError::unsupported(
                    support
                        .intervals
                        .iter()
                        .map(|i| i.as_str().to_owned())
                        .collect(),
                    format!(
                        "losant cannot give `{}` by {}",
                        metric.as_str(),
                        interval.as_str()
                    ),
                )
            })?;
        let unit = if options.bytes {
            Unit::Bytes
        } else {
            support.unit
        };
        let from = range.from();
        let (start, end) = map::usage_window(&range)?;
        // An action over the range, from `start` (the range's, unless said otherwise).
        let timed_from = |action: &'static str, start: i64| {
            client::call(Method::GET, org_path(&self.cfg, org, Some(action)))
                .param("start", start.to_string())
                .param("end", end.to_string())
        };
        let timed = |action: &'static str| timed_from(action, start);
        let raw_wanted = cx.include_raw();
        let (points, agg, raw) = match source {
            SeriesSource::DeviceCounts => {
                let body = send(&self.cfg, cx, timed("deviceCounts")).await?;
                let (w, raw) = decode_json::<DeviceCounts>(
                    &self.cfg.name,
                    "a device count",
                    &body,
                    raw_wanted,
                )?;
                (
                    series::group(
                        map::device_buckets(&self.cfg.name, &w)?,
                        interval,
                        Aggregate::Last,
                        range,
                    ),
                    Aggregate::Last,
                    raw,
                )
            }
            SeriesSource::NotebookMinuteCounts => {
                let body = send(&self.cfg, cx, timed("notebookMinuteCounts")).await?;
                let (w, raw) = decode_json::<NotebookMinuteCounts>(
                    &self.cfg.name,
                    "a notebook minute count",
                    &body,
                    raw_wanted,
                )?;
                (
                    series::group(
                        map::notebook_buckets(&self.cfg.name, &w)?,
                        interval,
                        Aggregate::Sum,
                        range,
                    ),
                    Aggregate::Sum,
                    raw,
                )
            }
            SeriesSource::PayloadBreakdown { resolution_ms } => {
                let call = timed("payloadCountsBreakdown")
                    .param("resolution", resolution_ms.to_string())
                    .param("asBytes", options.bytes.to_string())
                    .param(
                        "includeNonBillable",
                        options.include_non_billable.to_string(),
                    );
                let body = send(&self.cfg, cx, call).await?;
                let (w, raw) = decode_json::<PayloadCountsBreakdown>(
                    &self.cfg.name,
                    "a payload breakdown",
                    &body,
                    raw_wanted,
                )?;
                (
                    series::group(
                        map::payload_buckets(&self.cfg.name, &w)?,
                        interval,
                        Aggregate::Sum,
                        range,
                    ),
                    Aggregate::Sum,
                    raw,
                )
            }
            SeriesSource::PayloadCounts => {
                // The days `interval=day` counts: those starting inside the range. Losant
                // counts each day a range touches, so a range starting inside a day is asked
                // from the next midnight (and one inside a single day counts nothing).
                let first_day = match from.floor_day() {
                    day if day == from => day,
                    day => day.add_millis(86_400_000),
                };
                let start = first_day.unix_millis().max(start);
                let (w, raw) = if start < end {
                    let call = timed_from("payloadCounts", start)
                        .param("asBytes", options.bytes.to_string());
                    let body = send(&self.cfg, cx, call).await?;
                    decode_json::<PayloadStats>(
                        &self.cfg.name,
                        "a payload count",
                        &body,
                        raw_wanted,
                    )?
                } else {
                    (PayloadStats::default(), None)
                };
                (
                    vec![map::payload_total_point(&self.cfg.name, &w, from)?],
                    Aggregate::Sum,
                    raw,
                )
            }
        };
        Ok(Output::Series(series::build(
            metric, unit, interval, range, points, agg, raw,
        )))
    }

    async fn dispatch(&self, cx: &CallContext, op: Operation) -> Result<Output, BackendError> {
        match op {
            Operation::GetOrg { org } => {
                let (w, raw) = self.get_org(cx, &org, map::ORG_SUMMARY_FIELDS).await?;
                Ok(Output::Org(Box::new(map::org_from_wire(
                    &self.cfg.name,
                    w,
                    raw,
                )?)))
            }
            Operation::PatchOrg { org, patch } => self.patch_org(cx, &org, &patch).await,
            Operation::DeleteOrg { org } => {
                send(
                    &self.cfg,
                    cx,
                    client::call(Method::DELETE, org_path(&self.cfg, &org, None)),
                )
                .await?;
                Ok(Output::Done)
            }
            Operation::ListOrgs { query } => self.list_orgs(cx, &query).await,
            Operation::GetUsage { org } => {
                let (w, raw) = self.get_org(cx, &org, map::USAGE_SUMMARY_FIELDS).await?;
                Ok(Output::Usage(map::usage_from_org(&self.cfg.name, &w, raw)?))
            }
            Operation::GetUsageSeries {
                org,
                metric,
                interval,
                range,
                options,
            } => {
                self.series(cx, &org, metric, interval, range, options)
                    .await
            }
            other => Err(BackendError::unsupported(
                Vec::new(),
                format!("losant has no `{}` operation", other.kind().as_str()),
            )),
        }
    }
}

impl Backend for Losant {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn capabilities(&self) -> &Capabilities {
        &CAPABILITIES
    }

    fn canonical_id(&self, raw: &str) -> Result<String, String> {
        map::canonical_id(raw)
    }

    fn credential_identity(&self) -> String {
        // A fingerprint, not the token: enough to keep two tokens' cached reads apart.
        format!("{}:{}", self.cfg.instance_id, self.cfg.token.fingerprint())
    }

    fn call<'a>(
        &'a self,
        cx: &'a CallContext,
        op: Operation,
    ) -> BoxFuture<'a, Result<Output, BackendError>> {
        Box::pin(self.dispatch(cx, op))
    }
}
