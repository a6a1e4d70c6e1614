//! The OpenAPI 3.1 document served at `/openapi.json`, generated from the handlers' path
//! annotations and the response types, never kept by hand.
//!
//! The document is exactly as strict as the server: every parameter's schema is built here
//! from the constants the parsers of `params.rs` use (`limit` 1–500, the `sort` values, the
//! `include` values, …), each route's query parameters are the very list its handler accepts,
//! the request bodies refuse unknown fields the way `body.rs` does, and each operation lists
//! the error statuses it can answer with. What no schema can say (a sort this backend cannot
//! honour, a cursor of another list, `from` after `to`) is said in the descriptions and is a
//! documented `400`.

use std::collections::BTreeMap;

use orgway_core::{Interval, ListQuery, Metric, OrgStatus, Unit};
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{AdditionalProperties, AnyOfBuilder, SchemaType};
use utoipa::openapi::{
    ContentBuilder, HeaderBuilder, KnownFormat, ObjectBuilder, Ref, RefOr, Required, Response,
    ResponseBuilder, Schema, SchemaFormat, Type,
};
use utoipa::{IntoParams, IntoResponses, Modify, OpenApi, PartialSchema, ToSchema};

use crate::error::ErrorCode;
use crate::http::params::{
    CUSTOMER_PARAMS, CUSTOMER_STATUSES, INCLUDE_PARAMS, LIST_PARAMS, MAX_DEPTH, SERIES_PARAMS,
    sort_values,
};
use crate::http::{admin, handlers};

/// The error shape of docs/API.md §6 (the renderer in `error.rs` writes it).
#[derive(Debug, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ErrorDoc {
    pub error: ErrorInnerDoc,
}

/// The inside of an error answer.
#[derive(Debug, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub struct ErrorInnerDoc {
    // A schema generated from `ErrorCode::ALL`: the document's enum of codes is never kept
    // by hand.
    /// The stable, machine-readable code (docs/API.md §6).
    pub code: ErrorCode,
    pub message: String,
    /// The backend involved, if any.
    #[schema(required = true)]
    pub backend: Option<String>,
    /// The HTTP status the backend answered with, if it answered.
    #[schema(required = true)]
    pub backend_status: Option<u16>,
    pub request_id: String,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

// --- Shapes of the values the parsers accept.

/// Characters that make a text blank: what Rust's `str::trim` removes (Unicode `White_Space`),
/// spelled out so every regular-expression dialect reads it alike.
const WHITE_SPACE: &str = r"\x09-\x0D\x20\x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";

/// Control characters (`char::is_control`, Unicode `Cc`).
const CONTROL: &str = r"\x00-\x1F\x7F-\x9F";

/// A display name as `body::check_name` accepts it: not blank, no control characters, at most
/// `MAX_NAME_CHARS` characters.
fn display_name() -> ObjectBuilder {
    string()
        .min_length(Some(1))
        .max_length(Some(crate::http::body::MAX_NAME_CHARS))
        .pattern(Some(format!(
            "^[^{CONTROL}]*[^{CONTROL}{WHITE_SPACE}][^{CONTROL}]*$"
        )))
}

/// A backend's name (`config::is_backend_name`).
const BACKEND_NAME: &str = "[a-z0-9][a-z0-9-]{0,62}";
/// An alias from the routing file (`config::is_alias`).
const ALIAS: &str = "[A-Za-z0-9][A-Za-z0-9._-]{0,127}";
/// The characters of every dialect's native ids (Losant hex digits, Commvault digits; UUIDs and
/// lowercase letters for the others). Each backend checks its own shape: another shape is
/// `400 invalid_org_ref` there.
const NATIVE_ID: &str = "[0-9A-Za-z-]{1,64}";

/// An org reference: an alias, or `backend:nativeId` (`routing::Routing::resolve`).
fn org_ref_pattern() -> String {
    format!("^(?:{ALIAS}|{BACKEND_NAME}:{NATIVE_ID})$")
}

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

fn nullable(t: Type) -> SchemaType {
    SchemaType::Array(vec![t, Type::Null])
}

fn enum_of<S: Into<String>>(values: impl IntoIterator<Item = S>) -> ObjectBuilder {
    string().enum_values(Some(values.into_iter().map(Into::into)))
}

