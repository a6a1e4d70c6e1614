//! orgway-commvault: the Commvault Organization dialect (`Authtoken: QSDK …`, JSON reads, the
//! XML `PUT Organization` of the vendor's documentation for plan changes).
//!
//! Serves: org get (`GET Organization/{id}`), the organization list (`GET Organization` with
//! `start`/`limit`), an org's plans (`planDetails`, `isDefault` from `defaultPlans`), plan
//! association, default and dissociation (`PUT Organization`, `planDetailsOperationType` /
//! `defaultPlansOperationType`), and the org's counters as usage.
//!
//! A CommCell applies the operations of one `PUT Organization` in document order and refuses a
//! default-plan operation on a plan that is not associated when it applies. So removing a plan
//! that is also a default takes two requests, the default's `DELETE` and then the
//! association's; a failure names the failed step (`details.step`: `remove-default`,
//! `remove-association`) and the steps done before it (`details.completed`). A plan the
//! CommCell's plan list (`GET V2/Plan`) does not have is `not_found` before any write. Commvault has no usage time
//! series, customers or subscriptions; those routes are `501`.
//!
//! Raw records (`include=raw`) leave without `authCode` and `primaryContacts`
//! ([`CAPABILITIES`]'s `raw_redactions`).
//!
//! A call that meets an expired token (HTTP 401) gets a renewed one from the [`session`] and
//! is sent once more; a second 401 is `backend_auth_failed`.
//!
//! # Layout
//! - [`config`]: the `[[backends]]` keys (username/password or authtoken), validated.
//! - [`session`]: login, renewal, and one login in flight however many calls wait.
//! - [`wire`]: the vendor's JSON shapes.
//! - [`map`]: pure conversions, the XML body included.
//! - [`error`]: `errorCode`s in bodies, HTML pages and statuses as `BackendError`s.
//! - [`client`]: the thin I/O part: the `Authtoken` and `Accept` headers on core's
//!   [`orgway_core::call`], and reading answers as JSON.

pub mod client;
pub mod config;
pub mod error;
pub mod map;
pub mod session;
pub mod wire;

use std::sync::Arc;

use http::{HeaderValue, Method};
use orgway_core::sort::{org_key, sort_items};
use orgway_core::{
    Backend, BackendError, BoxFuture, CallContext, Capabilities, ListQuery, ListSupport, OpKind,
    Operation, Output, Page, Sort, SortField,
};
use serde_json::Value;

pub use config::{CommvaultConfig, CommvaultSettings, Credentials};

use map::PlanChange;
use orgway_core::call::{Call, from_value};
use orgway_core::text::excerpt;
use session::Session;
use wire::{OrganizationInfo, OrganizationInfoEnvelope, PlanList, Provider, Providers};

/// The dialect's name.
pub const KIND: &str = "commvault";

/// What a Commvault backend can do.
pub const CAPABILITIES: Capabilities = Capabilities {
    operations: &[
        OpKind::GetOrg,
        OpKind::ListOrgs,
        OpKind::ListPlans,
        OpKind::PutPlan,
        OpKind::DeletePlan,
        OpKind::GetUsage,
    ],
    metrics: &[],
    patchable: &[],
    settable_statuses: &[],
    orgs: ListSupport {
        native_sorts: map::SORTS,
        // The organization list has no creation or update times.
        fields: &[SortField::Id, SortField::Name, SortField::Status],
    },
    plans: ListSupport {
        native_sorts: &[],
        fields: &[SortField::Id, SortField::Name],
    },
    customers: ListSupport::NONE,
    subscriptions: ListSupport::NONE,
    // `authCode` (`organizationProperties`): the registration code that installs clients into
    // the company. `primaryContacts` (`organizationProperties` of an organization, each entry
    // of the organization list): the tenant administrators' names, user names and contact
    // details (email addresses, phone numbers). Commvault uses neither name for anything else.
    raw_redactions: &["authCode", "primaryContacts"],
};

