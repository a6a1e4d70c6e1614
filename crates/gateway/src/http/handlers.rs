//! One handler per route of docs/API.md §4. Each follows the same order, so that bad input is
//! refused before any backend is called: resolve the org reference (`404`/`400`), check the
//! backend's capabilities (`501`), parse the query and body (`400`/`413`/`422`), then call the
//! backend through its policy stack and render the answer.

use std::cmp::Ordering;
use std::sync::Arc;

use axum::Extension;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use orgway_core::{
    CallContext, Capabilities, Cursor, CustomerFilter, ListQuery, OpKind, Operation, Org,
    OrgStatus, Output, Page, Patch, Plan, Sort, SortField, Subscription, Timestamp,
};
use serde::Serialize;
use tower::ServiceExt;

use crate::error::ApiError;
use crate::http::body;
use crate::http::params::{self, LIST_PARAMS, Params, SERIES_PARAMS, cursor_scope, short};
use crate::http::render::{
    self, Meta, OrgBody, PageBody, PlanBody, SeriesBody, SubscriptionBody, UsageBody,
};
use crate::http::{App, RequestId};
use crate::policy::{BackendCall, HealthReport};
use crate::routing::{BackendEntry, OrgTarget};

type Shared = State<Arc<App>>;

/// The most items the gateway fetches to sort a list the backend cannot sort itself.
pub const MAX_GATEWAY_SORT: usize = 10_000;

fn path<T>(p: Result<Path<T>, PathRejection>) -> Result<T, ApiError> {
    p.map(|Path(v)| v)
        .map_err(|e| ApiError::bad_request(format!("the path is malformed: {}", e.body_text())))
}

/// The org reference of a route whose only parameter it is; one that does not even decode
/// (invalid UTF-8) is an invalid org reference.
fn org_path(p: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    p.map(|Path(v)| v).map_err(|e| {
        ApiError::invalid_org_ref(format!("the org reference is malformed: {}", e.body_text()))
    })
}

/// `501` unless the backend serves the operation.
fn require(entry: &BackendEntry, op: OpKind) -> Result<(), ApiError> {
    let caps = entry.adapter.capabilities();
    if caps.supports(op) {
        return Ok(());
    }
    Err(ApiError::unsupported(
        format!(
            "backend `{}` ({}) has no {} operation",
            entry.name,
            entry.kind.name(),
            op.as_str()
        ),
        caps.operations
            .iter()
            .map(|o| o.as_str().to_owned())
            .collect(),
    )
    .with_backend(&entry.name))
}

/// Calls a backend through its policy stack and takes the answer the operation has
/// (`Output::into_org`, …); an adapter answering another kind is a gateway bug, `500`.
async fn call<T>(
    app: &App,
    entry: &BackendEntry,
    rid: &RequestId,
    include_raw: bool,
    op: Operation,
    take: fn(Output) -> Option<T>,
) -> Result<T, ApiError> {
    let operation = op.kind().as_str();
    let cx = CallContext::new(rid.0.clone(), include_raw, app.transport.clone());
    let out = entry
        .service
        .clone()
        .oneshot(BackendCall { cx, op })
        .await
        .map_err(|e| ApiError::from_backend(&entry.name, e))?;
    let got = out.name();
    take(out).ok_or_else(|| {
        tracing::error!(backend = %entry.name, operation, got, "adapter answered the wrong kind of output");
        ApiError::internal()
    })
}

fn resolve(app: &App, reference: &str) -> Result<OrgTarget, ApiError> {
    app.routing.resolve(reference)
}

/// Resolves a route's org reference and checks its backend serves `op`.
fn target(app: &App, reference: &str, op: OpKind) -> Result<OrgTarget, ApiError> {
    let t = resolve(app, reference)?;
    require(&t.backend, op)?;
    Ok(t)
}

/// `GET /v1/orgs/{org}`
#[utoipa::path(get, path = "/v1/orgs/{org}", tag = "orgs",
    params(("org" = String, Path, description = "`backend:nativeId` or an alias"),
           ("include" = Option<String>, Query, description = "`raw` adds the backend's own record")),
    responses((status = 200, body = OrgBody), (status = "4XX", body = crate::http::openapi::ErrorDoc),
              (status = "5XX", body = crate::http::openapi::ErrorDoc)))]
pub async fn get_org(
    State(app): Shared,
    Extension(rid): Extension<RequestId>,
    p: Result<Path<String>, PathRejection>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let t = target(&app, &org_path(p)?, OpKind::GetOrg)?;
    let include_raw = Params::parse(q.as_deref(), &["include"])?.include_raw()?;
    let org = call(
        &app,
        &t.backend,
        &rid,
        include_raw,
        Operation::GetOrg {
            org: t.native_id.clone(),
        },
        Output::into_org,
    )
    .await?;
    let meta = Meta::fresh(&t.backend, Timestamp::now());
    Ok(render::json(
        StatusCode::OK,
        &render::org(&app.routing, &t.backend, *org, &meta),
    ))
}

