//! One handler per org route of docs/API.md §4 (the gateway's own routes are in `admin.rs`),
//! and the fallbacks for paths and methods that are no route. Each org handler follows the
//! same order, so that bad input is refused before any backend is called: resolve the org
//! reference (`404`/`400`, the extractors of `extract.rs`), check the backend's capabilities
//! (`501`), parse the query and body (`400`/`413`/`422`), then call the backend through its
//! policy stack and render the answer. Lists go through the sort and page engine of `list.rs`.

use std::sync::Arc;

use axum::Extension;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use orgway_core::{
    CallContext, Capabilities, ListQuery, OpKind, Operation, Output, Page, Patch, SortField,
    Timestamp,
};
use tower::ServiceExt;

use crate::cache::{Class, FillFn, Read, ReadRequest, Rendered};
use crate::error::{ApiError, ErrorCode};
use crate::http::body;
use crate::http::extract::{BackendParam, OrgAndCustomer, OrgAndParam, OrgParam, require};
use crate::http::list::list;
use crate::http::openapi as doc;
use crate::http::params::{
    self, CUSTOMER_PARAMS, INCLUDE_PARAMS, LIST_PARAMS, NO_PARAMS, Params, SERIES_PARAMS,
    cursor_scope, short,
};
use crate::http::render::{
    self, Meta, OrgBody, PageBody, PlanBody, SeriesBody, SubscriptionBody, UsageBody,
};
use crate::http::{App, RequestId};
use crate::policy::BackendCall;
use crate::routing::{BackendEntry, OrgTarget};
use orgway_core::sort::{Key, org_key, plan_key, subscription_key};

type Shared = State<Arc<App>>;

/// What is escaped of an org reference written into a path (a `Location`): everything but the
/// unreserved characters and `:`, which a path segment may hold as they are (RFC 3986 §3.3), so
/// `hosting:3fa85f64-5717-…` stays readable and is the `id` the answer gives.
const ORG_REF_IN_PATH: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b':');

/// An answer body; failing to serialize one is a gateway bug.
fn to_body<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, ApiError> {
    // Room for a typical record at once, rather than growing from 128 bytes by doubling.
    let mut out = Vec::with_capacity(1024);
    serde_json::to_writer(&mut out, value).map_err(|e| {
        tracing::error!(error = %e, "could not serialize an answer");
        ApiError::internal()
    })?;
    Ok(out)
}

/// A read's answer for the cache to render as it answers it (see [`render::Stamped`]).
fn rendered<B>(mut body: B) -> Rendered
where
    B: serde::Serialize + render::Stamped + Send + Sync + 'static,
{
    Rendered(Box::new(move |cache, at| {
        body.stamp(cache, at);
        to_body(&body)
    }))
}

/// A read for the cache to perform (see `cache::FillFn`).
fn fill_fn<F, Fut>(f: F) -> FillFn
where
    F: Fn(RequestId) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<Rendered, ApiError>> + Send + 'static,
{
    Arc::new(move |rid| Box::pin(f(rid)))
}

/// An item of a list as the API shows it.
type ItemFn<T, U> = dyn Fn(&BackendEntry, T, &Meta) -> U + Send + Sync;

/// How a list read asks its backend for one page, and what it takes from the answer.
struct ListRead<T, U> {
    op: OpKind,
    /// The operation of one page (the org and filters the list is of, and `query`).
    page_op: Box<dyn Fn(ListQuery) -> Operation + Send + Sync>,
    take: fn(Output) -> Option<Page<T>>,
    key: fn(&T, SortField) -> Option<Key>,
    /// An item as the API shows it.
    item: Box<ItemFn<T, U>>,
}