/// A timestamp as `from` and `to` accept it (`Timestamp::parse_api`): RFC 3339, or
/// milliseconds since the epoch as a string of digits.
fn timestamp_schema() -> AnyOfBuilder {
    AnyOfBuilder::new()
        .item(string().format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))))
        .item(string().pattern(Some("^[0-9]+$")))
}

fn path_param(name: &str, description: &str, schema: impl Into<RefOr<Schema>>) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some(description))
        .schema(Some(schema))
        .build()
}

fn query_param(name: &str, description: &str, schema: impl Into<RefOr<Schema>>) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(schema))
        .build()
}

/// The declaration of one query parameter, by its name in the handlers' lists; `None` for a
/// name this table lacks (a test checks that every name a handler accepts is here).
fn query_parameter(name: &str) -> Option<Parameter> {
    let p = match name {
        "include" => query_param(
            name,
            "`raw` adds `raw`, the backend's own record (docs/API.md §1); no other value.",
            enum_of(["raw"]),
        ),
        "limit" => query_param(
            name,
            "Page size.",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1))
                .maximum(Some(ListQuery::MAX_LIMIT))
                .default(Some(ListQuery::DEFAULT_LIMIT.into())),
        ),
        "cursor" => query_param(
            name,
            "The previous page's `nextCursor`, as it was. A cursor the gateway did not issue, or \
             one of another list or sort order, is `400`.",
            string()
                .min_length(Some(1))
                .pattern(Some("^[A-Za-z0-9_-]+$")),
        ),
        "sort" => query_param(
            name,
            "A field, `-` first for descending. Which fields a list honours depends on its \
             backend (`GET /v1/backends`, `capabilities.lists`); another is `400`.",
            enum_of(sort_values()),
        ),
        "status" => query_param(
            name,
            "Only customers with this status.",
            enum_of(CUSTOMER_STATUSES.iter().map(|s| s.as_str())),
        ),
        "recursive" => query_param(
            name,
            "`true` also lists the customers of reseller customers; `true` or `false` only.",
            ObjectBuilder::new()
                .schema_type(Type::Boolean)
                .default(Some(false.into())),
        ),
        "maxDepth" => query_param(
            name,
            "How deep a recursive list goes; given without `recursive`, the list is recursive (with `recursive=false` it has no effect).",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1))
                .maximum(Some(MAX_DEPTH)),
        ),
        "from" => query_param(
            name,
            "Start of the range, inclusive: RFC 3339 or milliseconds since the epoch (years 1 \
             to 9999). Default 30 days before `to`. `from` must be before `to`, and the range \
             at most 400 days, else `400`; so is a range the backend keeps no usage for \
             (Losant: one that ends by 1970-01-01T00:00:00.001Z).",
            timestamp_schema(),
        ),
        "to" => query_param(
            name,
            "End of the range, exclusive: RFC 3339 or milliseconds since the epoch (years 1 to \
             9999). Default now.",
            timestamp_schema(),
        ),
        "interval" => query_param(
            name,
            "Bucket size (default `day`). One the backend cannot give for this metric is `501`, \
             listing those it can.",
            Interval::schema(),
        ),
        "unit" => query_param(
            name,
            "The metric's own unit, or `bytes` for sizes where the backend has them (`501` \
             where it has not); another unit is `400`.",
            Unit::schema(),
        ),
        "billable" => query_param(
            name,
            "`false` includes non-billable items (`501` where the backend has none); `true` \
             or `false` only.",
            ObjectBuilder::new()
                .schema_type(Type::Boolean)
                .default(Some(true.into())),
        ),
        _ => return None,
    };
    Some(p)
}

/// The declarations of a route's query parameters: exactly the names its handler accepts.
fn query_parameters(names: &[&str]) -> Vec<Parameter> {
    names.iter().filter_map(|n| query_parameter(n)).collect()
}

fn org_parameter(name: &str, description: &str) -> Parameter {
    path_param(name, description, string().pattern(Some(org_ref_pattern())))
}

const ORG: &str = "An alias from the routing file, or `backend:nativeId`. An unknown backend or \
                   alias is `404`; a native id of the wrong shape for its backend (Losant 24 \
                   hexadecimal digits, Commvault a positive integer) is `400 invalid_org_ref`.";