/// `PATCH /v1/orgs/{org}`
#[utoipa::path(patch, path = "/v1/orgs/{org}", tag = "orgs",
    params(("org" = String, Path, description = "`backend:nativeId` or an alias")),
    request_body(content = crate::http::openapi::OrgPatchDoc, content_type = "application/merge-patch+json"),
    responses((status = 200, body = OrgBody), (status = "4XX", body = crate::http::openapi::ErrorDoc),
              (status = "5XX", body = crate::http::openapi::ErrorDoc)))]
pub async fn patch_org(
    State(app): Shared,
    Extension(rid): Extension<RequestId>,
    p: Result<Path<String>, PathRejection>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let t = target(&app, &org_path(p)?, OpKind::PatchOrg)?;
    let include_raw = Params::parse(q.as_deref(), &["include"])?.include_raw()?;
    let m = body::json_object(&headers, body, app.body_limit, true)
        .await?
        .unwrap_or_default();
    let patch = body::org_patch(&m)?;
    let caps = t.backend.adapter.capabilities();
    let unsupported: Vec<String> = patch
        .fields()
        .into_iter()
        .filter(|f| !caps.patchable.contains(f))
        .map(|f| f.as_str().to_owned())
        .collect();
    if !unsupported.is_empty() {
        return Err(ApiError::unsupported_field(
            unsupported.clone(),
            format!(
                "backend `{}` ({}) cannot change {}",
                t.backend.name,
                t.backend.kind.name(),
                unsupported.join(", ")
            ),
        )
        .with_backend(&t.backend.name));
    }
    if let Patch::Set(status) = patch.status
        && !caps.settable_statuses.contains(&status)
    {
        let can: Vec<&str> = caps.settable_statuses.iter().map(|s| s.as_str()).collect();
        return Err(ApiError::unsupported_field(
            vec!["status".into()],
            format!(
                "backend `{}` ({}) can set status to {}, not {}",
                t.backend.name,
                t.backend.kind.name(),
                can.join(" or "),
                status.as_str()
            ),
        )
        .with_backend(&t.backend.name));
    }
    // An empty merge patch changes nothing (RFC 7396); answer with the org as it is.
    let op = if patch.fields().is_empty() {
        Operation::GetOrg {
            org: t.native_id.clone(),
        }
    } else {
        Operation::PatchOrg {
            org: t.native_id.clone(),
            patch,
        }
    };
    let org = call(&app, &t.backend, &rid, include_raw, op, Output::into_org).await?;
    let meta = Meta::fresh(&t.backend, Timestamp::now());
    Ok(render::json(
        StatusCode::OK,
        &render::org(&app.routing, &t.backend, *org, &meta),
    ))
}

/// `DELETE /v1/orgs/{org}`
#[utoipa::path(delete, path = "/v1/orgs/{org}", tag = "orgs",
    params(("org" = String, Path, description = "`backend:nativeId` or an alias")),
    responses((status = 204, description = "deleted"), (status = "4XX", body = crate::http::openapi::ErrorDoc),
              (status = "5XX", body = crate::http::openapi::ErrorDoc)))]
