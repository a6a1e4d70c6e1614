//! orgway-cocoon: the Cocoon Data dialect (the Access Service: Bearer JWTs from an OAuth2 token
//! endpoint, JSON with numbers as strings of digits, quotas in MiB, sort parameters that do
//! nothing).
//!
//! Serves: org get (`GET /api/v1/organisations/{orgGroupId}`) and patch of `name` and
//! `description` (`PUT` of the same path), the organisation list (`GET
//! /api/v1/organisations`), an org's plans (`…/statistics/plans` merged with `…/plans`: quotas
//! in bytes, originator counts as `assignees`, description and default flag), and its usage
//! (`…/statistics/items/storage` and `…/statistics/users`). Cocoon has no usage series,
//! customers or subscriptions, and plans are per-user quotas inside an org, not something an
//! org is put on; those routes are `501`.
//!
//! Lists are read whole and paged here ([`orgway_core::Page::window`]): Cocoon's `count` is
//! described as a maximum but shown as the number returned, so it cannot give a total, and its
//! `orderBy`/`sortBy` have no effect (the documented bug), so no sort is native: the gateway
//! sorts by the fields the capabilities list.
//!
//! A call that meets an expired token (HTTP 401) gets a renewed one from the [`session`] and is
//! sent once more; a second 401 is `backend_auth_failed`.
//!
//! # Layout
//! - [`config`]: the `[[backends]]` keys (a client with a password or a refresh token, or a
//!   static token), validated.
//! - [`session`]: the token grants, one token request in flight, refresh before expiry.
//! - [`wire`]: the vendor's JSON shapes.
//! - [`map`]: pure conversions: strings of digits, MiB, the plan merge, usage, the update
//!   body, token forms and answers.
//! - [`error`]: statuses and error bodies as `BackendError`s.
//! - [`client`]: the thin I/O part: paths, the Bearer token and the token request on core's
//!   [`orgway_core::call`].

pub mod client;
pub mod config;
pub mod error;
pub mod map;
pub mod session;
pub mod wire;

use std::sync::Arc;

use http::Method;
use orgway_core::call::{Answer, Call};
use orgway_core::{
    Backend, BackendError, BoxFuture, CallContext, Capabilities, ListQuery, ListSupport, OpKind,
    Operation, OrgPatch, Output, Page, PatchField, SortField,
};
use serde::Deserialize;
use serde_json::Value;

pub use config::{CocoonConfig, CocoonSettings, Credentials};

use client::{ORGANISATIONS, org_path};
use session::Session;
use wire::{List, Organisation, StorageStatistics, UserStatistics};

/// The dialect's name.
pub const KIND: &str = "cocoon";

/// What a Cocoon backend can do.
pub const CAPABILITIES: Capabilities = Capabilities {
    operations: &[
        OpKind::GetOrg,
        OpKind::PatchOrg,
        OpKind::ListOrgs,
        OpKind::ListPlans,
        OpKind::GetUsage,
    ],
    metrics: &[],
    patchable: &[PatchField::Name, PatchField::Description],
    settable_statuses: &[],
    // Cocoon's own sort parameters do nothing: every sort is the gateway's.
    orgs: ListSupport {
        native_sorts: &[],
        fields: &[SortField::Name, SortField::Id],
    },
    plans: ListSupport {
        native_sorts: &[],
        fields: &[SortField::Name, SortField::Quota, SortField::Id],
    },
    customers: ListSupport::NONE,
    subscriptions: ListSupport::NONE,
    // An organisation's record names its administrator's and its contact's e-mail addresses:
    // personal contact details that `include=raw` does not pass on (docs/API.md §8).
    raw_redactions: &["adminEmail", "contactEmail"],
};

/// A Cocoon Data backend.
#[derive(Debug)]
pub struct Cocoon {
    cfg: Arc<CocoonConfig>,
    session: Session,
}

impl Cocoon {
    /// A backend from a validated configuration.
    pub fn new(cfg: CocoonConfig) -> Self {
        let session = Session::new(&cfg.credentials);
        Cocoon {
            cfg: Arc::new(cfg),
            session,
        }
    }

    /// Sends a call with the session's token; on a 401 renews the token (one renewal however
    /// many calls see it) and sends the call once more.
    async fn api(&self, cx: &CallContext, call: &Call) -> Result<Answer, BackendError> {
        let (token, generation) = self.session.token(&self.cfg, cx).await?;
        let answer = client::send(&self.cfg, cx, call, &token.access).await?;
        if answer.status != 401 {
            return Ok(answer);
        }
        let (fresh, _) = self.session.renew_after(&self.cfg, cx, generation).await?;
        let answer = client::send(&self.cfg, cx, call, &fresh.access).await?;
        if answer.status == 401 {
            return Err(BackendError::auth_rejected(format!(
                "{} rejected the gateway's access token even after renewing it",
                self.cfg.name
            ))
            .with_status(401));
        }
        Ok(answer)
    }