/// The read of one page of a list, for the cache to perform: every page it needs through the
/// sort and page engine (`list.rs`), rendered as the API's page with its cursor's `scope`.
fn list_fill<T, U>(
    entry: Arc<BackendEntry>,
    query: ListQuery,
    scope: String,
    include_raw: bool,
    read: ListRead<T, U>,
) -> FillFn
where
    T: Send + Sync + 'static,
    U: serde::Serialize + utoipa::ToSchema + render::Stamped + Send + Sync + 'static,
{
    let read = Arc::new(read);
    fill_fn(move |rid| {
        let (entry, query, scope, read) =
            (entry.clone(), query.clone(), scope.clone(), read.clone());
        async move {
            let page = list(
                &entry,
                query,
                read.op,
                |query| call(&entry, &rid, include_raw, (read.page_op)(query), read.take),
                read.key,
            )
            .await?;
            let meta = Meta::unstamped(&entry);
            Ok(rendered(render::page(page, &scope, meta.clone(), |i| {
                (read.item)(&entry, i, &meta)
            })))
        }
    })
}

/// A write to `t`'s org through the policy stack (see [`call`]). A failure says what became
/// of the change (`details.outcome`): `applied` when the adapter knows the backend made it (what
/// followed failed), `partial` when some of its steps were made (`details.completed`), and
/// `unknown` when the request that makes it was put on its way and no answer says what became of
/// it (a timeout, a broken connection, a 5xx other than 503, an answer that does not parse). A
/// failure without it came before the backend could make the change, or the backend refused it.
/// Whenever the change may have been made (success included), the cache forgets, before the
/// answer is sent, the reads of the org, of `also` (another org the write changes: the customer
/// a subscription is sold to), and the backend's lists of orgs (which show what any write may
/// change: a name, a status, a plan, a count of subscriptions).
async fn write<T>(
    app: &App,
    t: &OrgTarget,
    rid: &RequestId,
    include_raw: bool,
    op: Operation,
    take: fn(Output) -> Option<T>,
    also: Option<&str>,
) -> Result<T, ApiError> {
    let cx = CallContext::new(rid.0.clone(), include_raw, t.backend.transport.clone());
    let result = call_in(&t.backend, cx.clone(), op, take)
        .await
        .map_err(|mut e| {
            let refused = e.backend_status.is_some_and(|s| (400..500).contains(&s));
            let partial = e
                .details
                .get("completed")
                .and_then(|c| c.as_array())
                .is_some_and(|c| !c.is_empty());
            let outcome = if e.details.contains_key("outcome") {
                None
            } else if partial {
                Some("partial")
            } else {
                let unanswered = matches!(
                    e.code,
                    ErrorCode::BackendTimeout
                        | ErrorCode::BackendError
                        | ErrorCode::BackendBadResponse
                );
                (cx.change_sent() && !refused && unanswered).then_some("unknown")
            };
            if let Some(outcome) = outcome {
                e.details.insert("outcome".into(), outcome.into());
            }
            e
        });
    if result
        .as_ref()
        .map_or_else(|e| e.details.contains_key("outcome"), |_| true)
    {
        let orgs: Vec<&str> = std::iter::once(t.native_id.as_str()).chain(also).collect();
        app.cache.wrote(&t.backend.name, &orgs);
    }
    result
}

/// Calls a backend through its policy stack and takes the answer the operation has
/// (`Output::into_org`, …); an adapter answering another kind is a gateway bug, `500`.
async fn call<T>(
    entry: &BackendEntry,
    rid: &RequestId,
    include_raw: bool,
    op: Operation,
    take: fn(Output) -> Option<T>,
) -> Result<T, ApiError> {
    let cx = CallContext::new(rid.0.clone(), include_raw, entry.transport.clone());
    call_in(entry, cx, op, take).await
}

/// [`call`] in a context of the caller's.
async fn call_in<T>(
    entry: &BackendEntry,
    cx: CallContext,
    op: Operation,
    take: fn(Output) -> Option<T>,
) -> Result<T, ApiError> {
    let operation = op.kind().as_str();
    if let Some(limit) = &entry.rate_limit {
        limit.check(&entry.name)?;
    }
    let out = entry
        .service
        .clone()
        .oneshot(BackendCall::new(cx, op))
        .await
        .map_err(|e| ApiError::from_backend(&entry.name, e))?;
    let got = out.name();
    take(out).ok_or_else(|| {
        tracing::error!(backend = %entry.name, operation, got, "adapter answered the wrong kind of output");
        ApiError::internal()
    })
}