/// `{org}`.
#[derive(Debug)]
pub struct OrgPath;

impl IntoParams for OrgPath {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![org_parameter("org", ORG)]
    }
}

/// `{org}/customers/{customer}`.
#[derive(Debug)]
pub struct OrgCustomerPath;

impl IntoParams for OrgCustomerPath {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            org_parameter("org", &format!("The vendor org. {ORG}")),
            org_parameter(
                "customer",
                "The customer org, on the vendor org's backend (another backend is \
                 `400 invalid_org_ref`): an alias or `backend:nativeId`.",
            ),
        ]
    }
}

/// `{org}/plans/{plan}`.
#[derive(Debug)]
pub struct OrgPlanPath;

impl IntoParams for OrgPlanPath {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        // Not blank, no control characters (`handlers::check_plan_name`).
        let pattern = format!("^[^{CONTROL}]*[^{CONTROL}{WHITE_SPACE}][^{CONTROL}]*$");
        vec![
            org_parameter("org", ORG),
            path_param(
                "plan",
                "The plan's id or name, as the backend knows it.",
                string()
                    .min_length(Some(1))
                    .max_length(Some(handlers::MAX_PLAN_LEN))
                    .pattern(Some(pattern)),
            ),
        ]
    }
}

/// `{org}/usage/{metric}`.
#[derive(Debug)]
pub struct OrgMetricPath;

impl IntoParams for OrgMetricPath {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            org_parameter("org", ORG),
            path_param(
                "metric",
                "A metric of docs/API.md §3. One the backend does not offer is `501`, listing \
                 those it does (`GET /v1/backends`, `capabilities.usageMetrics`).",
                enum_of(Metric::ALL.iter().map(|m| m.as_str())),
            ),
        ]
    }
}

/// `{backend}`.
#[derive(Debug)]
pub struct BackendPath;

impl IntoParams for BackendPath {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![path_param(
            "backend",
            "A backend's name in the routing file; another is `404`.",
            string().pattern(Some(format!("^{BACKEND_NAME}$"))),
        )]
    }
}

/// The query of a route that reads or writes one resource.
#[derive(Debug)]
pub struct IncludeQuery;

impl IntoParams for IncludeQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        query_parameters(&INCLUDE_PARAMS)
    }
}

/// The query of a list.
#[derive(Debug)]
pub struct ListQueryParams;

impl IntoParams for ListQueryParams {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        query_parameters(&LIST_PARAMS)
    }
}

/// The query of a customer list.
#[derive(Debug)]
pub struct CustomerQueryParams;

impl IntoParams for CustomerQueryParams {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        query_parameters(&CUSTOMER_PARAMS)
    }
}

/// The query of a usage series.
#[derive(Debug)]
pub struct SeriesQueryParams;

impl IntoParams for SeriesQueryParams {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        query_parameters(&SERIES_PARAMS)
    }
}

// --- Error answers.

/// An error answer of one status, in the shape of [`ErrorDoc`].
fn error_response(status: u16, description: &str) -> (String, RefOr<Response>) {
    let mut r = ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("ErrorDoc")))
            .build(),
    );
    if status == 503 {
        r = r.header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(1)),
                ))
                .description(Some("Seconds to wait before trying again."))
                .build(),
        );
    }
    (status.to_string(), r.build().into())
}

