//! The OpenAPI 3.1 document served at `/openapi.json`, generated from the handlers' path
//! annotations and the response types, never kept by hand.

use utoipa::{OpenApi, ToSchema};

use crate::error::ErrorCode;
use crate::http::{admin, handlers};

/// The error shape of docs/API.md §6 (the renderer in `error.rs` writes it).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct ErrorDoc {
    pub error: ErrorInnerDoc,
}

/// The inside of an error answer.
#[derive(Debug, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct ErrorInnerDoc {
    // A schema generated from `ErrorCode::ALL`: the document's enum of codes is never kept
    // by hand.
    /// The stable, machine-readable code (docs/API.md §6).
    pub code: ErrorCode,
    pub message: String,
    pub backend: Option<String>,
    pub backend_status: Option<u16>,
    pub request_id: String,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

/// `PATCH /v1/orgs/{org}`: a JSON merge patch; absent fields are left unchanged.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct OrgPatchDoc {
    pub name: Option<String>,
    /// `null` removes the description.
    pub description: Option<String>,
    /// active, disabled, suspended, deleted (each backend can set some of them).
    pub status: Option<String>,
}

/// `PUT /v1/orgs/{org}/plans/{plan}`.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct PlanPutDoc {
    /// Also make it the org's default plan.
    pub default: Option<bool>,
}

/// `POST /v1/orgs/{org}/customers`.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct NewCustomerDoc {
    pub name: String,
}

/// `POST /v1/orgs/{org}/customers/{customer}/subscriptions`.
#[derive(Debug, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct NewSubscriptionDoc {
    pub plan_id: String,
    pub name: Option<String>,
}

#[derive(OpenApi)]
#[openapi(
    info(title = "orgway", description = "One normalized JSON API for organizations, plans, usage, customers and subscriptions across vendor backends."),
    paths(
        handlers::get_org,
        handlers::patch_org,
        handlers::delete_org,
        handlers::list_backend_orgs,
        handlers::list_plans,
        handlers::put_plan,
        handlers::delete_plan,
        handlers::get_usage,
        handlers::get_series,
        handlers::list_customers,
        handlers::create_customer,
        handlers::list_subscriptions,
        handlers::create_subscription,
        admin::list_backends,
    ),
    tags(
        (name = "orgs"), (name = "plans"), (name = "usage"), (name = "customers"), (name = "admin")
    )
)]
struct ApiDoc;

/// The document as JSON bytes.
pub fn document() -> Vec<u8> {
    ApiDoc::openapi()
        .to_json()
        .map(String::into_bytes)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_code_enum_is_every_error_code() {
        let doc: serde_json::Value = serde_json::from_slice(&document()).unwrap();
        let schemas = &doc["components"]["schemas"];
        assert_eq!(
            schemas["ErrorInnerDoc"]["properties"]["code"]["$ref"],
            "#/components/schemas/ErrorCode"
        );
        let names: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(schemas["ErrorCode"]["enum"], serde_json::json!(names));
        assert_eq!(schemas["ErrorCode"]["type"], "string");
    }
}