/// `GET /v1/orgs/{org}`
#[utoipa::path(get, path = "/v1/orgs/{org}", tag = "orgs",
    params(doc::OrgPath, doc::IncludeQuery),
    responses((status = 200, description = "the org", body = OrgBody), doc::ReadErrors))]
pub async fn get_org(
    State(app): Shared,
    Extension(rid): Extension<RequestId>,
    org: OrgParam,
    RawQuery(q): RawQuery,
    req: ReadRequest,
) -> Result<Response, ApiError> {
    let t = org.serving(OpKind::GetOrg)?;
    let include_raw = Params::parse(q.as_deref(), &INCLUDE_PARAMS)?.include_raw()?;
    let read = Read {
        class: Class::Org,
        orgs: vec![t.native_id.clone()],
        lists_orgs: false,
        what: String::new(),
        include_raw,
    };
    let (a, entry, native) = (app.clone(), t.backend.clone(), t.native_id.clone());
    let fill = fill_fn(move |rid| {
        let (app, entry, native) = (a.clone(), entry.clone(), native.clone());
        async move {
            let op = Operation::GetOrg { org: native };
            let org = call(&entry, &rid, include_raw, op, Output::into_org).await?;
            let meta = Meta::unstamped(&entry);
            Ok(rendered(render::org(&app.routing, &entry, *org, &meta)))
        }
    });
    app.cache.serve(&t.backend, read, &req, &rid, fill).await
}

/// `PATCH /v1/orgs/{org}`
#[utoipa::path(patch, path = "/v1/orgs/{org}", tag = "orgs",
    params(doc::OrgPath, doc::IncludeQuery),
    request_body(content((doc::OrgPatchDoc = "application/merge-patch+json"), (doc::OrgPatchDoc = "application/json"))),
    responses((status = 200, description = "the org as it is now", body = OrgBody), doc::PatchErrors))]
pub async fn patch_org(
    State(app): Shared,
    Extension(rid): Extension<RequestId>,
    org: OrgParam,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let t = org.serving(OpKind::PatchOrg)?;
    let include_raw = Params::parse(q.as_deref(), &INCLUDE_PARAMS)?.include_raw()?;
    let m = body::json_object(&headers, body, app.body_limit, app.body_timeout, true)
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
    let org = if matches!(op, Operation::PatchOrg { .. }) {
        write(&app, &t, &rid, include_raw, op, Output::into_org, None).await?
    } else {
        call(&t.backend, &rid, include_raw, op, Output::into_org).await?
    };
    let meta = Meta::fresh(&t.backend, Timestamp::now());
    Ok(render::json(
        StatusCode::OK,
        &render::org(&app.routing, &t.backend, *org, &meta),
    ))
}

/// `DELETE /v1/orgs/{org}`
#[utoipa::path(delete, path = "/v1/orgs/{org}", tag = "orgs",
    params(doc::OrgPath),
    responses((status = 204, description = "deleted"), doc::DeleteErrors))]
