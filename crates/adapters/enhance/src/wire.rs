//! Enhance's wire types, read from the vendor's OpenAPI document (`orchd` 12.3.0,
//! `components.schemas`): `Org`, `CustomersListing`, `NewCustomer`, `NewResourceUuid`,
//! `OrgUpdate`, `Subscription`, `SubscriptionsListing`, `UsedResource`, `NewSubscription`,
//! `NewResourceId`, `Plan`, `PlansListing`, `Resource`, `CustomersAddedStats`
//! (`ResourceCountByInterval`), `HttpError`.
//!
//! Only the fields orgway reads are typed; the rest stays in `raw` when the caller asks. Fields
//! the document requires are still optional here where a missing one can read as "unknown",
//! and required where nothing can be made without them (ids, resource names and usage).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `Org`: an organization (customers are orgs too).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Org {
    pub id: String,
    pub parent_id: Option<String>,
    pub name: Option<String>,
    /// `active` or `deleted`.
    pub status: Option<String>,
    /// Set while the org is suspended: who suspended it.
    pub suspended_by: Option<String>,
    pub subscriptions_count: Option<u64>,
    pub websites_count: Option<u64>,
    /// Typed only `string` by the document.
    pub created_at: Option<String>,
}

/// `CustomersListing`, `SubscriptionsListing`, `PlansListing`: a page of items and the total.
/// Items are kept as JSON so each can be read into its type and kept raw.
#[derive(Debug, Clone, Deserialize)]
pub struct Listing {
    pub items: Vec<Value>,
    pub total: Option<u64>,
}

/// `NewResourceUuid`: what `createCustomer` answers.
#[derive(Debug, Clone, Deserialize)]
pub struct NewResourceUuid {
    pub id: String,
}

/// `NewResourceId`: what `createCustomerSubscription` answers (subscription ids are integers).
#[derive(Debug, Clone, Deserialize)]
pub struct NewResourceId {
    pub id: u64,
}

/// `NewCustomer`.
#[derive(Debug, Clone, Serialize)]
pub struct NewCustomer<'a> {
    pub name: &'a str,
}

/// `NewSubscription`: `planId` is an integer on the wire.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewSubscription<'a> {
    pub plan_id: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub friendly_name: Option<&'a str>,
}

/// `OrgUpdate`: the keys a patch sends (the others are left out, so unchanged).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrgUpdate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_suspended: Option<bool>,
}

/// `Subscription`: an org's subscription to a plan of its parent, with its resources' usage.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    pub id: u64,
    pub plan_id: Option<u64>,
    pub plan_name: Option<String>,
    pub subscriber_id: Option<String>,
    pub vendor_id: Option<String>,
    pub status: Option<String>,
    pub suspended_by: Option<String>,
    #[serde(default)]
    pub resources: Vec<UsedResource>,
    pub friendly_name: Option<String>,
}

/// `UsedResource`: `total` absent means unlimited (usage is still tracked).
#[derive(Debug, Clone, Deserialize)]
pub struct UsedResource {
    pub name: String,
    pub total: Option<u64>,
    pub usage: u64,
}

/// `Plan`: a plan an org offers.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub id: u64,
    pub name: Option<String>,
    pub org_id: Option<String>,
    #[serde(default)]
    pub resources: Vec<Resource>,
    pub subscriptions_count: Option<u64>,
}

/// `Resource`: one quota of a plan; `total` absent means unlimited.
#[derive(Debug, Clone, Deserialize)]
pub struct Resource {
    pub name: String,
    pub total: Option<u64>,
}

/// `ResourceCountByInterval`, one entry of `CustomersAddedStats`. `interval` is typed only
/// `string` and `resourceCount` `number`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceCountByInterval {
    pub interval: String,
    pub resource_count: f64,
}

/// `HttpError`, the document's error shape (which its 4xx answers do not declare; read when
/// present).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct HttpError {
    pub code: Option<String>,
    pub message: Option<String>,
    pub detail: Option<String>,
}
