//! The normalized resources of docs/API.md §3, as adapters produce them.
//!
//! These types carry only what a backend knows. What the gateway adds (the canonical
//! `backend:nativeId`, the alias, `meta`) is added by the gateway when it writes the response,
//! so an adapter cannot get it wrong.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::query::{Cursor, Interval, ListQuery};
use crate::time::Timestamp;

/// Lifecycle state of an org (docs/API.md §3, `status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum OrgStatus {
    /// Usable.
    Active,
    /// Switched off by an administrator.
    Disabled,
    /// Suspended (billing or policy).
    Suspended,
    /// Deleted but still listed by the backend.
    Deleted,
}

impl OrgStatus {
    /// Every status, in API order.
    pub const ALL: [OrgStatus; 4] = [
        OrgStatus::Active,
        OrgStatus::Disabled,
        OrgStatus::Suspended,
        OrgStatus::Deleted,
    ];

    /// The API's name for the status.
    pub fn as_str(self) -> &'static str {
        match self {
            OrgStatus::Active => "active",
            OrgStatus::Disabled => "disabled",
            OrgStatus::Suspended => "suspended",
            OrgStatus::Deleted => "deleted",
        }
    }

    /// Reads the API's name for a status.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// The plan an org is on, as far as the backend says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlanRef {
    /// The backend's id of the plan.
    pub id: Option<String>,
    /// The plan's display name.
    pub name: Option<String>,
}

/// Point-in-time counters of an org. Only docs/API.md's vocabulary; a counter the backend does not
/// report stays `None` and is left out of the JSON.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub devices: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub members: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub users: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub machines: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub servers: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub websites: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscriptions: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customers: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applications: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dashboards: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flows: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_bytes: Option<u64>,
}

/// An organization as one backend reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Org {
    /// The backend's own id, in its canonical spelling.
    pub native_id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub status: Option<OrgStatus>,
    /// The backend's id of the parent org, when the parent is an org of the same backend.
    pub parent_native_id: Option<String>,
    pub plan: Option<PlanRef>,
    pub created_at: Option<Timestamp>,
    pub updated_at: Option<Timestamp>,
    pub counts: Counts,
    /// The backend's own record when the caller asked for `include=raw`, less the members its
    /// adapter removes ([`crate::raw`]).
    pub raw: Option<serde_json::Value>,
}

impl Org {
    /// An org that knows only its id; every other field is unknown.
    pub fn bare(native_id: impl Into<String>) -> Self {
        Org {
            native_id: native_id.into(),
            name: None,
            description: None,
            status: None,
            parent_native_id: None,
            plan: None,
            created_at: None,
            updated_at: None,
            counts: Counts::default(),
            raw: None,
        }
    }
}

/// What a quantity counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    Count,
    Bytes,
    Minutes,
}

impl Unit {
    /// The API's name for the unit.
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "count",
            Unit::Bytes => "bytes",
            Unit::Minutes => "minutes",
        }
    }
}

/// One limit of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Quota {
    pub resource: String,
    /// `None` is unlimited.
    pub limit: Option<u64>,
    pub unit: Unit,
}

/// How many subscribers of a plan are within, under or over its quota.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Assignees {
    pub total: u64,
    pub within_quota: u64,
    pub unused: u64,
    pub over_quota: u64,
}

/// A plan of an org, or on offer by it.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub is_default: Option<bool>,
    pub quotas: Vec<Quota>,
    pub assignees: Option<Assignees>,
    pub raw: Option<serde_json::Value>,
}

/// One current counter of an org's usage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsageMetric {
    pub metric: String,
    pub value: u64,
    pub unit: Unit,
}

/// `GET /v1/orgs/{org}/usage`: the org's current counters.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageSummary {
    pub metrics: Vec<UsageMetric>,
    pub raw: Option<serde_json::Value>,
}

/// One point of a usage series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsagePoint {
    /// Start of the bucket (or of the range, for `interval=total`).
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: Timestamp,
    pub value: u64,
    /// A breakdown of `value`, or of the bucket, when the backend gives one.
    pub detail: Option<BTreeMap<String, u64>>,
}