pub async fn delete_org(
    State(app): Shared,
    Extension(rid): Extension<RequestId>,
    org: OrgParam,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let t = org.serving(OpKind::DeleteOrg)?;
    Params::parse(q.as_deref(), &NO_PARAMS)?;
    let op = Operation::DeleteOrg {
        org: t.native_id.clone(),
    };
    write(&app, &t, &rid, false, op, Output::into_done, None).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /v1/backends/{backend}/orgs`
#[utoipa::path(get, path = "/v1/backends/{backend}/orgs", tag = "orgs",
    params(doc::BackendPath, doc::ListQueryParams),
    responses((status = 200, description = "one page of the backend's orgs", body = PageBody<OrgBody>), doc::ReadErrors))]
pub async fn list_backend_orgs(
    State(app): Shared,
    Extension(rid): Extension<RequestId>,
    BackendParam(entry): BackendParam,
    RawQuery(q): RawQuery,
    req: ReadRequest,
) -> Result<Response, ApiError> {
    require(&entry, OpKind::ListOrgs)?;
    let params = Params::parse(q.as_deref(), &LIST_PARAMS)?;
    let include_raw = params.include_raw()?;
    let list_name = format!("orgs|{}", entry.name);
    let query = params::list_query(&params, &list_name)?;
    let scope = cursor_scope(&list_name, query.sort);
    let read = Read {
        class: Class::Orgs,
        orgs: Vec::new(),
        lists_orgs: true,
        what: format!("{query:?}"),
        include_raw,
    };
    let routing = app.clone();
    let fill = list_fill(
        entry.clone(),
        query,
        scope,
        include_raw,
        ListRead {
            op: OpKind::ListOrgs,
            page_op: Box::new(|query| Operation::ListOrgs { query }),
            take: Output::into_orgs,
            key: org_key,
            item: Box::new(move |entry, o, meta| render::org(&routing.routing, entry, o, meta)),
        },
    );
    app.cache.serve(&entry, read, &req, &rid, fill).await
}

/// `GET /v1/orgs/{org}/plans`
#[utoipa::path(get, path = "/v1/orgs/{org}/plans", tag = "plans",
    params(doc::OrgPath, doc::ListQueryParams),
    responses((status = 200, description = "one page of the org's plans", body = PageBody<PlanBody>), doc::ReadErrors))]
pub async fn list_plans(
    State(app): Shared,
    Extension(rid): Extension<RequestId>,
    org: OrgParam,
    RawQuery(q): RawQuery,
    req: ReadRequest,
) -> Result<Response, ApiError> {
    let t = org.serving(OpKind::ListPlans)?;
    let params = Params::parse(q.as_deref(), &LIST_PARAMS)?;
    let include_raw = params.include_raw()?;
    let list_name = format!("plans|{}", t.backend.org_ref(&t.native_id));
    let query = params::list_query(&params, &list_name)?;
    let scope = cursor_scope(&list_name, query.sort);
    let read = Read {
        class: Class::Plans,
        orgs: vec![t.native_id.clone()],
        lists_orgs: false,
        what: format!("{query:?}"),
        include_raw,
    };
    let native = t.native_id.clone();
    let fill = list_fill(
        t.backend.clone(),
        query,
        scope,
        include_raw,
        ListRead {
            op: OpKind::ListPlans,
            page_op: Box::new(move |query| Operation::ListPlans {
                org: native.clone(),
                query,
            }),
            take: Output::into_plans,
            key: plan_key,
            item: Box::new(|_, p, meta| render::plan(p, meta)),
        },
    );
    app.cache.serve(&t.backend, read, &req, &rid, fill).await
}

/// `PUT /v1/orgs/{org}/plans/{plan}`
#[utoipa::path(put, path = "/v1/orgs/{org}/plans/{plan}", tag = "plans",
    params(doc::OrgPlanPath, doc::IncludeQuery),
    request_body(content = doc::PlanPutDoc, content_type = "application/json"),
    responses((status = 200, description = "the plan, now associated", body = PlanBody), doc::WriteErrors))]
pub async fn put_plan(
    State(app): Shared,
    Extension(rid): Extension<RequestId>,
    org: OrgAndParam,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (t, plan) = org.serving(OpKind::PutPlan)?;
    let include_raw = Params::parse(q.as_deref(), &INCLUDE_PARAMS)?.include_raw()?;
    let make_default =
        match body::json_object(&headers, body, app.body_limit, app.body_timeout, false).await? {
            Some(m) => {
                body::only_known(&m, &["default"])?;
                body::optional_bool(&m, "default")?.unwrap_or(false)
            }
            None => false,
        };
    check_plan_name(&plan)?;
    let op = Operation::PutPlan {
        org: t.native_id.clone(),
        plan,
        make_default,
    };
    let plan = write(&app, &t, &rid, include_raw, op, Output::into_plan, None).await?;
    let meta = Meta::fresh(&t.backend, Timestamp::now());
    Ok(render::json(StatusCode::OK, &render::plan(plan, &meta)))
}

/// The longest plan id or name a path can carry, in characters.
pub const MAX_PLAN_LEN: usize = 1024;

/// A plan id or name: not blank, at most [`MAX_PLAN_LEN`] characters, no control characters.
fn check_plan_name(plan: &str) -> Result<(), ApiError> {
    if plan.trim().is_empty()
        || plan.chars().count() > MAX_PLAN_LEN
        || plan.chars().any(char::is_control)
    {
        return Err(ApiError::bad_request(format!(
            "`{}` is not a plan id or name",
            short(plan)
        )));
    }
    Ok(())
}

/// `DELETE /v1/orgs/{org}/plans/{plan}`
#[utoipa::path(delete, path = "/v1/orgs/{org}/plans/{plan}", tag = "plans",
    params(doc::OrgPlanPath),
    responses((status = 204, description = "dissociated"), doc::DeleteErrors))]
pub async fn delete_plan(
    State(app): Shared,
    Extension(rid): Extension<RequestId>,
    org: OrgAndParam,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let (t, plan) = org.serving(OpKind::DeletePlan)?;
    Params::parse(q.as_deref(), &NO_PARAMS)?;
    check_plan_name(&plan)?;
    let op = Operation::DeletePlan {
        org: t.native_id.clone(),
        plan,
    };
    write(&app, &t, &rid, false, op, Output::into_done, None).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /v1/orgs/{org}/usage`
#[utoipa::path(get, path = "/v1/orgs/{org}/usage", tag = "usage",
    params(doc::OrgPath, doc::IncludeQuery),
    responses((status = 200, description = "the org's current counters", body = UsageBody), doc::ReadErrors))]