pub async fn delete_org(
    State(app): Shared,
    Extension(rid): Extension<RequestId>,
    p: Result<Path<String>, PathRejection>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let t = target(&app, &org_path(p)?, OpKind::DeleteOrg)?;
    Params::parse(q.as_deref(), &[])?;
    call(
        &app,
        &t.backend,
        &rid,
        false,
        Operation::DeleteOrg {
            org: t.native_id.clone(),
        },
        Output::into_done,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A value's sort key for the gateway's own sorting. Text compares case-insensitively first,
/// the way people read names, and exactly second, so the order is total and stable.
/// Numeric ids compare as numbers ("2" before "10").
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Number(u128),
    Text(String, String),
    Time(Timestamp),
}

fn text(s: &str) -> Key {
    Key::Text(s.to_lowercase(), s.to_owned())
}

fn id(s: &str) -> Key {
    match s.parse::<u128>() {
        Ok(n) if s.bytes().all(|b| b.is_ascii_digit()) => Key::Number(n),
        _ => text(s),
    }
}

fn org_key(o: &Org, f: SortField) -> Option<Key> {
    match f {
        SortField::Id => Some(id(&o.native_id)),
        SortField::Name => o.name.as_deref().map(text),
        SortField::CreatedAt => o.created_at.map(Key::Time),
        SortField::UpdatedAt => o.updated_at.map(Key::Time),
        SortField::Status => o.status.map(|s| text(s.as_str())),
    }
}

fn plan_key(p: &Plan, f: SortField) -> Option<Key> {
    match f {
        SortField::Id => Some(id(&p.id)),
        SortField::Name => p.name.as_deref().map(text),
        _ => None,
    }
}

fn subscription_key(s: &Subscription, f: SortField) -> Option<Key> {
    match f {
        SortField::Id => Some(id(&s.id)),
        SortField::Name => s.plan_name.as_deref().map(text),
        SortField::Status => s.status.map(|st| text(st.as_str())),
        _ => None,
    }
}

/// Sorts items by a sort order; items without the field sort last either way.
fn sort_items<T>(items: Vec<T>, sort: Sort, key: fn(&T, SortField) -> Option<Key>) -> Vec<T> {
    let mut keyed: Vec<(Option<Key>, T)> = items
        .into_iter()
        .map(|i| (key(&i, sort.field), i))
        .collect();
    keyed.sort_by(|(a, _), (b, _)| match (a, b) {
        (Some(x), Some(y)) if sort.descending => y.cmp(x),
        (Some(x), Some(y)) => x.cmp(y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    });
    keyed.into_iter().map(|(_, i)| i).collect()
}

/// Lists one page, honouring the sort asked for: natively when the backend sorts by that
/// field, otherwise by fetching the whole list (up to [`MAX_GATEWAY_SORT`] items) and sorting
/// it here. A sort is never silently ignored.
#[allow(clippy::too_many_arguments)]
async fn list<T>(
    app: &App,
    entry: &BackendEntry,
    rid: &RequestId,
    include_raw: bool,
    query: ListQuery,
    op: OpKind,
    make: impl Fn(ListQuery) -> Operation,
    take: fn(Output) -> Option<Page<T>>,
    key: fn(&T, SortField) -> Option<Key>,
) -> Result<Page<T>, ApiError> {
    let support = entry.adapter.capabilities().list(op);
    let sort = match query.sort {
        Some(s) if !support.can_sort(s.field) => {
            let sortable: Vec<&str> = support.sortable().iter().map(|f| f.as_str()).collect();
            return Err(ApiError::bad_request(format!(
                "backend `{}` ({}) cannot sort this list by {}; it sorts by {}",
                entry.name,
                entry.kind.name(),
                s.field.as_str(),
                if sortable.is_empty() {
                    "nothing".to_owned()
                } else {
                    sortable.join(", ")
                }
            ))
            .with_backend(&entry.name));
        }
        Some(s) if !support.native_sorts.contains(&s.field) => s,
        _ => return call(app, entry, rid, include_raw, make(query), take).await,
    };
    let mut all: Vec<T> = Vec::new();
    let mut cursor: Option<Cursor> = None;
    loop {
        let page_query = ListQuery {
            limit: ListQuery::MAX_LIMIT,
            cursor: cursor.take(),
            sort: None,
        };
        let page = call(app, entry, rid, include_raw, make(page_query), take).await?;
        let got = page.items.len();
        all.extend(page.items);
        if all.len() > MAX_GATEWAY_SORT {
            return Err(ApiError::bad_request(format!(
                "sorting by {} needs the whole list, which has more than {MAX_GATEWAY_SORT} items; ask without `sort`",
                sort.field.as_str()
            ))
            .with_backend(&entry.name));
        }
        match page.next {
            Some(next) if got > 0 => cursor = Some(next),
            _ => break,
        }
    }
    let all = sort_items(all, sort, key);
    let total = all.len() as u64;
    let items: Vec<T> = all
        .into_iter()
        .skip(usize::try_from(query.offset()).unwrap_or(usize::MAX))
        .take(query.limit as usize)
        .collect();
    Ok(Page::from_offset(
        items,
        query.offset(),
        query.limit,
        Some(total),
    ))
}

/// `GET /v1/backends/{backend}/orgs`
#[utoipa::path(get, path = "/v1/backends/{backend}/orgs", tag = "orgs",
    params(("backend" = String, Path, description = "a backend's name"),
           ("limit" = Option<u32>, Query, description = "1–500, default 50"),
           ("cursor" = Option<String>, Query, description = "from the previous page's nextCursor"),
           ("sort" = Option<String>, Query, description = "name, -name, createdAt, -createdAt, updatedAt, -updatedAt, id, -id, status, -status"),
           ("include" = Option<String>, Query, description = "`raw`")),
    responses((status = 200, body = PageBody<OrgBody>), (status = "4XX", body = crate::http::openapi::ErrorDoc),
              (status = "5XX", body = crate::http::openapi::ErrorDoc)))]
pub async fn list_backend_orgs(
    State(app): Shared,
    Extension(rid): Extension<RequestId>,
    p: Result<Path<String>, PathRejection>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let entry = app.routing.backend(&path(p)?)?;
    require(&entry, OpKind::ListOrgs)?;
    let params = Params::parse(q.as_deref(), &LIST_PARAMS)?;
    let include_raw = params.include_raw()?;
    let list_name = format!("orgs|{}", entry.name);
    let query = params::list_query(&params, &list_name)?;
    let scope = cursor_scope(&list_name, query.sort);
    let page = list(
        &app,
        &entry,
        &rid,
        include_raw,
        query,
        OpKind::ListOrgs,
        |query| Operation::ListOrgs { query },
        Output::into_orgs,
        org_key,
    )
    .await?;
    let meta = Meta::fresh(&entry, Timestamp::now());
    let body = render::page(page, &scope, meta.clone(), |o| {
        render::org(&app.routing, &entry, o, &meta)
    });
    Ok(render::json(StatusCode::OK, &body))
}

