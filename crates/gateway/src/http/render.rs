//! The JSON the API answers with (docs/API.md §3 and §5): the model as adapters produced it, plus
//! what only the gateway knows (the canonical id, the alias, `meta`). These types are also the
//! schemas of the OpenAPI document.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use orgway_core::{
    Assignees, Counts, Interval, Org, OrgStatus, Page, Plan, PlanRef, Quota, ResourceUse,
    Subscription, Timestamp, Unit, UsageMetric, UsagePoint, UsageSeries, UsageSummary,
};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::http::params::encode_cursor;
use crate::routing::{BackendEntry, Routing};

/// Where an answer came from.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    /// The backend's name in the routing file.
    pub backend: String,
    /// The backend's dialect: `losant`, `commvault`, `cocoon`, `enhance` or `watson-iot`.
    pub kind: &'static str,
    #[schema(value_type = String, format = DateTime)]
    pub fetched_at: Timestamp,
    /// `hit`, `miss`, `stale` or `bypass`.
    pub cache: &'static str,
}

impl Meta {
    /// The meta of an answer fetched from the backend just now, without a cache.
    pub fn fresh(entry: &BackendEntry, fetched_at: Timestamp) -> Meta {
        Self::of(entry, fetched_at, "bypass")
    }

    /// The meta of an answer fetched at `fetched_at`, answered as `cache` says.
    pub fn of(entry: &BackendEntry, fetched_at: Timestamp, cache: &'static str) -> Meta {
        Meta {
            backend: entry.name.clone(),
            kind: entry.kind.name(),
            fetched_at,
            cache,
        }
    }

    /// The meta of an answer yet to be stamped ([`Stamped::stamp`]) with how it is answered
    /// and when it was fetched.
    pub fn unstamped(entry: &BackendEntry) -> Meta {
        Self::of(entry, Timestamp::EPOCH, "")
    }
}

/// A body the cache renders once for each way it answers it (`miss`, `hit`, `stale`, and with
/// `meta` neutral for its tag): built once, and each `meta` it holds stamped before each render,
/// rather than built again from a copy of what the backend answered.
pub trait Stamped {
    /// Sets `meta.cache` and `meta.fetchedAt`, the only members a render's `cache` and fetch
    /// time change.
    fn stamp(&mut self, cache: &'static str, fetched_at: Timestamp);
}

impl Stamped for Meta {
    fn stamp(&mut self, cache: &'static str, fetched_at: Timestamp) {
        self.cache = cache;
        self.fetched_at = fetched_at;
    }
}

macro_rules! stamped_by_meta {
    ($($body:ty),*) => {$(
        impl Stamped for $body {
            fn stamp(&mut self, cache: &'static str, fetched_at: Timestamp) {
                self.meta.stamp(cache, fetched_at);
            }
        }
    )*};
}

stamped_by_meta!(OrgBody, PlanBody, UsageBody, SeriesBody, SubscriptionBody);

/// A page's items carry the page's `meta`, so each is stamped with it.
impl<T: ToSchema + Stamped> Stamped for PageBody<T> {
    fn stamp(&mut self, cache: &'static str, fetched_at: Timestamp) {
        self.meta.stamp(cache, fetched_at);
        for item in &mut self.items {
            item.stamp(cache, fetched_at);
        }
    }
}

/// An organization.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrgBody {
    /// The canonical reference, `backend:nativeId`.
    pub id: String,
    /// The alias the routing file gives this org, if any.
    pub alias: Option<String>,
    pub backend: String,
    pub kind: &'static str,
    pub native_id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub status: Option<OrgStatus>,
    /// The parent org's canonical reference, when the parent is an org of the same backend.
    pub parent_id: Option<String>,
    pub plan: Option<PlanRef>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub created_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub updated_at: Option<Timestamp>,
    pub counts: Counts,
    /// The backend's own record, with `?include=raw`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<Value>,
    pub meta: Meta,
}

/// A plan.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlanBody {
    pub id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub is_default: Option<bool>,
    pub quotas: Vec<Quota>,
    pub assignees: Option<Assignees>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<Value>,
    pub meta: Meta,
}