/// The error answers of an org route, by status: what each means there.
fn org_error(status: u16) -> (String, RefOr<Response>) {
    let description = match status {
        400 => {
            "`bad_request`: an unknown, repeated or malformed query parameter, a malformed \
             body, or a value this backend cannot take (a sort it cannot honour, a cursor of \
             another list, a reversed or too long range, another metric's unit); \
             `invalid_org_ref`: a native id of the wrong shape for its backend"
        }
        401 => AUTH_401,
        403 => AUTH_403,
        429 => LIMIT_429,
        404 => "`not_found`: an unknown backend or alias, or the backend says it does not exist",
        409 => {
            "`conflict`: the backend reports a duplicate; an `Idempotency-Key` whose first request is running, or whose outcome is unknown or its answer no longer held"
        }
        413 => "`payload_too_large`: the body is over the configured limit",
        422 => {
            "`unsupported_field`: a field this backend cannot change, or a status it cannot \
             set (`details.fields` names them)"
        }
        501 => {
            "`unsupported`: the backend's dialect has no such operation, metric, interval or \
             unit (`details.supported` lists what it has)"
        }
        502 => {
            "`backend_error`, `backend_auth_failed`, `backend_bad_response`: the backend \
             failed, refused the gateway's own credentials, or sent something unparseable; on \
             a write, `details.outcome` says whether the change was made (`applied`) or may \
             have been (`unknown`)"
        }
        503 => {
            "`backend_unavailable`: the backend is unreachable or rate-limiting the gateway; \
             `unavailable`: the gateway is draining"
        }
        504 => {
            "`backend_timeout`: the backend did not answer in time (on a write, \
             `details.outcome`: `unknown`)"
        }
        _ => "an error",
    };
    error_response(status, description)
}

fn org_errors(statuses: &[u16]) -> BTreeMap<String, RefOr<Response>> {
    statuses.iter().map(|s| org_error(*s)).collect()
}

/// Statuses of a read through a backend.
const READ: [u16; 9] = [400, 401, 403, 404, 429, 501, 502, 503, 504];

/// `429`, on every `/v1` route.
const LIMIT_429: &str = "`rate_limited`: the caller is over its rate, or the gateway's rate for \
     the backend is reached; `Retry-After` says when to try again";

/// `401`, on every `/v1` route.
const AUTH_401: &str = "`unauthorized`: no bearer token, or one that is malformed, expired, not \
     yet valid, wrongly signed, signed with a key or algorithm the gateway does not accept, or \
     for another issuer or audience";
/// `403`, on every `/v1` route.
const AUTH_403: &str = "`forbidden`: the token lacks the route's scope (or `raw:read` for \
     `include=raw`), or does not grant the org or backend (whether or not it exists)";

/// The errors of a read through a backend (and of `GET /v1/backends/{backend}/orgs`).
#[derive(Debug)]
pub struct ReadErrors;

impl IntoResponses for ReadErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        org_errors(&READ)
    }
}

/// The errors of a write without a body (the deletes).
#[derive(Debug)]
pub struct DeleteErrors;

impl IntoResponses for DeleteErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        org_errors(&[READ.as_slice(), &[409]].concat())
    }
}

/// The errors of a write with a body (`PUT` a plan, `POST` a customer or subscription).
#[derive(Debug)]
pub struct WriteErrors;

impl IntoResponses for WriteErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        org_errors(&[READ.as_slice(), &[409, 413]].concat())
    }
}

/// The errors of `PATCH /v1/orgs/{org}`.
#[derive(Debug)]
pub struct PatchErrors;

impl IntoResponses for PatchErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        org_errors(&[READ.as_slice(), &[409, 413, 422]].concat())
    }
}

/// The errors of `GET /v1/backends`: only a query it does not take.
#[derive(Debug)]
pub struct AdminErrors;

impl IntoResponses for AdminErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        [
            error_response(
                400,
                "`bad_request`: a query parameter (this route takes none)",
            ),
            error_response(401, AUTH_401),
            error_response(403, AUTH_403),
            error_response(429, LIMIT_429),
        ]
        .into_iter()
        .collect()
    }
}

/// The errors of the purge routes: a malformed or unknown backend or org, a query.
#[derive(Debug)]
pub struct PurgeErrors;

impl IntoResponses for PurgeErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        [
            error_response(
                400,
                "`bad_request` or `invalid_org_ref`: a malformed org reference, or a query parameter (these routes take none)",
            ),
            error_response(401, AUTH_401),
            error_response(403, AUTH_403),
            error_response(404, "`not_found`: no such backend or alias"),
            error_response(429, LIMIT_429),
        ]
        .into_iter()
        .collect()
    }
}

// --- Request bodies, as strict as `body.rs`: unknown fields are refused, names are not blank.

fn closed_object() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(false)))
}

/// `PATCH /v1/orgs/{org}`: a JSON merge patch; absent fields are left unchanged.
#[derive(Debug)]
pub struct OrgPatchDoc;

