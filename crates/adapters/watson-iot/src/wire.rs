//! The vendor's JSON shapes, from the View Organization document and the 2019 "Organization
//! Administration" swagger (`Organization`, `OrganizationBluemixConfig`,
//! `OrganizationIbmMarketplaceConfig`, `DataTraffic`, `DataTrafficDetail`, `ErrorMessage`),
//! as dialects.md §5 records them. Every field is optional where the sources do not promise
//! it, so a missing field is `null` in the API rather than a failed answer.

use serde::Deserialize;

/// `GET /api/v0002/`: one organization.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    /// Six letters and digits, also the first label of the org's host name.
    pub id: Option<String>,
    pub name: Option<String>,
    /// A disabled org has its API calls rejected and its messaging off.
    pub enabled: Option<bool>,
    /// The tier: "Bluemix Free", …, "Trial", "Bronze", "Silver", "Gold", "Subscription".
    #[serde(rename = "type")]
    pub plan_type: Option<String>,
    /// Only for orgs provisioned through Bluemix.
    pub bluemix: Option<Bluemix>,
    pub ibm_marketplace: Option<IbmMarketplace>,
    pub config: Option<OrganizationConfig>,
    /// ISO 8601 date-times.
    pub created: Option<String>,
    pub updated: Option<String>,
}

/// The `bluemix` block, in either spelling: the View Organization document's
/// (`organizationGuid`, `serviceInstanceGuid`, `spaceGuid`, `planId`) or the 2019 swagger's
/// (`organization`, `serviceInstance`, `space`, `plan`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bluemix {
    pub region: Option<String>,
    pub organization_guid: Option<String>,
    pub service_instance_guid: Option<String>,
    pub space_guid: Option<String>,
    pub plan_id: Option<String>,
    pub organization: Option<String>,
    pub service_instance: Option<String>,
    pub space: Option<String>,
    pub plan: Option<String>,
}

impl Bluemix {
    /// The pricing plan's id, whichever spelling carries it.
    pub fn plan(&self) -> Option<&str> {
        self.plan_id.as_deref().or(self.plan.as_deref())
    }
}

/// `ibmMarketplace`: billing references, opaque here.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IbmMarketplace {
    pub customer_account_id: Option<serde_json::Value>,
    pub master_subscription_id: Option<serde_json::Value>,
}

/// `config`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct OrganizationConfig {
    pub historian: Option<HistorianConfig>,
}

/// `config.historian`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct HistorianConfig {
    pub enabled: Option<bool>,
    /// Months; 0 keeps data forever.
    pub retention: Option<u64>,
}

/// `GET /usage/data-traffic` (`DataTraffic`), and `GET /usage/active-devices`, whose answer
/// the sources describe only by its `average`: read as the same shape.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct UsageFigures {
    /// `YYYY-MM-DD`.
    pub start: Option<String>,
    pub end: Option<String>,
    /// Per day over the range.
    pub average: Option<u64>,
    pub total: Option<u64>,
    /// Per day, only with `detail=true`.
    pub days: Option<Vec<DayFigure>>,
}

/// One day of `days` (`DataTrafficDetail`).
#[derive(Debug, Clone, Deserialize)]
pub struct DayFigure {
    /// `YYYY-MM-DD`.
    pub date: String,
    pub total: u64,
}

/// The error body, `ErrorMessage {message, exception}`, with `violations` of the same shape
/// on a 400 (`InvalidRequestMessage`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorMessage {
    pub message: Option<String>,
    pub exception: Option<ErrorException>,
    pub violations: Option<Vec<Violation>>,
}

/// `exception`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorException {
    pub id: Option<String>,
    pub properties: Option<Vec<serde_json::Value>>,
}

/// One of `violations`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Violation {
    pub message: Option<String>,
    pub exception: Option<ErrorException>,
}