pub async fn get_usage(
    State(app): Shared,
    Extension(rid): Extension<RequestId>,
    org: OrgParam,
    RawQuery(q): RawQuery,
    req: ReadRequest,
) -> Result<Response, ApiError> {
    let t = org.serving(OpKind::GetUsage)?;
    let include_raw = Params::parse(q.as_deref(), &INCLUDE_PARAMS)?.include_raw()?;
    let read = Read {
        class: Class::Usage,
        orgs: vec![t.native_id.clone()],
        lists_orgs: false,
        what: String::new(),
        include_raw,
    };
    let (e, native) = (t.backend.clone(), t.native_id.clone());
    let fill = fill_fn(move |rid| {
        let (entry, native) = (e.clone(), native.clone());
        async move {
            let op = Operation::GetUsage {
                org: native.clone(),
            };
            let u = call(&entry, &rid, include_raw, op, Output::into_usage).await?;
            let org_ref = entry.org_ref(&native);
            Ok(rendered(render::usage(org_ref, u, Meta::unstamped(&entry))))
        }
    });
    app.cache.serve(&t.backend, read, &req, &rid, fill).await
}

/// `GET /v1/orgs/{org}/usage/{metric}`
#[utoipa::path(get, path = "/v1/orgs/{org}/usage/{metric}", tag = "usage",
    params(doc::OrgMetricPath, doc::SeriesQueryParams),
    responses((status = 200, description = "the series", body = SeriesBody), doc::ReadErrors))]