/// The steps of a plan removal, as `details.step` and `details.completed` name them.
const STEP_REMOVE_DEFAULT: &str = "remove-default";
const STEP_REMOVE_ASSOCIATION: &str = "remove-association";

/// An org's plans as a plan change sees them.
struct PlanState {
    domain_name: String,
    associated: Vec<(Option<String>, Option<String>)>,
    defaults: Vec<(Option<String>, Option<String>)>,
}

/// A Commvault backend.
#[derive(Debug)]
pub struct Commvault {
    cfg: Arc<CommvaultConfig>,
    session: Session,
}

impl Commvault {
    /// A backend from a validated configuration.
    pub fn new(cfg: CommvaultConfig) -> Self {
        let session = Session::new(&cfg.credentials);
        Commvault {
            cfg: Arc::new(cfg),
            session,
        }
    }

    /// Sends a call with the session's token; on a 401 renews the token (one renewal however
    /// many calls see it) and sends the call once more. `None` is a success answered in XML
    /// without a JSON body (see [`client::json`]).
    async fn api(&self, cx: &CallContext, call: &Call) -> Result<Option<Value>, BackendError> {
        let (token, generation) = self.session.token(&self.cfg, cx).await?;
        let mut raw = client::send(&self.cfg, cx, call, Some(&token)).await?;
        if raw.status == 401 {
            let (fresh, _) = self.session.renew_after(&self.cfg, cx, generation).await?;
            raw = client::send(&self.cfg, cx, call, Some(&fresh)).await?;
            if raw.status == 401 {
                return Err(BackendError::auth_rejected(format!(
                    "{} rejected the gateway's token even after renewing it",
                    self.cfg.name
                ))
                .with_status(401));
            }
        }
        client::json(&self.cfg, &raw)
    }

    /// [`Commvault::api`] for reads, whose answer must be JSON.
    async fn read(&self, cx: &CallContext, call: &Call) -> Result<Value, BackendError> {
        self.api(cx, call).await?.ok_or_else(|| {
            BackendError::bad_response(format!(
                "{} answered in XML although JSON was asked for",
                self.cfg.name
            ))
        })
    }

    async fn org_info(
        &self,
        cx: &CallContext,
        org: &str,
    ) -> Result<(OrganizationInfo, Value), BackendError> {
        let v = self
            .read(cx, &Call::get(format!("/Organization/{org}")))
            .await?;
        let env: OrganizationInfoEnvelope = from_value(&self.cfg.name, "an organization", &v)?;
        let info = env.organization_info.ok_or_else(|| {
            BackendError::bad_response(format!(
                "{} sent an organization without organizationInfo",
                self.cfg.name
            ))
        })?;
        Ok((info, v))
    }

    async fn list_orgs(&self, cx: &CallContext, query: &ListQuery) -> Result<Output, BackendError> {
        let call = Call::get("/Organization").params(map::list_params(query));
        let v = self.read(cx, &call).await?;
        let list: Providers = from_value(&self.cfg.name, "an organization list", &v)?;
        // More than asked for: a server whose listing does not page (it ignored `start` and
        // `limit`) sent every org. Its pages are cut here; taking its first `limit` as the
        // page would give the same orgs for every cursor, without end.
        let whole = list.providers.len() > query.limit as usize;
        let mut items = Vec::with_capacity(list.providers.len());
        for p in list.providers {
            let raw = cx.include_raw().then(|| p.clone());
            let provider: Provider = from_value(&self.cfg.name, "an organization list item", &p)?;
            items.push(map::org_from_provider(&self.cfg.name, &provider, raw)?);
        }
        Ok(Output::Orgs(if whole {
            // Ordered as the sort asked for (which it may have ignored too), by id when none
            // was, so that the pages cut from it are the same each time.
            let sort = query.sort.unwrap_or(Sort {
                field: SortField::Id,
                descending: false,
            });
            Page::window(sort_items(items, sort, org_key), query)
        } else {
            Page::from_offset(items, query.offset(), query.limit, list.filter_query_count)
        }))
    }