/// `GET /v1/orgs/{org}/plans`
#[utoipa::path(get, path = "/v1/orgs/{org}/plans", tag = "plans",
    params(("org" = String, Path, description = "`backend:nativeId` or an alias"),
           ("limit" = Option<u32>, Query), ("cursor" = Option<String>, Query), ("sort" = Option<String>, Query),
           ("include" = Option<String>, Query)),
    responses((status = 200, body = PageBody<PlanBody>), (status = "4XX", body = crate::http::openapi::ErrorDoc),
              (status = "5XX", body = crate::http::openapi::ErrorDoc)))]
pub async fn list_plans(
    State(app): Shared,
    Extension(rid): Extension<RequestId>,
    p: Result<Path<String>, PathRejection>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let t = target(&app, &org_path(p)?, OpKind::ListPlans)?;
    let params = Params::parse(q.as_deref(), &LIST_PARAMS)?;
    let include_raw = params.include_raw()?;
    let list_name = format!("plans|{}", t.backend.org_ref(&t.native_id));
    let query = params::list_query(&params, &list_name)?;
    let scope = cursor_scope(&list_name, query.sort);
    let org = t.native_id.clone();
    let page = list(
        &app,
        &t.backend,
        &rid,
        include_raw,
        query,
        OpKind::ListPlans,
        |query| Operation::ListPlans {
            org: org.clone(),
            query,
        },
        Output::into_plans,
        plan_key,
    )
    .await?;
    let meta = Meta::fresh(&t.backend, Timestamp::now());
    let body = render::page(page, &scope, meta.clone(), |p| render::plan(p, &meta));
    Ok(render::json(StatusCode::OK, &body))
}

/// `PUT /v1/orgs/{org}/plans/{plan}`
#[utoipa::path(put, path = "/v1/orgs/{org}/plans/{plan}", tag = "plans",
    params(("org" = String, Path, description = "`backend:nativeId` or an alias"), ("plan" = String, Path, description = "the plan's id or name, as the backend knows it")),
    request_body(content = Option<crate::http::openapi::PlanPutDoc>, content_type = "application/json"),
    responses((status = 200, body = PlanBody), (status = "4XX", body = crate::http::openapi::ErrorDoc),
              (status = "5XX", body = crate::http::openapi::ErrorDoc)))]
pub async fn put_plan(
    State(app): Shared,
    Extension(rid): Extension<RequestId>,
    p: Result<Path<(String, String)>, PathRejection>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (org, plan) = path(p)?;
    let t = target(&app, &org, OpKind::PutPlan)?;
    let include_raw = Params::parse(q.as_deref(), &["include"])?.include_raw()?;
    let make_default = match body::json_object(&headers, body, app.body_limit, false).await? {
        Some(m) => {
            body::only_known(&m, &["default"])?;
            body::optional_bool(&m, "default")?.unwrap_or(false)
        }
        None => false,
    };
    check_plan_name(&plan)?;
    let plan = call(
        &app,
        &t.backend,
        &rid,
        include_raw,
        Operation::PutPlan {
            org: t.native_id.clone(),
            plan,
            make_default,
        },
        Output::into_plan,
    )
    .await?;
    let meta = Meta::fresh(&t.backend, Timestamp::now());
    Ok(render::json(StatusCode::OK, &render::plan(plan, &meta)))
}

fn check_plan_name(plan: &str) -> Result<(), ApiError> {
    if plan.trim().is_empty() || plan.len() > 1024 || plan.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!(
            "`{}` is not a plan id or name",
            short(plan)
        )));
    }
    Ok(())
}

/// `DELETE /v1/orgs/{org}/plans/{plan}`
#[utoipa::path(delete, path = "/v1/orgs/{org}/plans/{plan}", tag = "plans",
    params(("org" = String, Path, description = "`backend:nativeId` or an alias"), ("plan" = String, Path)),
    responses((status = 204, description = "dissociated"), (status = "4XX", body = crate::http::openapi::ErrorDoc),
              (status = "5XX", body = crate::http::openapi::ErrorDoc)))]