pub async fn get_series(
    State(app): Shared,
    Extension(rid): Extension<RequestId>,
    OrgAndParam(t, metric): OrgAndParam,
    RawQuery(q): RawQuery,
    req: ReadRequest,
) -> Result<Response, ApiError> {
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
    // The range as the caller wrote it: a default range ends "now", which moves with every
    // request, so it is keyed as the default, not as the instants it came to.
    let read = Read {
        class: Class::Series,
        orgs: vec![t.native_id.clone()],
        lists_orgs: false,
        what: format!(
            "{:?}|{:?}|from={:?}|to={:?}|{:?}",
            support.metric,
            s.interval,
            params.get("from"),
            params.get("to"),
            s.options
        ),
        include_raw,
    };
    let (e, native) = (t.backend.clone(), t.native_id.clone());
    let fill = fill_fn(move |rid| {
        let (entry, native) = (e.clone(), native.clone());
        async move {
            let op = Operation::GetUsageSeries {
                org: native.clone(),
                metric: support.metric,
                interval: s.interval,
                range: s.range,
                options: s.options,
            };
            let series = call(&entry, &rid, include_raw, op, Output::into_series).await?;
            let org_ref = entry.org_ref(&native);
            Ok(rendered(render::series(
                org_ref,
                series,
                Meta::unstamped(&entry),
            )))
        }
    });
    app.cache.serve(&t.backend, read, &req, &rid, fill).await
}

/// `GET /v1/orgs/{org}/customers`
#[utoipa::path(get, path = "/v1/orgs/{org}/customers", tag = "customers",
    params(doc::OrgPath, doc::CustomerQueryParams),
    responses((status = 200, description = "one page of the org's customers", body = PageBody<OrgBody>), doc::ReadErrors))]
pub async fn list_customers(
    State(app): Shared,
    Extension(rid): Extension<RequestId>,
    org: OrgParam,
    RawQuery(q): RawQuery,
    req: ReadRequest,
) -> Result<Response, ApiError> {
    let t = org.serving(OpKind::ListCustomers)?;
    let params = Params::parse(q.as_deref(), &CUSTOMER_PARAMS)?;
    let include_raw = params.include_raw()?;
    let filter = params::customer_filter(&params)?;
    let list_name = format!(
        "customers|{}|{}|{}|{}",
        t.backend.org_ref(&t.native_id),
        filter.status.map(|s| s.as_str()).unwrap_or(""),
        filter.recursive,
        filter.max_depth.map(|d| d.to_string()).unwrap_or_default()
    );
    let query = params::list_query(&params, &list_name)?;
    let scope = cursor_scope(&list_name, query.sort);
    let read = Read {
        class: Class::Customers,
        orgs: vec![t.native_id.clone()],
        lists_orgs: true,
        what: format!("{query:?}|{filter:?}"),
        include_raw,
    };
    let (routing, native) = (app.clone(), t.native_id.clone());
    let fill = list_fill(
        t.backend.clone(),
        query,
        scope,
        include_raw,
        ListRead {
            op: OpKind::ListCustomers,
            page_op: Box::new(move |query| Operation::ListCustomers {
                org: native.clone(),
                query,
                filter: filter.clone(),
            }),
            take: Output::into_orgs,
            key: org_key,
            item: Box::new(move |entry, o, meta| render::org(&routing.routing, entry, o, meta)),
        },
    );
    app.cache.serve(&t.backend, read, &req, &rid, fill).await
}

/// `POST /v1/orgs/{org}/customers`
#[utoipa::path(post, path = "/v1/orgs/{org}/customers", tag = "customers",
    params(doc::OrgPath, doc::IncludeQuery),
    request_body(content = doc::NewCustomerDoc, content_type = "application/json"),
    responses((status = 201, description = "the new customer org", body = OrgBody, headers(("Location" = String, description = "the new org"))),
              doc::WriteErrors))]