impl PartialSchema for OrgPatchDoc {
    fn schema() -> RefOr<Schema> {
        closed_object()
            .description(Some(
                "A JSON merge patch (RFC 7396) of `name`, `description` and `status`; absent \
                 fields are left unchanged, `{}` changes nothing. A field this backend cannot \
                 change is `422 unsupported_field`.",
            ))
            .property(
                "name",
                display_name().description(Some(
                    "Not blank, no control characters, at most 255 characters; cannot be \
                     removed (null).",
                )),
            )
            .property(
                "description",
                ObjectBuilder::new()
                    .schema_type(nullable(Type::String))
                    .description(Some("`null` removes the description.")),
            )
            .property("status", OrgStatus::schema())
            .into()
    }
}

impl ToSchema for OrgPatchDoc {}

/// `PUT /v1/orgs/{org}/plans/{plan}`.
#[derive(Debug)]
pub struct PlanPutDoc;

impl PartialSchema for PlanPutDoc {
    fn schema() -> RefOr<Schema> {
        closed_object()
            .description(Some("Optional: an empty body is `{}`."))
            .property(
                "default",
                ObjectBuilder::new()
                    .schema_type(nullable(Type::Boolean))
                    .description(Some("Also make it the org's default plan.")),
            )
            .into()
    }
}

impl ToSchema for PlanPutDoc {}

/// Makes the body of `PUT /v1/orgs/{org}/plans/{plan}` optional. The annotation can only say
/// "optional" as "nullable", and a `null` body is no object (`400`): so the annotation declares
/// the object, and this says it may be left out.
struct OptionalPlanBody;

impl Modify for OptionalPlanBody {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let body = api
            .paths
            .paths
            .get_mut("/v1/orgs/{org}/plans/{plan}")
            .and_then(|item| item.put.as_mut())
            .and_then(|op| op.request_body.as_mut());
        if let Some(RefOr::T(body)) = body {
            body.required = Some(Required::False);
        }
    }
}

/// `POST /v1/orgs/{org}/customers`.
#[derive(Debug)]
pub struct NewCustomerDoc;

impl PartialSchema for NewCustomerDoc {
    fn schema() -> RefOr<Schema> {
        closed_object()
            .property(
                "name",
                display_name().description(Some(
                    "Not blank, no control characters, at most 255 characters.",
                )),
            )
            .required("name")
            .into()
    }
}

impl ToSchema for NewCustomerDoc {}

/// `POST /v1/orgs/{org}/customers/{customer}/subscriptions`.
#[derive(Debug)]
pub struct NewSubscriptionDoc;

impl PartialSchema for NewSubscriptionDoc {
    fn schema() -> RefOr<Schema> {
        closed_object()
            .property(
                "planId",
                display_name().description(Some(
                    "One of the vendor's plans, in its own form (an integer for Enhance: \
                     another form is `400`); not blank, no control characters.",
                )),
            )
            .property(
                "name",
                ObjectBuilder::new()
                    .schema_type(nullable(Type::String))
                    .min_length(Some(1))
                    .max_length(Some(crate::http::body::MAX_NAME_CHARS))
                    .pattern(Some(format!(
                        "^[^{CONTROL}]*[^{CONTROL}{WHITE_SPACE}][^{CONTROL}]*$"
                    ))),
            )
            .required("planId")
            .into()
    }
}