pub async fn delete_plan(
    State(app): Shared,
    Extension(rid): Extension<RequestId>,
    p: Result<Path<(String, String)>, PathRejection>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let (org, plan) = path(p)?;
    let t = target(&app, &org, OpKind::DeletePlan)?;
    Params::parse(q.as_deref(), &[])?;
    check_plan_name(&plan)?;
    call(
        &app,
        &t.backend,
        &rid,
        false,
        Operation::DeletePlan {
            org: t.native_id.clone(),
            plan,
        },
        Output::into_done,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /v1/orgs/{org}/usage`
#[utoipa::path(get, path = "/v1/orgs/{org}/usage", tag = "usage",
    params(("org" = String, Path, description = "`backend:nativeId` or an alias"), ("include" = Option<String>, Query)),
    responses((status = 200, body = UsageBody), (status = "4XX", body = crate::http::openapi::ErrorDoc),
              (status = "5XX", body = crate::http::openapi::ErrorDoc)))]
pub async fn get_usage(
    State(app): Shared,
    Extension(rid): Extension<RequestId>,
    p: Result<Path<String>, PathRejection>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let t = target(&app, &org_path(p)?, OpKind::GetUsage)?;
    let include_raw = Params::parse(q.as_deref(), &["include"])?.include_raw()?;
    let u = call(
        &app,
        &t.backend,
        &rid,
        include_raw,
        Operation::GetUsage {
            org: t.native_id.clone(),
        },
        Output::into_usage,
    )
    .await?;
    let meta = Meta::fresh(&t.backend, Timestamp::now());
    Ok(render::json(
        StatusCode::OK,
        &render::usage(t.backend.org_ref(&t.native_id), u, meta),
    ))
}

/// `GET /v1/orgs/{org}/usage/{metric}`
#[utoipa::path(get, path = "/v1/orgs/{org}/usage/{metric}", tag = "usage",
    params(("org" = String, Path, description = "`backend:nativeId` or an alias"),
           ("metric" = String, Path, description = "devices, notebook-minutes, payloads, data-traffic, active-devices, customers-added"),
           ("from" = Option<String>, Query, description = "RFC 3339 or ms since the epoch; default 30 days before `to`"),
           ("to" = Option<String>, Query, description = "RFC 3339 or ms since the epoch; default now"),
           ("interval" = Option<String>, Query, description = "hour, day (default), month, total"),
           ("unit" = Option<String>, Query, description = "`bytes` for sizes (payloads)"),
           ("billable" = Option<bool>, Query, description = "`false` includes non-billable items"),
           ("include" = Option<String>, Query)),
    responses((status = 200, body = SeriesBody), (status = "4XX", body = crate::http::openapi::ErrorDoc),
              (status = "5XX", body = crate::http::openapi::ErrorDoc)))]
pub async fn get_series(
    State(app): Shared,
    Extension(rid): Extension<RequestId>,
    p: Result<Path<(String, String)>, PathRejection>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let (org, metric) = path(p)?;
    let t = resolve(&app, &org)?;
    let caps: &Capabilities = t.backend.adapter.capabilities();
    // A backend without series offers no metric: 501 listing none, like any metric it lacks.
    let offered = if caps.supports(OpKind::GetUsageSeries) {
        caps.metrics
    } else {
        &[]
    };
    let support = params::metric(&metric, offered, &t.backend.name)?;
    let params = Params::parse(q.as_deref(), &SERIES_PARAMS)?;
    let include_raw = params.include_raw()?;
    let s = params::series(&params, &support, Timestamp::now())
        .map_err(|e| e.with_backend(&t.backend.name))?;
    let op = Operation::GetUsageSeries {
        org: t.native_id.clone(),
        metric: support.metric,
        interval: s.interval,
        range: s.range,
        options: s.options,
    };
    let series = call(&app, &t.backend, &rid, include_raw, op, Output::into_series).await?;
    let meta = Meta::fresh(&t.backend, Timestamp::now());
    Ok(render::json(
        StatusCode::OK,
        &render::series(t.backend.org_ref(&t.native_id), series, meta),
    ))
}

/// Resolves a customer reference: an org of the same backend as the vendor org.
fn customer(app: &App, vendor: &OrgTarget, reference: &str) -> Result<String, ApiError> {
    let c = resolve(app, reference)?;
    if c.backend.name != vendor.backend.name {
        return Err(ApiError::invalid_org_ref(format!(
            "customer `{}` is on backend `{}`, not on `{}` with its vendor",
            short(reference),
            c.backend.name,
            vendor.backend.name
        )));
    }
    Ok(c.native_id)
}

/// `GET /v1/orgs/{org}/customers`
#[utoipa::path(get, path = "/v1/orgs/{org}/customers", tag = "customers",
    params(("org" = String, Path, description = "`backend:nativeId` or an alias"),
           ("limit" = Option<u32>, Query), ("cursor" = Option<String>, Query), ("sort" = Option<String>, Query),
           ("status" = Option<String>, Query, description = "active, suspended, deleted"),
           ("recursive" = Option<bool>, Query, description = "include customers of reseller customers"),
           ("maxDepth" = Option<u32>, Query), ("include" = Option<String>, Query)),
    responses((status = 200, body = PageBody<OrgBody>), (status = "4XX", body = crate::http::openapi::ErrorDoc),
              (status = "5XX", body = crate::http::openapi::ErrorDoc)))]
pub async fn list_customers(
    State(app): Shared,
    Extension(rid): Extension<RequestId>,
    p: Result<Path<String>, PathRejection>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let t = target(&app, &org_path(p)?, OpKind::ListCustomers)?;
    let params = Params::parse(
        q.as_deref(),
        &[
            "limit",
            "cursor",
            "sort",
            "include",
            "status",
            "recursive",
            "maxDepth",
        ],
    )?;
    let include_raw = params.include_raw()?;
    let filter = CustomerFilter {
        status: match params.get("status") {
            None => None,
            Some(s) => match OrgStatus::parse(s) {
                Some(st @ (OrgStatus::Active | OrgStatus::Suspended | OrgStatus::Deleted)) => {
                    Some(st)
                }
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "`status` must be active, suspended or deleted, not `{}`",
                        short(s)
                    )));
                }
            },
        },
        recursive: params.bool("recursive", false)?,
        max_depth: match params.get("maxDepth") {
            None => None,
            Some(s) => Some(
                s.parse::<u32>()
                    .ok()
                    .filter(|d| (1..=100).contains(d))
                    .ok_or_else(|| {
                        ApiError::bad_request(format!(
                            "`maxDepth` must be an integer from 1 to 100, not `{}`",
                            short(s)
                        ))
                    })?,
            ),
        },
    };
    let list_name = format!(
        "customers|{}|{}|{}|{}",
        t.backend.org_ref(&t.native_id),
        filter.status.map(|s| s.as_str()).unwrap_or(""),
        filter.recursive,
        filter.max_depth.map(|d| d.to_string()).unwrap_or_default()
    );
    let query = params::list_query(&params, &list_name)?;
    let scope = cursor_scope(&list_name, query.sort);
    let org = t.native_id.clone();
    let page = list(
        &app,
        &t.backend,
        &rid,
        include_raw,
        query,
        OpKind::ListCustomers,
        |query| Operation::ListCustomers {
            org: org.clone(),
            query,
            filter: filter.clone(),
        },
        Output::into_orgs,
        org_key,
    )
    .await?;
    let meta = Meta::fresh(&t.backend, Timestamp::now());
    let body = render::page(page, &scope, meta.clone(), |o| {
        render::org(&app.routing, &t.backend, o, &meta)
    });
    Ok(render::json(StatusCode::OK, &body))
}

/// `POST /v1/orgs/{org}/customers`
#[utoipa::path(post, path = "/v1/orgs/{org}/customers", tag = "customers",
    params(("org" = String, Path, description = "`backend:nativeId` or an alias")),
    request_body(content = crate::http::openapi::NewCustomerDoc, content_type = "application/json"),
    responses((status = 201, body = OrgBody, headers(("Location" = String, description = "the new org"))),
              (status = "4XX", body = crate::http::openapi::ErrorDoc), (status = "5XX", body = crate::http::openapi::ErrorDoc)))]
pub async fn create_customer(
    State(app): Shared,
    Extension(rid): Extension<RequestId>,
    p: Result<Path<String>, PathRejection>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let t = target(&app, &org_path(p)?, OpKind::CreateCustomer)?;
    let include_raw = Params::parse(q.as_deref(), &["include"])?.include_raw()?;
    let m = body::json_object(&headers, body, app.body_limit, true)
        .await?
        .unwrap_or_default();
    body::only_known(&m, &["name"])?;
    let name = body::required_string(&m, "name")?;
    let org = call(
        &app,
        &t.backend,
        &rid,
        include_raw,
        Operation::CreateCustomer {
            org: t.native_id.clone(),
            name,
        },
        Output::into_org,
    )
    .await?;
    let meta = Meta::fresh(&t.backend, Timestamp::now());
    let body = render::org(&app.routing, &t.backend, *org, &meta);
    let location = format!(
        "/v1/orgs/{}",
        percent_encoding::utf8_percent_encode(&body.id, percent_encoding::NON_ALPHANUMERIC)
    );
    let mut resp = render::json(StatusCode::CREATED, &body);
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

/// `GET /v1/orgs/{org}/customers/{customer}/subscriptions`
#[utoipa::path(get, path = "/v1/orgs/{org}/customers/{customer}/subscriptions", tag = "customers",
    params(("org" = String, Path, description = "the vendor org"), ("customer" = String, Path, description = "the customer org, `backend:nativeId` or an alias"),
           ("limit" = Option<u32>, Query), ("cursor" = Option<String>, Query), ("sort" = Option<String>, Query), ("include" = Option<String>, Query)),
    responses((status = 200, body = PageBody<SubscriptionBody>), (status = "4XX", body = crate::http::openapi::ErrorDoc),
              (status = "5XX", body = crate::http::openapi::ErrorDoc)))]
pub async fn list_subscriptions(
    State(app): Shared,
    Extension(rid): Extension<RequestId>,
    p: Result<Path<(String, String)>, PathRejection>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let (org, cust) = path(p)?;
    let t = target(&app, &org, OpKind::ListSubscriptions)?;
    let customer = customer(&app, &t, &cust)?;
    let params = Params::parse(q.as_deref(), &LIST_PARAMS)?;
    let include_raw = params.include_raw()?;
    let list_name = format!(
        "subscriptions|{}|{}",
        t.backend.org_ref(&t.native_id),
        customer
    );
    let query = params::list_query(&params, &list_name)?;
    let scope = cursor_scope(&list_name, query.sort);
    let org = t.native_id.clone();
    let page = list(
        &app,
        &t.backend,
        &rid,
        include_raw,
        query,
        OpKind::ListSubscriptions,
        |query| Operation::ListSubscriptions {
            org: org.clone(),
            customer: customer.clone(),
            query,
        },
        Output::into_subscriptions,
        subscription_key,
    )
    .await?;
    let meta = Meta::fresh(&t.backend, Timestamp::now());
    let body = render::page(page, &scope, meta.clone(), |s| {
        render::subscription(&t.backend, s, &meta)
    });
    Ok(render::json(StatusCode::OK, &body))
}

/// `POST /v1/orgs/{org}/customers/{customer}/subscriptions`
#[utoipa::path(post, path = "/v1/orgs/{org}/customers/{customer}/subscriptions", tag = "customers",
    params(("org" = String, Path, description = "the vendor org"), ("customer" = String, Path, description = "the customer org")),
    request_body(content = crate::http::openapi::NewSubscriptionDoc, content_type = "application/json"),
    responses((status = 201, body = SubscriptionBody), (status = "4XX", body = crate::http::openapi::ErrorDoc),
              (status = "5XX", body = crate::http::openapi::ErrorDoc)))]
pub async fn create_subscription(
    State(app): Shared,
    Extension(rid): Extension<RequestId>,
    p: Result<Path<(String, String)>, PathRejection>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (org, cust) = path(p)?;
    let t = target(&app, &org, OpKind::CreateSubscription)?;
    let customer = customer(&app, &t, &cust)?;
    let include_raw = Params::parse(q.as_deref(), &["include"])?.include_raw()?;
    let m = body::json_object(&headers, body, app.body_limit, true)
        .await?
        .unwrap_or_default();
    body::only_known(&m, &["planId", "name"])?;
    let plan_id = body::required_string(&m, "planId")?;
    let name = body::optional_string(&m, "name")?;
    let op = Operation::CreateSubscription {
        org: t.native_id.clone(),
        customer,
        plan_id,
        name,
    };
    let s = call(
        &app,
        &t.backend,
        &rid,
        include_raw,
        op,
        Output::into_subscription,
    )
    .await?;
    let meta = Meta::fresh(&t.backend, Timestamp::now());
    Ok(render::json(
        StatusCode::CREATED,
        &render::subscription(&t.backend, s, &meta),
    ))
}

/// One backend in `GET /v1/backends`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackendInfo {
    pub name: String,
    pub kind: &'static str,
    pub capabilities: CapabilitiesInfo,
    pub timeout_ms: u64,
    pub max_concurrency: usize,
    pub health: HealthReport,
    /// The circuit breaker's state; `null` while the gateway runs no circuit breaker.
    pub circuit: Option<String>,
}

/// A backend's capabilities.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CapabilitiesInfo {
    pub operations: Vec<&'static str>,
    pub usage_metrics: Vec<MetricInfo>,
    pub patchable_fields: Vec<&'static str>,
    pub settable_statuses: Vec<&'static str>,
    /// How each list the backend has can be sorted.
    pub lists: std::collections::BTreeMap<&'static str, ListInfo>,
}

/// How a list can be sorted.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListInfo {
    /// Every field `sort` accepts for this list.
    pub sorts: Vec<&'static str>,
    /// Those the backend sorts by itself; the others are sorted by the gateway, over the whole list.
    pub native_sorts: Vec<&'static str>,
}

/// A usage metric a backend offers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetricInfo {
    pub metric: &'static str,
    pub unit: &'static str,
    pub intervals: Vec<&'static str>,
    pub bytes: bool,
    pub non_billable: bool,
}

/// The answer of `GET /v1/backends`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BackendsBody {
    pub items: Vec<BackendInfo>,
}

fn capabilities_info(c: &Capabilities) -> CapabilitiesInfo {
    let names = |s: &[SortField]| s.iter().map(|f| f.as_str()).collect::<Vec<_>>();
    let mut lists = std::collections::BTreeMap::new();
    for (list, op) in [
        ("orgs", OpKind::ListOrgs),
        ("plans", OpKind::ListPlans),
        ("customers", OpKind::ListCustomers),
        ("subscriptions", OpKind::ListSubscriptions),
    ] {
        if c.supports(op) {
            let support = c.list(op);
            lists.insert(
                list,
                ListInfo {
                    sorts: names(&support.sortable()),
                    native_sorts: names(support.native_sorts),
                },
            );
        }
    }
    CapabilitiesInfo {
        operations: c.operations.iter().map(|o| o.as_str()).collect(),
        usage_metrics: c
            .metrics
            .iter()
            .map(|m| MetricInfo {
                metric: m.metric.as_str(),
                unit: m.unit.as_str(),
                intervals: m.intervals.iter().map(|i| i.as_str()).collect(),
                bytes: m.bytes,
                non_billable: m.non_billable,
            })
            .collect(),
        patchable_fields: c.patchable.iter().map(|f| f.as_str()).collect(),
        settable_statuses: c.settable_statuses.iter().map(|s| s.as_str()).collect(),
        lists,
    }
}

/// `GET /v1/backends`
#[utoipa::path(get, path = "/v1/backends", tag = "admin",
    responses((status = 200, body = BackendsBody)))]
pub async fn list_backends(
    State(app): Shared,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    Params::parse(q.as_deref(), &[])?;
    let items = app
        .routing
        .backends()
        .iter()
        .map(|b| BackendInfo {
            name: b.name.clone(),
            kind: b.kind.name(),
            capabilities: capabilities_info(b.adapter.capabilities()),
            timeout_ms: b.timeout.as_millis() as u64,
            max_concurrency: b.max_concurrency,
            health: b.health.report(),
            circuit: None,
        })
        .collect();
    Ok(render::json(StatusCode::OK, &BackendsBody { items }))
}

/// `GET /healthz`: the process is up.
pub async fn healthz() -> Response {
    render::json(StatusCode::OK, &serde_json::json!({"status": "ok"}))
}

/// `GET /readyz`: the gateway accepts traffic (not while it drains for shutdown).
pub async fn readyz(State(app): Shared) -> Result<Response, ApiError> {
    if app.ready.load(std::sync::atomic::Ordering::Relaxed) {
        Ok(render::json(
            StatusCode::OK,
            &serde_json::json!({"status": "ready"}),
        ))
    } else {
        Err(ApiError::unavailable("the gateway is shutting down"))
    }
}

/// `GET /metrics`: Prometheus text.
pub async fn metrics(State(app): Shared) -> Response {
    let mut resp = app.metrics.encode().into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    resp
}

/// `GET /openapi.json`: the API as OpenAPI 3.1, generated from this code.
pub async fn openapi(State(app): Shared) -> Response {
    let mut resp = app.openapi.clone().into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// Any path that is no route.
pub async fn no_route(uri: http::Uri) -> ApiError {
    let path = uri.path();
    // `..` and `.` segments reach here because no route has them. In an org route they can
    // only be an attempt to smuggle a path into a backend call: say so as an org reference error.
    let dotted = path
        .split('/')
        .any(|s| s == "." || s == ".." || s.eq_ignore_ascii_case("%2e%2e"));
    if dotted && path.starts_with("/v1/orgs/") {
        return ApiError::invalid_org_ref(format!(
            "`{}` contains dot segments, which no org reference has",
            short(path)
        ));
    }
    if dotted {
        return ApiError::bad_request(format!("`{}` contains dot segments", short(path)));
    }
    ApiError::not_found(format!("no route for `{}`", short(path)))
}

/// A known path with a method it does not have.
pub async fn wrong_method(method: http::Method, uri: http::Uri) -> ApiError {
    ApiError::method_not_allowed(format!("`{}` does not accept {method}", short(uri.path())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org(id: &str, name: Option<&str>) -> Org {
        let mut o = Org::bare(id);
        o.name = name.map(str::to_owned);
        o
    }

    fn ids(orgs: &[Org]) -> Vec<&str> {
        orgs.iter().map(|o| o.native_id.as_str()).collect()
    }

    #[test]
    fn gateway_sorting() {
        let orgs = vec![
            org("10", Some("beta")),
            org("2", None),
            org("9", Some("Alpha")),
            org("x", Some("alpha")),
        ];
        let by = |s: &str, v: Vec<Org>| sort_items(v, Sort::parse(s).unwrap(), org_key);
        assert_eq!(
            ids(&by("id", orgs.clone())),
            ["2", "9", "10", "x"],
            "numbers as numbers, before text"
        );
        assert_eq!(ids(&by("-id", orgs.clone())), ["x", "10", "9", "2"]);
        assert_eq!(
            ids(&by("name", orgs.clone())),
            ["9", "x", "10", "2"],
            "case-insensitive first; no name last"
        );
        assert_eq!(
            ids(&by("-name", orgs.clone())),
            ["10", "x", "9", "2"],
            "no name last either way"
        );
    }
}