    /// The CommCell's plans, `(planId, planName)`; `None` when the server does not list them
    /// (it refuses `GET V2/Plan` as the caller's fault: an older release, or no permission).
    async fn commcell_plans(
        &self,
        cx: &CallContext,
    ) -> Result<Option<Vec<(Option<String>, Option<String>)>>, BackendError> {
        match self.read(cx, &Call::get("/V2/Plan")).await {
            Ok(v) => Ok(Some(map::plan_keys(
                &from_value::<PlanList>(&self.cfg.name, "a plan list", &v)?.plans,
            ))),
            Err(e) if e.is_callers_fault() => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn put(
        &self,
        cx: &CallContext,
        org: &str,
        domain_name: &str,
        change: PlanChange<'_>,
    ) -> Result<(), BackendError> {
        let xml = map::update_xml(org, domain_name, change);
        let call = Call::new(Method::PUT, "/Organization")
            .body(HeaderValue::from_static("application/xml"), xml);
        self.api(cx, &call).await.map(|_| ())
    }

    fn domain_name(&self, info: &OrganizationInfo) -> Result<String, BackendError> {
        info.organization
            .as_ref()
            .and_then(|o| o.short_name.as_ref())
            .and_then(|s| s.domain_name.clone())
            .ok_or_else(|| {
                BackendError::bad_response(format!(
                    "{} sent an organization without shortName.domainName",
                    self.cfg.name
                ))
            })
    }

    /// What a plan change needs to know of the org: its short name (the XML names the org by
    /// it) and its plans and default plans, `(planId, planName)`.
    async fn plan_state(&self, cx: &CallContext, org: &str) -> Result<PlanState, BackendError> {
        let (info, _) = self.org_info(cx, org).await?;
        let defaults = info
            .organization_properties
            .as_ref()
            .map(|p| map::plan_keys(&p.default_plans))
            .unwrap_or_default();
        Ok(PlanState {
            domain_name: self.domain_name(&info)?,
            associated: map::plan_keys(&info.plan_details),
            defaults,
        })
    }

    async fn put_plan(
        &self,
        cx: &CallContext,
        org: &str,
        plan: &str,
        make_default: bool,
    ) -> Result<Output, BackendError> {
        let PlanState {
            domain_name,
            associated,
            defaults,
        } = self.plan_state(cx, org).await?;
        // The caller may name the plan by id or by name; `PUT Organization` takes its name.
        let name = match map::find_plan(plan, &associated) {
            Some((_, Some(n))) => n.clone(),
            _ => match self.commcell_plans(cx).await? {
                Some(plans) => match map::find_plan(plan, &plans) {
                    Some((_, Some(n))) => n.clone(),
                    // Listed without a name: the caller's spelling is all there is.
                    Some((_, None)) => plan.to_owned(),
                    None => {
                        return Err(BackendError::not_found(format!(
                            "{}: the CommCell has no plan `{}`",
                            self.cfg.name,
                            excerpt(plan, 128)
                        )));
                    }
                },
                // No plan list: let Commvault judge the name (an errorCode if it has no such plan).
                None => plan.to_owned(),
            },
        };
        let is_associated = associated
            .iter()
            .any(|(_, n)| n.as_deref().is_some_and(|n| map::same_plan_name(n, &name)));
        let is_default = defaults
            .iter()
            .any(|(_, n)| n.as_deref().is_some_and(|n| map::same_plan_name(n, &name)));
        let change = PlanChange {
            plan_name: &name,
            associate: (!is_associated).then_some(true),
            default: (make_default && !is_default).then_some(true),
        };
        let changed = change.associate.is_some() || change.default.is_some();
        if changed {
            self.put(cx, org, &domain_name, change).await?;
            cx.change_applied();
        }
        let read_back = async {
            let (after, raw) = self.org_info(cx, org).await?;
            let raw = cx.include_raw().then_some(raw);
            map::plans_from_info(&after, raw.as_ref())
                .into_iter()
                .find(|p| {
                    p.name
                        .as_deref()
                        .is_some_and(|n| map::same_plan_name(n, &name))
                })
                .map(Output::Plan)
                .ok_or_else(|| {
                    BackendError::upstream(format!(
                        "{} does not list plan `{name}` on organization {org}",
                        self.cfg.name
                    ))
                    .retryable(false)
                })
        };
        // A failure after a change was made says so.
        read_back.await.map_err(|e| {
            if changed {
                e.after_change(&self.cfg.name)
            } else {
                e
            }
        })
    }

    async fn delete_plan(
        &self,
        cx: &CallContext,
        org: &str,
        plan: &str,
    ) -> Result<Output, BackendError> {
        let PlanState {
            domain_name,
            associated,
            defaults,
        } = self.plan_state(cx, org).await?;
        let Some((_, Some(name))) = map::find_plan(plan, &associated) else {
            return Err(BackendError::not_found(format!(
                "{}: plan `{plan}` is not associated with organization {org}",
                self.cfg.name
            )));
        };
        let is_default = defaults
            .iter()
            .any(|(_, n)| n.as_deref().is_some_and(|n| map::same_plan_name(n, name)));
        // The default goes first, in a request of its own: a CommCell applies one request's
        // operations in order and refuses to touch the default of a plan no longer associated.
        let mut steps = Vec::with_capacity(2);
        if is_default {
            steps.push((
                STEP_REMOVE_DEFAULT,
                PlanChange {
                    plan_name: name,
                    associate: None,
                    default: Some(false),
                },
            ));
        }
        steps.push((
            STEP_REMOVE_ASSOCIATION,
            PlanChange {
                plan_name: name,
                associate: Some(false),
                default: None,
            },
        ));
        for (step, change) in steps {
            cx.step_making(step);
            self.put(cx, org, &domain_name, change).await.map_err(|e| {
                e.with_detail("step", step)
                    .with_detail("completed", cx.steps().0)
            })?;
            cx.step_made();
        }
        Ok(Output::Done)
    }

    async fn dispatch(&self, cx: &CallContext, op: Operation) -> Result<Output, BackendError> {
        match op {
            Operation::GetOrg { org } => {
                let (info, raw) = self.org_info(cx, &org).await?;
                Ok(Output::Org(Box::new(map::org_from_info(
                    &self.cfg.name,
                    &info,
                    cx.include_raw().then_some(raw),
                )?)))
            }
            Operation::ListOrgs { query } => self.list_orgs(cx, &query).await,
            Operation::ListPlans { org, query } => {
                let (info, raw) = self.org_info(cx, &org).await?;
                let raw = cx.include_raw().then_some(raw);
                Ok(Output::Plans(Page::window(
                    map::plans_from_info(&info, raw.as_ref()),
                    &query,
                )))
            }
            Operation::PutPlan {
                org,
                plan,
                make_default,
            } => self.put_plan(cx, &org, &plan, make_default).await,
            Operation::DeletePlan { org, plan } => self.delete_plan(cx, &org, &plan).await,
            Operation::GetUsage { org } => {
                let (info, raw) = self.org_info(cx, &org).await?;
                Ok(Output::Usage(map::usage_from_info(
                    &info,
                    cx.include_raw().then_some(raw),
                )))
            }
            other => Err(BackendError::unsupported(
                Vec::new(),
                format!("commvault has no `{}` operation", other.kind().as_str()),
            )),
        }
    }
}

impl Backend for Commvault {
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
        // Who the gateway is on this CommCell, not the secret itself.
        match &self.cfg.credentials {
            Credentials::Password {
                username, domain, ..
            } => format!(
                "user:{}",
                orgway_core::secret::fingerprint(&(username, domain))
            ),
            Credentials::Token(t) => format!("token:{}", t.fingerprint()),
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
