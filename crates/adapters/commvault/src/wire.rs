//! Commvault's JSON shapes (dialects.md §2.3), as far as orgway reads them, and nothing more:
//! unknown fields are ignored and every field is optional, because the documented examples are
//! partial and a missing counter must read as "unknown", not fail the answer.

use serde::Deserialize;

/// An id that Commvault writes as a number, and sometimes as a string of digits.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum NumId {
    Num(u64),
    Text(String),
}

impl NumId {
    /// The id as decimal text.
    pub fn text(&self) -> String {
        match self {
            NumId::Num(n) => n.to_string(),
            NumId::Text(s) => s.clone(),
        }
    }
}

/// `shortName`: the org's id and short (domain) name.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShortName {
    pub id: Option<NumId>,
    pub domain_name: Option<String>,
}

/// `plan`: a plan reference.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanRef {
    pub plan_id: Option<NumId>,
    pub plan_name: Option<String>,
}

/// An element of `planDetails` or `defaultPlans`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanEntry {
    pub plan: Option<PlanRef>,
    pub subtype: Option<serde_json::Value>,
}

/// `deactivateOptions`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeactivateOptions {
    pub disable_backup: Option<bool>,
    pub disable_restore: Option<bool>,
    pub disable_login: Option<bool>,
}

/// `organizationInfo.organization`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    pub connect_name: Option<String>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
    pub short_name: Option<ShortName>,
    pub deactivate_options: Option<DeactivateOptions>,
}

/// `organizationInfo.organizationProperties`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationProperties {
    #[serde(default)]
    pub default_plans: Vec<PlanEntry>,
    pub user_count: Option<u64>,
    pub total_machine_count: Option<u64>,
    pub server_count: Option<u64>,
    pub physical_device_count: Option<u64>,
    /// Seconds since the epoch.
    pub org_creation_date_time: Option<i64>,
}

/// `GET Organization/{id}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationInfoEnvelope {
    pub organization_info: Option<OrganizationInfo>,
}

/// `organizationInfo`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationInfo {
    pub organization: Option<Organization>,
    pub organization_properties: Option<OrganizationProperties>,
    #[serde(default)]
    pub plan_details: Vec<PlanEntry>,
}

/// One element of `providers` in `GET Organization`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Provider {
    pub connect_name: Option<String>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
    pub short_name: Option<ShortName>,
}

/// `GET Organization`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Providers {
    #[serde(default)]
    pub providers: Vec<serde_json::Value>,
    pub filter_query_count: Option<u64>,
}

/// `GET V2/Plan`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PlanList {
    #[serde(default)]
    pub plans: Vec<PlanEntry>,
}

/// `POST Login` and `POST RenewLoginToken` answers: a token on success, an error list or code
/// otherwise. No `Debug`: it holds a token.
#[derive(Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenAnswer {
    pub token: Option<String>,
}

impl std::fmt::Debug for TokenAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenAnswer")
            .field("token", &self.token.as_ref().map(|_| "***"))
            .finish()
    }
}
