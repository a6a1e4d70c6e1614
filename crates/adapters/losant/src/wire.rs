//! Losant's wire types, read from the vendor's JSON Schemas (`instanceOrg`, `instanceOrgs`,
//! `deviceCounts`, `notebookMinuteCounts`, `payloadCountsBreakdown`, `payloadStats`, `error`).
//!
//! Only the fields orgway reads are typed; the rest is kept in `raw` when the caller asks.
//! Every field is optional: the schemas require almost nothing, and a missing field must read
//! as "unknown", not fail the whole answer.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `instanceOrg`: one org of an instance.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceOrg {
    pub id: Option<String>,
    pub org_id: Option<String>,
    pub instance_id: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub creation_date: Option<String>,
    pub last_updated: Option<String>,
    /// A date-time when disabled; `false` (or absent) when not.
    pub disabled_at: Option<DisabledAt>,
    pub is_read_only: Option<bool>,
    pub plan_id: Option<String>,
    pub subscription_status: Option<String>,
    pub summary: Option<Summary>,
}

/// `disabledAt`: `oneOf [false, date-time]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum DisabledAt {
    Flag(bool),
    Date(String),
}

/// `instanceOrg.summary`: counters, some present only when asked for with `summaryInclude`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub api_token_count: Option<u64>,
    pub app_count: Option<u64>,
    pub dash_count: Option<u64>,
    pub data_table_count: Option<u64>,
    pub device_count: Option<u64>,
    pub device_recipe_count: Option<u64>,
    pub event_count: Option<u64>,
    pub flow_count: Option<u64>,
    pub integration_count: Option<u64>,
    pub notebook_count: Option<u64>,
    pub webhook_count: Option<u64>,
    pub member_count: Option<u64>,
    pub pending_invite_count: Option<u64>,
    pub payload_count: Option<PayloadStats>,
    pub storage_stats: Option<StorageStats>,
    pub notebook_stats: Option<NotebookStats>,
}

/// `summary.storageStats`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct StorageStats {
    pub count: Option<u64>,
    pub size: Option<u64>,
}

/// `summary.notebookStats`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotebookStats {
    pub awaiting_completion: Option<u64>,
    pub minutes_this_period: Option<u64>,
    pub runs_this_period: Option<u64>,
}

/// `instanceOrgs`: one page of the instance's orgs.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceOrgs {
    #[serde(default)]
    pub items: Vec<serde_json::Value>,
    pub count: Option<u64>,
    pub total_count: Option<u64>,
    pub per_page: Option<u64>,
    pub page: Option<u64>,
}

/// `payloadStats`: counts (or bytes) by payload type, then by source. The schema types the
/// inner values as `number`, so they are read as floats and checked to be whole.
pub type PayloadStats = BTreeMap<String, BTreeMap<String, f64>>;

/// `deviceCounts`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DeviceCounts {
    pub start: Option<String>,
    pub end: Option<String>,
    #[serde(default)]
    pub counts: Vec<DeviceCount>,
}

/// One day of `deviceCounts`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DeviceCount {
    pub date: String,
    pub created: Option<u64>,
    pub deleted: Option<u64>,
    pub total: Option<u64>,
}

/// `notebookMinuteCounts`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NotebookMinuteCounts {
    pub start: Option<String>,
    pub end: Option<String>,
    #[serde(default)]
    pub counts: Vec<NotebookMinuteCount>,
}

/// One day of `notebookMinuteCounts`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NotebookMinuteCount {
    pub date: String,
    pub minutes: Option<u64>,
    pub completed: Option<u64>,
    pub canceled: Option<u64>,
    pub errored: Option<u64>,
    pub timeout: Option<u64>,
}

/// `payloadCountsBreakdown`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PayloadCountsBreakdown {
    pub start: Option<String>,
    pub end: Option<String>,
    #[serde(default)]
    pub counts: Vec<PayloadCountBucket>,
}

/// One bucket of `payloadCountsBreakdown`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PayloadCountBucket {
    pub date: String,
    pub value: Option<f64>,
}

/// `error`: Losant's error body.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorBody {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub message: Option<String>,
}

/// `instanceOrgPatch`: the fields orgway changes. Absent fields are left out of the JSON, so
/// the vendor leaves them unchanged.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceOrgPatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled_at: Option<DisabledAt>,
}
