//! orgway-enhance: the Enhance control panel dialect (the "orchd" API: orgs, customers,
//! subscriptions and plans of an MO and its resellers; an API token as Bearer, or the session
//! cookie `id0` of a login).
//!
//! Serves: org get, patch (`name`; `status` active or suspended, through `isSuspended`) and
//! delete (`/orgs/{id}`); the backend's orgs (the customers, direct and indirect, of the
//! configured `org_id`); an org's customers (`offset`/`limit`/`sortBy`/`sortOrder`, `recursive`,
//! `maxDepth`, `status`) and creating one (read back after the vendor's 201); a customer's
//! subscriptions and subscribing it to a plan (`planId` an integer on the wire, a string in the
//! API; read back after the 201); the plans an org offers (`quotas` from `resources[]`,
//! `limit: null` when a resource has no `total`); the org's usage (summed over its own
//! subscriptions' resources); and the `customers-added` series (`stats/customers/added`). Plan
//! association and dissociation have no Enhance equivalent (a plan is subscribed to, not
//! associated); those routes are `501`.
//!
//! Org ids are UUIDs, subscription and plan ids integers: all are checked before any call.
//! A write is answered only from what Enhance holds afterwards: a created customer or
//! subscription, or a patched org, is read back.
//!
//! # Layout
//! - [`config`]: the `[[backends]]` keys (`org_id`, and a token or a login), validated.
//! - [`session`]: the token, or the login and its session cookie, on core's credential flow.
//! - [`wire`]: the vendor's JSON shapes.
//! - [`map`]: pure conversions, both ways.
//! - [`error`]: statuses and `HttpError` bodies as `BackendError`s.
//! - [`client`]: the thin I/O part: paths and the credential header on core's
//!   [`orgway_core::call`].

pub mod client;
pub mod config;
pub mod error;
pub mod map;
pub mod session;
pub mod wire;

use std::sync::Arc;

use bytes::Bytes;
use http::Method;
use orgway_core::call::{Call, decode_json, from_value};
use orgway_core::series::{self, Aggregate};
use orgway_core::{
    Backend, BackendError, BoxFuture, CallContext, Capabilities, CustomerFilter, Interval,
    ListQuery, ListSupport, Metric, MetricSupport, OpKind, Operation, OrgStatus, Output, Page,
    PatchField, SortField, TimeRange, Unit,
};
use serde_json::Value;

pub use config::{Credentials, EnhanceConfig, EnhanceSettings};

use session::Session;
use wire::{Listing, NewResourceId, NewResourceUuid, ResourceCountByInterval};

/// The dialect's name.
pub const KIND: &str = "enhance";

/// The customer lists' support: Enhance sorts by id, name and creation itself; the gateway
/// sorts by status (see [`map::CUSTOMER_SORTS`]).
const CUSTOMER_LIST: ListSupport = ListSupport {
    native_sorts: map::CUSTOMER_SORTS,
    fields: &[
        SortField::Id,
        SortField::Name,
        SortField::CreatedAt,
        SortField::Status,
    ],
};

/// What an Enhance backend can do.
pub const CAPABILITIES: Capabilities = Capabilities {
    operations: &[
        OpKind::GetOrg,
        OpKind::PatchOrg,
        OpKind::DeleteOrg,
        OpKind::ListOrgs,
        OpKind::ListPlans,
        OpKind::GetUsage,
        OpKind::GetUsageSeries,
        OpKind::ListCustomers,
        OpKind::CreateCustomer,
        OpKind::ListSubscriptions,
        OpKind::CreateSubscription,
    ],
    metrics: &[MetricSupport {
        metric: Metric::CustomersAdded,
        unit: Unit::Count,
        intervals: &[
            Interval::Hour,
            Interval::Day,
            Interval::Month,
            Interval::Total,
        ],
        bytes: false,
        non_billable: false,
    }],
    patchable: &[PatchField::Name, PatchField::Status],
    settable_statuses: &[OrgStatus::Active, OrgStatus::Suspended],
    orgs: CUSTOMER_LIST,
    // `getPlans` sorts by name; ids the gateway sorts.
    plans: ListSupport {
        native_sorts: &[SortField::Name],
        fields: &[SortField::Id, SortField::Name],
    },
    customers: CUSTOMER_LIST,
    // `getCustomerSubscriptions` sorts by `plan`, `subscriberId` or `vendorId`, none of which
    // is a field of the API's sort: the gateway sorts.
    subscriptions: ListSupport {
        native_sorts: &[],
        fields: &[SortField::Id, SortField::Name, SortField::Status],
    },
    // An org's record names its owner's e-mail address (`ownerEmail`): personal data that
    // `include=raw` does not pass on (docs/API.md §8).
    raw_redactions: &["ownerEmail"],
};