impl ToSchema for NewSubscriptionDoc {}

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
        admin::purge_backend,
        admin::purge_org,
    ),
    components(schemas(ErrorDoc)),
    modifiers(&OptionalPlanBody),
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
    use crate::http::params::NO_PARAMS;

    fn doc() -> serde_json::Value {
        serde_json::from_slice(&document()).unwrap()
    }

    #[test]
    fn the_error_code_enum_is_every_error_code() {
        let doc = doc();
        let schemas = &doc["components"]["schemas"];
        assert_eq!(
            schemas["ErrorInnerDoc"]["properties"]["code"]["$ref"],
            "#/components/schemas/ErrorCode"
        );
        let names: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(schemas["ErrorCode"]["enum"], serde_json::json!(names));
        assert_eq!(schemas["ErrorCode"]["type"], "string");
    }

    /// Each operation declares exactly the query parameters its handler passes to
    /// `Params::parse`: no fewer (a valid request would look invalid) and no more.
    #[test]
    fn each_operation_declares_the_query_its_handler_accepts() {
        let doc = doc();
        let accepted: [(&str, &[&str]); 16] = [
            ("get_org", &INCLUDE_PARAMS),
            ("patch_org", &INCLUDE_PARAMS),
            ("delete_org", &NO_PARAMS),
            ("list_backend_orgs", &LIST_PARAMS),
            ("list_plans", &LIST_PARAMS),
            ("put_plan", &INCLUDE_PARAMS),
            ("delete_plan", &NO_PARAMS),
            ("get_usage", &INCLUDE_PARAMS),
            ("get_series", &SERIES_PARAMS),
            ("list_customers", &CUSTOMER_PARAMS),
            ("create_customer", &INCLUDE_PARAMS),
            ("list_subscriptions", &LIST_PARAMS),
            ("create_subscription", &INCLUDE_PARAMS),
            ("list_backends", &NO_PARAMS),
            ("purge_backend", &NO_PARAMS),
            ("purge_org", &NO_PARAMS),
        ];
        let mut seen = 0;
        for item in doc["paths"].as_object().unwrap().values() {
            for op in item.as_object().unwrap().values() {
                let id = op["operationId"].as_str().unwrap();
                let want = accepted
                    .iter()
                    .find(|(i, _)| *i == id)
                    .unwrap_or_else(|| panic!("{id} is not in this test"))
                    .1;
                let params = op["parameters"].as_array().cloned().unwrap_or_default();
                let query: Vec<&str> = params
                    .iter()
                    .filter(|p| p["in"] == "query")
                    .map(|p| p["name"].as_str().unwrap())
                    .collect();
                assert_eq!(query, want, "{id}");
                for p in &params {
                    assert!(p["schema"].is_object(), "{id}: {p}");
                }
                seen += 1;
            }
        }
        assert_eq!(seen, accepted.len());
    }

    /// The code points of a regular-expression character class body written with `\xHH`,
    /// `\uHHHH`, plain characters and `-` ranges.
    fn class_code_points(class: &str) -> std::collections::BTreeSet<u32> {
        let mut singles = Vec::new();
        let mut chars = class.chars().peekable();
        while let Some(c) = chars.next() {
            let cp = match c {
                '\\' => {
                    let width = match chars.next() {
                        Some('x') => 2,
                        Some('u') => 4,
                        other => panic!("unexpected escape {other:?}"),
                    };
                    let hex: String = (0..width).filter_map(|_| chars.next()).collect();
                    u32::from_str_radix(&hex, 16).unwrap()
                }
                '-' if !singles.is_empty() => {
                    singles.push(u32::MAX); // a range marker
                    continue;
                }
                c => c as u32,
            };
            singles.push(cp);
        }
        let mut set = std::collections::BTreeSet::new();
        let mut i = 0;
        while i < singles.len() {
            if singles.get(i + 1) == Some(&u32::MAX) {
                set.extend(singles[i]..=singles[i + 2]);
                i += 3;
            } else {
                set.insert(singles[i]);
                i += 1;
            }
        }
        set
    }

    #[test]
    fn blank_means_what_trim_removes() {
        let declared = class_code_points(WHITE_SPACE);
        let trimmed: std::collections::BTreeSet<u32> = (0..=0x10FFFF)
            .filter_map(char::from_u32)
            .filter(|c| c.is_whitespace())
            .map(|c| c as u32)
            .collect();
        assert_eq!(declared, trimmed);
        assert_eq!(
            class_code_points(CONTROL),
            (0..=0x10FFFF)
                .filter_map(char::from_u32)
                .filter(|c| c.is_control())
                .map(|c| c as u32)
                .collect()
        );
    }

    #[test]
    fn every_accepted_query_parameter_is_declared() {
        for names in [
            INCLUDE_PARAMS.as_slice(),
            &LIST_PARAMS,
            &CUSTOMER_PARAMS,
            &SERIES_PARAMS,
        ] {
            for n in names {
                assert!(query_parameter(n).is_some(), "`{n}` has no declaration");
            }
        }
    }
}