/// An org's current usage counters.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageBody {
    pub org: String,
    pub metrics: Vec<UsageMetric>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<Value>,
    pub meta: Meta,
}

/// A usage series.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeriesBody {
    pub org: String,
    pub metric: String,
    pub unit: Unit,
    pub interval: Interval,
    #[schema(value_type = String, format = DateTime)]
    pub from: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub to: Timestamp,
    pub points: Vec<UsagePoint>,
    /// The sum over the range, for counters; `null` for gauges such as device totals.
    pub total: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<Value>,
    pub meta: Meta,
}

/// A customer's subscription.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionBody {
    pub id: String,
    pub plan_id: Option<String>,
    pub plan_name: Option<String>,
    pub subscriber_id: Option<String>,
    pub vendor_id: Option<String>,
    pub status: Option<OrgStatus>,
    pub resources: Vec<ResourceUse>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<Value>,
    pub meta: Meta,
}

/// One page of a list.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PageBody<T: ToSchema> {
    pub items: Vec<T>,
    /// Pass as `?cursor=` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
    /// How many items the whole list holds, when the backend says.
    pub total: Option<u64>,
    pub meta: Meta,
}

/// Writes a value as a JSON answer.
pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => {
            let mut resp = (status, bytes).into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            resp
        }
        Err(e) => {
            tracing::error!(error = %e, "could not serialize an answer");
            crate::error::ApiError::internal().into_response()
        }
    }
}

/// An org as the API shows it.
pub fn org(routing: &Routing, entry: &BackendEntry, org: Org, meta: &Meta) -> OrgBody {
    OrgBody {
        id: entry.org_ref(&org.native_id),
        alias: routing
            .alias_of(&entry.name, &org.native_id)
            .map(str::to_owned),
        backend: entry.name.clone(),
        kind: entry.kind.name(),
        parent_id: org.parent_native_id.as_deref().map(|p| entry.org_ref(p)),
        native_id: org.native_id,
        name: org.name,
        description: org.description,
        status: org.status,
        plan: org.plan,
        created_at: org.created_at,
        updated_at: org.updated_at,
        counts: org.counts,
        raw: org.raw,
        meta: meta.clone(),
    }
}

/// A plan as the API shows it.
pub fn plan(plan: Plan, meta: &Meta) -> PlanBody {
    PlanBody {
        id: plan.id,
        name: plan.name,
        description: plan.description,
        is_default: plan.is_default,
        quotas: plan.quotas,
        assignees: plan.assignees,
        raw: plan.raw,
        meta: meta.clone(),
    }
}

/// A subscription as the API shows it.
pub fn subscription(entry: &BackendEntry, s: Subscription, meta: &Meta) -> SubscriptionBody {
    SubscriptionBody {
        id: s.id,
        plan_id: s.plan_id,
        plan_name: s.plan_name,
        subscriber_id: s.subscriber_native_id.as_deref().map(|n| entry.org_ref(n)),
        vendor_id: s.vendor_native_id.as_deref().map(|n| entry.org_ref(n)),
        status: s.status,
        resources: s.resources,
        raw: s.raw,
        meta: meta.clone(),
    }
}

/// A usage summary as the API shows it.
pub fn usage(org_ref: String, u: UsageSummary, meta: Meta) -> UsageBody {
    UsageBody {
        org: org_ref,
        metrics: u.metrics,
        raw: u.raw,
        meta,
    }
}

/// A usage series as the API shows it.
pub fn series(org_ref: String, s: UsageSeries, meta: Meta) -> SeriesBody {
    SeriesBody {
        org: org_ref,
        metric: s.metric,
        unit: s.unit,
        interval: s.interval,
        from: s.from,
        to: s.to,
        points: s.points,
        total: s.total,
        raw: s.raw,
        meta,
    }
}

/// A page as the API shows it; `scope` binds the next cursor to this list and sort order.
pub fn page<T, U: ToSchema>(
    p: Page<T>,
    scope: &str,
    meta: Meta,
    mut item: impl FnMut(T) -> U,
) -> PageBody<U> {
    PageBody {
        next_cursor: p.next.as_ref().map(|c| encode_cursor(c, scope)),
        total: p.total,
        items: p.items.into_iter().map(&mut item).collect(),
        meta,
    }
}