/// A listing's item, typed, with its raw record when the caller asked for it.
type Item<T> = (T, Option<Value>);

/// The most of an org's own subscriptions read for its usage (pages of 100).
const MAX_OWN_SUBSCRIPTIONS: u64 = 1_000;

/// An Enhance backend.
#[derive(Debug)]
pub struct Enhance {
    cfg: Arc<EnhanceConfig>,
    session: Session,
}

impl Enhance {
    /// A backend from a validated configuration.
    pub fn new(cfg: EnhanceConfig) -> Self {
        let session = Session::new(&cfg.credentials);
        Enhance {
            cfg: Arc::new(cfg),
            session,
        }
    }

    /// How many logins this backend has started (tests).
    pub fn logins_started(&self) -> u64 {
        self.session.logins_started()
    }

    fn name(&self) -> &str {
        &self.cfg.name
    }

    /// Sends a call with the credential; on a 401 renews it (one login however many calls see
    /// it) and sends the call once more. Returns the body of the 2xx answer.
    async fn api(&self, cx: &CallContext, call: &Call) -> Result<Bytes, BackendError> {
        let (credential, generation) = self.session.get(&self.cfg, cx).await?;
        let mut answer = client::send(&self.cfg, cx, call, Some(&credential)).await?;
        if answer.status == 401 {
            let (fresh, _) = self.session.renew_after(&self.cfg, cx, generation).await?;
            answer = client::send(&self.cfg, cx, call, Some(&fresh)).await?;
            if answer.status == 401 {
                return Err(BackendError::auth_rejected(format!(
                    "{} rejected the gateway's credentials even after renewing them",
                    self.name()
                ))
                .with_status(401));
            }
        }
        client::body(&self.cfg, answer)
    }

    async fn get_org(&self, cx: &CallContext, org: &str) -> Result<Output, BackendError> {
        let body = self.api(cx, &Call::get(client::org_path(org))).await?;
        let (w, raw) = decode_json::<wire::Org>(self.name(), "an org", &body, cx.include_raw())?;
        Ok(Output::Org(Box::new(map::org_from_wire(
            self.name(),
            w,
            raw,
        )?)))
    }

    /// A listing's items, each read into its type (and kept raw when asked for).
    fn items<T: serde::de::DeserializeOwned>(
        &self,
        cx: &CallContext,
        body: &[u8],
        what: &str,
        limit: u32,
    ) -> Result<(Vec<Item<T>>, Option<u64>), BackendError> {
        let (listing, _) =
            decode_json::<Listing>(self.name(), &format!("a {what} list"), body, false)?;
        let item_what = format!("a {what}");
        // A server that ignores `limit` must not make the page longer than asked.
        let items = listing
            .items
            .into_iter()
            .take(limit as usize)
            .map(|v| {
                let typed = from_value::<T>(self.name(), &item_what, &v)?;
                Ok((typed, cx.include_raw().then_some(v)))
            })
            .collect::<Result<Vec<_>, BackendError>>()?;
        Ok((items, listing.total))
    }