    /// A `GET` read as JSON of type `T`, with the raw answer when the caller wants it.
    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        cx: &CallContext,
        path: String,
        what: &str,
        include_raw: bool,
    ) -> Result<(T, Option<Value>), BackendError> {
        let answer = self.api(cx, &Call::get(path)).await?;
        client::read(&self.cfg, &answer, what, include_raw)
    }

    /// A whole list's items; `what` names it, with its article.
    async fn list(
        &self,
        cx: &CallContext,
        path: String,
        what: &str,
    ) -> Result<Vec<Value>, BackendError> {
        let (list, _) = self.get::<List>(cx, path, what, false).await?;
        map::items(&self.cfg.name, what, list)
    }

    async fn get_org(&self, cx: &CallContext, org: &str) -> Result<Output, BackendError> {
        let (w, raw) = self
            .get::<Organisation>(cx, org_path(org, ""), "an organisation", cx.include_raw())
            .await?;
        Ok(Output::Org(Box::new(map::org_from_wire(
            &self.cfg.name,
            &w,
            raw,
        )?)))
    }

    async fn patch_org(
        &self,
        cx: &CallContext,
        org: &str,
        patch: &OrgPatch,
    ) -> Result<Output, BackendError> {
        let body = serde_json::to_vec(&map::update_body(patch)?).map_err(|e| {
            BackendError::upstream(format!("could not encode the update: {e}")).retryable(false)
        })?;
        let call = Call::new(Method::PUT, org_path(org, "")).json(body);
        let answer = self.api(cx, &call).await?;
        client::check(&self.cfg, &answer)?;
        cx.change_applied();
        // The update page does not show its answer: an organisation is taken as the new state;
        // anything else (an empty 200, an acknowledgement) is followed by a read. Either way
        // the update was made: a failure now is after the change.
        let updated: Option<Value> = serde_json::from_slice(&answer.body).ok();
        match updated.as_ref().map(Organisation::deserialize) {
            Some(Ok(w)) if w.id.is_some() || w.org_group_id.is_some() => {
                map::org_from_wire(&self.cfg.name, &w, updated.filter(|_| cx.include_raw()))
                    .map(|o| Output::Org(Box::new(o)))
            }
            _ => self.get_org(cx, org).await,
        }
        .map_err(|e| e.after_change(&self.cfg.name))
    }

    async fn list_orgs(&self, cx: &CallContext, query: &ListQuery) -> Result<Output, BackendError> {
        let items = self
            .list(cx, ORGANISATIONS.to_owned(), "an organisation list")
            .await?;
        let mut orgs = Vec::with_capacity(items.len());
        for v in items {
            let w: Organisation =
                orgway_core::call::from_value(&self.cfg.name, "an organisation list item", &v)?;
            orgs.push(map::org_from_wire(
                &self.cfg.name,
                &w,
                cx.include_raw().then_some(v),
            )?);
        }
        Ok(Output::Orgs(Page::window(orgs, query)))
    }

    async fn list_plans(
        &self,
        cx: &CallContext,
        org: &str,
        query: &ListQuery,
    ) -> Result<Output, BackendError> {
        let (statistics, details) = futures_util::future::try_join(
            self.list(
                cx,
                org_path(org, "/statistics/plans"),
                "a plan statistics list",
            ),
            self.list(cx, org_path(org, "/plans"), "a plan list"),
        )
        .await?;
        let plans = map::plans(&self.cfg.name, &statistics, &details, cx.include_raw())?;
        Ok(Output::Plans(Page::window(plans, query)))
    }

    async fn usage(&self, cx: &CallContext, org: &str) -> Result<Output, BackendError> {
        let raw = cx.include_raw();
        let ((storage, storage_raw), (users, users_raw)) = futures_util::future::try_join(
            self.get::<StorageStatistics>(
                cx,
                org_path(org, "/statistics/items/storage"),
                "a storage statistics answer",
                raw,
            ),
            self.get::<UserStatistics>(
                cx,
                org_path(org, "/statistics/users"),
                "a user statistics answer",
                raw,
            ),
        )
        .await?;
        let raw = raw.then(|| serde_json::json!({ "storage": storage_raw, "users": users_raw }));
        Ok(Output::Usage(map::usage(
            &self.cfg.name,
            &storage,
            &users,
            raw,
        )?))
    }

    async fn dispatch(&self, cx: &CallContext, op: Operation) -> Result<Output, BackendError> {
        match op {
            Operation::GetOrg { org } => self.get_org(cx, &org).await,
            Operation::PatchOrg { org, patch } => self.patch_org(cx, &org, &patch).await,
            Operation::ListOrgs { query } => self.list_orgs(cx, &query).await,
            Operation::ListPlans { org, query } => self.list_plans(cx, &org, &query).await,
            Operation::GetUsage { org } => self.usage(cx, &org).await,
            other => Err(BackendError::unsupported(
                Vec::new(),
                format!("cocoon has no `{}` operation", other.kind().as_str()),
            )),
        }
    }
}

impl Backend for Cocoon {
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
        // Who the gateway is on this platform, not the secret itself.
        match &self.cfg.credentials {
            Credentials::Static(t) => format!("token:{}", t.fingerprint()),
            Credentials::OAuth {
                client, password, ..
            } => format!(
                "client:{}",
                orgway_core::secret::fingerprint(&(&client.id, password.as_ref().map(|(u, _)| u)))
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
