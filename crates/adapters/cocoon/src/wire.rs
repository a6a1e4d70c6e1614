//! The Access Service's JSON shapes (dialects.md §3.3), as far as orgway reads them: unknown
//! members are ignored and every member is optional, since only one answer of the API is shown
//! in full (the seed's `…/statistics/plans`).
//!
//! Numbers the vendor may send as strings of digits (`"quota": "4096"`, `"count": "2"`, ids)
//! are kept as [`Num`], the JSON value as sent, and read by `map::digits`, which names the
//! member when it is not a whole number.

use serde::Deserialize;
use serde_json::Value;

/// A number as sent: a string of digits, or a JSON number.
pub type Num = Value;

/// A list: the items under `items` (the seed's example) or `item` (its prose), with `count`
/// and `offset`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct List {
    pub items: Option<Vec<Value>>,
    pub item: Option<Vec<Value>>,
    pub count: Option<Num>,
    pub offset: Option<Num>,
}

/// An item of `GET …/organisations/{orgGroupId}/statistics/plans` (the seed).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanStatistics {
    pub id: Option<Num>,
    pub name: Option<String>,
    /// MiB.
    pub quota: Option<Num>,
    pub originators_count: Option<Num>,
    pub percentage_of_all_originators: Option<f64>,
    pub unused_plan_quota_originators_count: Option<Num>,
    pub used_plan_quota_originators_count: Option<Num>,
    pub exceeded_plan_quota_originators_count: Option<Num>,
}

/// An item of `GET …/organisations/{orgGroupId}/plans`: `id, name, description, quota` and the
/// default flag, whose key the page read cuts off (`isDefault`, dialects.md's inference).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanDetails {
    pub id: Option<Num>,
    pub name: Option<String>,
    pub description: Option<String>,
    /// MiB.
    pub quota: Option<Num>,
    pub is_default: Option<bool>,
}

/// `GET /api/v1/organisations/{orgGroupId}`, and an item of the organisation list. The members
/// are the update page's field list (dialects.md §3.1).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Organisation {
    pub id: Option<Num>,
    /// The name the vendor's paths give the id (`/organisations/{orgGroupId}`), read when a
    /// record carries it instead of `id` (the record's shape was not recoverable: dialects.md
    /// §3.3).
    pub org_group_id: Option<Num>,
    pub name: Option<String>,
    pub description: Option<String>,
    /// Storage allocated to the organisation, MiB.
    pub quota: Option<Num>,
    pub admin_email: Option<String>,
    pub contact_email: Option<String>,
    pub company_name: Option<String>,
}

/// `GET …/statistics/users`: users per role, Ad hoc users excluded (the names of the vendor's
/// page).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserStatistics {
    pub originator_count: Option<Num>,
    pub collaborator_count: Option<Num>,
    pub organisation_admin_count: Option<Num>,
}

/// `GET …/statistics/items/storage`: allocated and required storage (MiB) and used storage
/// (bytes). The page's member names were not recoverable (dialects.md §3.1 gives only what
/// they mean); these are orgway's reading, and a member that is absent is simply not reported.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StorageStatistics {
    pub allocated_storage: Option<Num>,
    pub required_storage: Option<Num>,
    pub used_storage: Option<Num>,
}

/// The token endpoint's answer (Spring OAuth2's shape, dialects.md §3.2, inferred).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TokenAnswer {
    pub access_token: Option<String>,
    pub token_type: Option<String>,
    pub refresh_token: Option<String>,
    /// Seconds.
    pub expires_in: Option<Num>,
}

/// An error body: OAuth2's `{error, error_description}` or Spring's `{status, error, message}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorBody {
    pub error: Option<String>,
    pub error_description: Option<String>,
    pub message: Option<String>,
}