    async fn list_customers(
        &self,
        cx: &CallContext,
        org: &str,
        query: &ListQuery,
        filter: &CustomerFilter,
    ) -> Result<Output, BackendError> {
        let call =
            Call::get(client::customers_path(org)).params(map::customer_params(query, filter));
        let body = self.api(cx, &call).await?;
        let (items, total) = self.items::<wire::Org>(cx, &body, "customer", query.limit)?;
        let orgs = items
            .into_iter()
            .map(|(w, raw)| map::org_from_wire(self.name(), w, raw))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Output::Orgs(Page::from_offset(
            orgs,
            query.offset(),
            query.limit,
            total,
        )))
    }

    async fn create_customer(
        &self,
        cx: &CallContext,
        org: &str,
        name: &str,
    ) -> Result<Output, BackendError> {
        if name.trim().is_empty() {
            return Err(BackendError::invalid_input("a customer must have a name"));
        }
        let body = serde_json::to_vec(&wire::NewCustomer { name }).map_err(|e| {
            BackendError::upstream(format!("could not encode the customer: {e}")).retryable(false)
        })?;
        let call = Call::new(Method::POST, client::customers_path(org)).json(body);
        let answer = self.api(cx, &call).await?;
        // The customer exists from here on: a failure now is after the change.
        cx.change_applied();
        async {
            let (created, _) =
                decode_json::<NewResourceUuid>(self.name(), "a new customer's id", &answer, false)?;
            let id = map::canonical_id(&created.id).map_err(|m| {
                BackendError::bad_response(format!(
                    "{} sent a new customer id that is not one: {m}",
                    self.name()
                ))
            })?;
            // Answer with what Enhance holds now.
            self.get_org(cx, &id).await
        }
        .await
        .map_err(|e: BackendError| e.after_change(self.name()))
    }

    async fn list_subscriptions(
        &self,
        cx: &CallContext,
        org: &str,
        customer: &str,
        query: &ListQuery,
    ) -> Result<Output, BackendError> {
        let call = Call::get(client::customer_subscriptions_path(org, customer))
            .params(map::page_params(query, None));
        let body = self.api(cx, &call).await?;
        let (items, total) =
            self.items::<wire::Subscription>(cx, &body, "subscription", query.limit)?;
        let subs = items
            .into_iter()
            .map(|(w, raw)| map::subscription_from_wire(self.name(), w, raw))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Output::Subscriptions(Page::from_offset(
            subs,
            query.offset(),
            query.limit,
            total,
        )))
    }

    async fn create_subscription(
        &self,
        cx: &CallContext,
        org: &str,
        customer: &str,
        plan: &str,
        name: Option<&str>,
    ) -> Result<Output, BackendError> {
        let plan_id = map::plan_id(plan)?;
        let body = serde_json::to_vec(&wire::NewSubscription {
            plan_id,
            friendly_name: name,
        })
        .map_err(|e| {
            BackendError::upstream(format!("could not encode the subscription: {e}"))
                .retryable(false)
        })?;
        let call = Call::new(
            Method::POST,
            client::customer_subscriptions_path(org, customer),
        )
        .json(body);
        let answer = self.api(cx, &call).await?;
        // The subscription exists from here on: a failure now is after the change.
        cx.change_applied();
        async {
            let (created, _) = decode_json::<NewResourceId>(
                self.name(),
                "a new subscription's id",
                &answer,
                false,
            )?;
            // Answer with what Enhance holds now: the customer's subscription, read back.
            let body = self
                .api(
                    cx,
                    &Call::get(client::subscription_path(customer, created.id)),
                )
                .await?;
            let (w, raw) = decode_json::<wire::Subscription>(
                self.name(),
                "a subscription",
                &body,
                cx.include_raw(),
            )?;
            Ok(Output::Subscription(map::subscription_from_wire(
                self.name(),
                w,
                raw,
            )?))
        }
        .await
        .map_err(|e: BackendError| e.after_change(self.name()))
    }

    async fn list_plans(
        &self,
        cx: &CallContext,
        org: &str,
        query: &ListQuery,
    ) -> Result<Output, BackendError> {
        let sort_by = query
            .sort
            .filter(|s| s.field == SortField::Name)
            .map(|_| "name");
        let call = Call::get(client::plans_path(org)).params(map::page_params(query, sort_by));
        let body = self.api(cx, &call).await?;
        let (items, total) = self.items::<wire::Plan>(cx, &body, "plan", query.limit)?;
        let plans = items
            .into_iter()
            .map(|(w, raw)| map::plan_from_wire(w, raw))
            .collect();
        Ok(Output::Plans(Page::from_offset(
            plans,
            query.offset(),
            query.limit,
            total,
        )))
    }

    /// The org's own subscriptions, page by page (up to [`MAX_OWN_SUBSCRIPTIONS`]), summed.
    async fn usage(&self, cx: &CallContext, org: &str) -> Result<Output, BackendError> {
        let mut subs: Vec<wire::Subscription> = Vec::new();
        let mut raws: Vec<Value> = Vec::new();
        let page = 100u32;
        loop {
            let offset = subs.len() as u64;
            let query = ListQuery {
                limit: page,
                cursor: Some(orgway_core::Cursor::Offset(offset)),
                sort: None,
            };
            let call = Call::get(client::own_subscriptions_path(org))
                .params(map::page_params(&query, None));
            let body = self.api(cx, &call).await?;
            let (items, total) =
                self.items::<wire::Subscription>(cx, &body, "subscription", page)?;
            let got = items.len() as u64;
            for (s, raw) in items {
                subs.push(s);
                raws.extend(raw);
            }
            let end = offset + got;
            if got == 0 || total.is_none_or(|t| end >= t) || end >= MAX_OWN_SUBSCRIPTIONS {
                break;
            }
        }
        let raw = cx.include_raw().then_some(Value::Array(raws));
        Ok(Output::Usage(map::usage_from_subscriptions(&subs, raw)))
    }

    async fn series(
        &self,
        cx: &CallContext,
        org: &str,
        metric: Metric,
        interval: Interval,
        range: TimeRange,
    ) -> Result<Output, BackendError> {
        if metric != Metric::CustomersAdded {
            return Err(BackendError::unsupported(
                CAPABILITIES.metric_names(),
                format!("enhance has no `{}` metric", metric.as_str()),
            ));
        }
        let call = Call::get(client::customers_added_path(org))
            .param("timeInterval", map::stats_interval(interval));
        let body = self.api(cx, &call).await?;
        let (stats, raw) = decode_json::<Vec<ResourceCountByInterval>>(
            self.name(),
            "a customers-added count",
            &body,
            cx.include_raw(),
        )?;
        let buckets = map::customer_buckets(self.name(), &stats)?;
        let points = series::group(buckets, interval, Aggregate::Sum, range);
        Ok(Output::Series(series::build(
            metric,
            Unit::Count,
            interval,
            range,
            points,
            Aggregate::Sum,
            raw,
        )))
    }

    async fn dispatch(&self, cx: &CallContext, op: Operation) -> Result<Output, BackendError> {
        match op {
            Operation::GetOrg { org } => self.get_org(cx, &org).await,
            Operation::PatchOrg { org, patch } => {
                let body = serde_json::to_vec(&map::patch_body(&patch)?).map_err(|e| {
                    BackendError::upstream(format!("could not encode the patch: {e}"))
                        .retryable(false)
                })?;
                let call = Call::new(Method::PATCH, client::org_path(&org)).json(body);
                self.api(cx, &call).await?;
                cx.change_applied();
                // `updateOrg` answers 204: the org as it is now is read back.
                self.get_org(cx, &org)
                    .await
                    .map_err(|e| e.after_change(self.name()))
            }
            Operation::DeleteOrg { org } => {
                self.api(cx, &Call::new(Method::DELETE, client::org_path(&org)))
                    .await?;
                Ok(Output::Done)
            }
            Operation::ListOrgs { query } => {
                let filter = CustomerFilter {
                    recursive: true,
                    ..CustomerFilter::default()
                };
                let org = self.cfg.org_id.clone();
                self.list_customers(cx, &org, &query, &filter).await
            }
            Operation::ListCustomers { org, query, filter } => {
                self.list_customers(cx, &org, &query, &filter).await
            }
            Operation::CreateCustomer { org, name } => self.create_customer(cx, &org, &name).await,
            Operation::ListSubscriptions {
                org,
                customer,
                query,
            } => self.list_subscriptions(cx, &org, &customer, &query).await,
            Operation::CreateSubscription {
                org,
                customer,
                plan_id,
                name,
            } => {
                self.create_subscription(cx, &org, &customer, &plan_id, name.as_deref())
                    .await
            }
            Operation::ListPlans { org, query } => self.list_plans(cx, &org, &query).await,
            Operation::GetUsage { org } => self.usage(cx, &org).await,
            Operation::GetUsageSeries {
                org,
                metric,
                interval,
                range,
                ..
            } => self.series(cx, &org, metric, interval, range).await,
            other => Err(BackendError::unsupported(
                CAPABILITIES
                    .operations
                    .iter()
                    .map(|o| o.as_str().to_owned())
                    .collect(),
                format!("enhance has no `{}` operation", other.kind().as_str()),
            )),
        }
    }
}

impl Backend for Enhance {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn capabilities(&self) -> &Capabilities {
        &CAPABILITIES
    }

    fn canonical_id(&self, raw: &str) -> Result<String, String> {
        map::canonical_id(raw)
    }

    fn credential_identity(&self) -> String {
        // Who the gateway is on this panel, not the secret itself.
        match &self.cfg.credentials {
            Credentials::Token(t) => format!("{}:token:{}", self.cfg.org_id, t.fingerprint()),
            Credentials::Login {
                email, realm_id, ..
            } => format!(
                "{}:login:{}",
                self.cfg.org_id,
                orgway_core::secret::fingerprint(&(email, realm_id))
            ),
        }
    }

    fn call<'a>(
        &'a self,
        cx: &'a CallContext,
        op: Operation,
    ) -> BoxFuture<'a, Result<Output, BackendError>> {
        Box::pin(self.dispatch(cx, op))
    }
}