/// `GET /v1/orgs/{org}/usage/{metric}`: a series over a time range.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageSeries {
    pub metric: String,
    pub unit: Unit,
    pub interval: Interval,
    pub from: Timestamp,
    pub to: Timestamp,
    pub points: Vec<UsagePoint>,
    /// The sum over the range, for metrics where a sum means something; `None` for gauges.
    pub total: Option<u64>,
    pub raw: Option<serde_json::Value>,
}

/// How much of one resource a subscription uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResourceUse {
    pub resource: String,
    pub used: u64,
    /// `None` is unlimited.
    pub limit: Option<u64>,
    pub unit: Unit,
}

/// A customer's subscription to one of its vendor's plans.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    pub id: String,
    pub plan_id: Option<String>,
    pub plan_name: Option<String>,
    /// Native id of the subscribing (customer) org.
    pub subscriber_native_id: Option<String>,
    /// Native id of the vendor org that sells the plan.
    pub vendor_native_id: Option<String>,
    pub status: Option<OrgStatus>,
    pub resources: Vec<ResourceUse>,
    pub raw: Option<serde_json::Value>,
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<Cursor>,
    /// How many items the whole list holds, when the backend says.
    pub total: Option<u64>,
}

impl<T> Page<T> {
    /// A page of an offset-paged list: the next cursor is computed from the offset, the number of
    /// items returned and the total, when known; without a total, a full page implies more.
    pub fn from_offset(items: Vec<T>, offset: u64, limit: u32, total: Option<u64>) -> Self {
        let end = offset.saturating_add(items.len() as u64);
        let more = match total {
            Some(t) => end < t,
            None => items.len() as u64 >= u64::from(limit),
        };
        Page {
            next: (more && !items.is_empty()).then_some(Cursor::Offset(end)),
            items,
            total,
        }
    }

    /// The page `query` asks for of a list held whole (a backend that returns all of it at
    /// once): the items from the query's offset, at most `limit` of them, with the whole list's
    /// length as the total.
    pub fn window(items: Vec<T>, query: &ListQuery) -> Self {
        let total = items.len() as u64;
        let offset = query.offset();
        let window: Vec<T> = items
            .into_iter()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(query.limit as usize)
            .collect();
        Page::from_offset(window, offset, query.limit, Some(total))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_leave_out_unknown_keys() {
        let c = Counts {
            devices: Some(12),
            storage_bytes: Some(5),
            ..Counts::default()
        };
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"devices":12,"storageBytes":5}"#
        );
    }

    #[test]
    fn offset_pages() {
        let p = Page::from_offset(vec![1, 2], 0, 2, Some(3));
        assert_eq!(p.next, Some(Cursor::Offset(2)));
        let p = Page::from_offset(vec![3], 2, 2, Some(3));
        assert_eq!(p.next, None);
        let p = Page::from_offset(vec![1, 2], 0, 2, None);
        assert_eq!(p.next, Some(Cursor::Offset(2)));
        let p: Page<u8> = Page::from_offset(vec![], 4, 2, None);
        assert_eq!(p.next, None);
    }

    #[test]
    fn windows_of_whole_lists() {
        let q = |limit: u32, offset: Option<u64>| ListQuery {
            limit,
            cursor: offset.map(Cursor::Offset),
            ..ListQuery::first()
        };
        let p = Page::window(vec![1, 2, 3, 4, 5], &q(2, None));
        assert_eq!(
            (p.items, p.next, p.total),
            (vec![1, 2], Some(Cursor::Offset(2)), Some(5))
        );
        let p = Page::window(vec![1, 2, 3, 4, 5], &q(2, Some(4)));
        assert_eq!((p.items, p.next, p.total), (vec![5], None, Some(5)));
        let p = Page::window(vec![1, 2, 3], &q(3, None));
        assert_eq!((p.items, p.next), (vec![1, 2, 3], None), "exactly one page");
        let p = Page::window(vec![1, 2], &q(2, Some(u64::MAX)));
        assert_eq!(
            (p.items, p.next, p.total),
            (vec![], None, Some(2)),
            "past the end"
        );
    }

    #[test]
    fn statuses_round_trip() {
        for s in OrgStatus::ALL {
            assert_eq!(OrgStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(OrgStatus::parse("Active"), None);
    }
}