pub async fn create_customer(
    State(app): Shared,
    Extension(rid): Extension<RequestId>,
    org: OrgParam,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let t = org.serving(OpKind::CreateCustomer)?;
    let include_raw = Params::parse(q.as_deref(), &INCLUDE_PARAMS)?.include_raw()?;
    let m = body::json_object(&headers, body, app.body_limit, app.body_timeout, true)
        .await?
        .unwrap_or_default();
    body::only_known(&m, &["name"])?;
    let name = body::required_name(&m, "name")?;
    let op = Operation::CreateCustomer {
        org: t.native_id.clone(),
        name,
    };
    let org = write(&app, &t, &rid, include_raw, op, Output::into_org, None).await?;
    let meta = Meta::fresh(&t.backend, Timestamp::now());
    let body = render::org(&app.routing, &t.backend, *org, &meta);
    let location = format!(
        "/v1/orgs/{}",
        percent_encoding::utf8_percent_encode(&body.id, ORG_REF_IN_PATH)
    );
    let mut resp = render::json(StatusCode::CREATED, &body);
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

/// `GET /v1/orgs/{org}/customers/{customer}/subscriptions`
#[utoipa::path(get, path = "/v1/orgs/{org}/customers/{customer}/subscriptions", tag = "customers",
    params(doc::OrgCustomerPath, doc::ListQueryParams),
    responses((status = 200, description = "one page of the customer's subscriptions", body = PageBody<SubscriptionBody>), doc::ReadErrors))]
pub async fn list_subscriptions(
    State(app): Shared,
    Extension(rid): Extension<RequestId>,
    org: OrgAndCustomer,
    RawQuery(q): RawQuery,
    req: ReadRequest,
) -> Result<Response, ApiError> {
    let (t, customer) = org.serving(&app, OpKind::ListSubscriptions)?;
    let params = Params::parse(q.as_deref(), &LIST_PARAMS)?;
    let include_raw = params.include_raw()?;
    let list_name = format!(
        "subscriptions|{}|{}",
        t.backend.org_ref(&t.native_id),
        customer
    );
    let query = params::list_query(&params, &list_name)?;
    let scope = cursor_scope(&list_name, query.sort);
    let read = Read {
        class: Class::Subscriptions,
        orgs: vec![t.native_id.clone(), customer.clone()],
        lists_orgs: false,
        what: format!("{query:?}"),
        include_raw,
    };
    let native = t.native_id.clone();
    let fill = list_fill(
        t.backend.clone(),
        query,
        scope,
        include_raw,
        ListRead {
            op: OpKind::ListSubscriptions,
            page_op: Box::new(move |query| Operation::ListSubscriptions {
                org: native.clone(),
                customer: customer.clone(),
                query,
            }),
            take: Output::into_subscriptions,
            key: subscription_key,
            item: Box::new(render::subscription),
        },
    );
    app.cache.serve(&t.backend, read, &req, &rid, fill).await
}

/// `POST /v1/orgs/{org}/customers/{customer}/subscriptions`
#[utoipa::path(post, path = "/v1/orgs/{org}/customers/{customer}/subscriptions", tag = "customers",
    params(doc::OrgCustomerPath, doc::IncludeQuery),
    request_body(content = doc::NewSubscriptionDoc, content_type = "application/json"),
    responses((status = 201, description = "the new subscription", body = SubscriptionBody), doc::WriteErrors))]
pub async fn create_subscription(
    State(app): Shared,
    Extension(rid): Extension<RequestId>,
    org: OrgAndCustomer,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (t, customer) = org.serving(&app, OpKind::CreateSubscription)?;
    let include_raw = Params::parse(q.as_deref(), &INCLUDE_PARAMS)?.include_raw()?;
    let m = body::json_object(&headers, body, app.body_limit, app.body_timeout, true)
        .await?
        .unwrap_or_default();
    body::only_known(&m, &["planId", "name"])?;
    let plan_id = body::required_name(&m, "planId")?;
    let name = body::optional_name(&m, "name")?;
    let op = Operation::CreateSubscription {
        org: t.native_id.clone(),
        customer: customer.clone(),
        plan_id,
        name,
    };
    let s = write(
        &app,
        &t,
        &rid,
        include_raw,
        op,
        Output::into_subscription,
        Some(&customer),
    )
    .await?;
    let meta = Meta::fresh(&t.backend, Timestamp::now());
    Ok(render::json(
        StatusCode::CREATED,
        &render::subscription(&t.backend, s, &meta),
    ))
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
