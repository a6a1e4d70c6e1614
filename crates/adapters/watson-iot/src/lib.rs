//! orgway-watson-iot: the IBM Watson IoT Platform dialect (API v0002: an API key and its token
//! over HTTP Basic, the org id as the first label of the host name, JSON, whole-day ranges).
//!
//! Serves, for the orgs the backend has API keys for: the org (View Organization, `GET
//! /api/v0002/`), the list of those orgs, and the `data-traffic` (bytes; the vendor's kB × 1000)
//! and `active-devices` (devices active per day) series. Watson IoT has no org writes, plans,
//! customers or subscriptions in this API, and no current-usage counters; those routes are
//! `501`.
//!
//! # Layout
//! - [`config`]: the `[[backends]]` keys of a Watson IoT backend (`api_keys`), validated.
//! - [`wire`]: the vendor's JSON shapes.
//! - [`map`]: pure conversions between wire and model, and the units.
//! - [`error`]: `{message, exception}` errors as `BackendError`s.
//! - [`client`]: the thin I/O part: the org's base URL and Basic credentials, on core's
//!   [`orgway_core::call`].

pub mod client;
pub mod config;
pub mod error;
pub mod map;
pub mod wire;

use futures_util::StreamExt;
use orgway_core::call::{Call, decode_json};
use orgway_core::series::{self, Aggregate};
use orgway_core::{
    Backend, BackendError, BoxFuture, CallContext, Capabilities, ErrorKind, Interval, ListQuery,
    ListSupport, Metric, MetricSupport, OpKind, Operation, Org, Output, Page, SortField, TimeRange,
    Unit,
};

pub use config::{ApiKey, ApiKeySettings, WatsonIotConfig, WatsonIotSettings};

use wire::{Organization, UsageFigures};

/// The dialect's name.
pub const KIND: &str = "watson-iot";

/// How many orgs of a page of the org list are read at once.
const READS_AT_ONCE: usize = 8;

/// What a Watson IoT backend can do.
pub const CAPABILITIES: Capabilities = Capabilities {
    operations: &[OpKind::GetOrg, OpKind::ListOrgs, OpKind::GetUsageSeries],
    metrics: &[
        MetricSupport {
            metric: Metric::DataTraffic,
            unit: Unit::Bytes,
            intervals: &[Interval::Day, Interval::Month, Interval::Total],
            bytes: false,
            non_billable: false,
        },
        // Distinct devices per day: a sum over days, or a month of them, would count a device
        // once per day it was active, so only days are offered.
        MetricSupport {
            metric: Metric::ActiveDevices,
            unit: Unit::Count,
            intervals: &[Interval::Day],
            bytes: false,
            non_billable: false,
        },
    ],
    patchable: &[],
    settable_statuses: &[],
    orgs: ListSupport {
        native_sorts: &[SortField::Id],
        fields: &[
            SortField::Id,
            SortField::Name,
            SortField::CreatedAt,
            SortField::UpdatedAt,
            SortField::Status,
        ],
    },
    plans: ListSupport::NONE,
    customers: ListSupport::NONE,
    subscriptions: ListSupport::NONE,
    // The organization record carries no token or password; its IBM Marketplace block names the
    // customer's billing account (`customerAccountId`), which `include=raw` does not pass on
    // (docs/API.md §8).
    raw_redactions: &["customerAccountId"],
};

/// A Watson IoT backend.
#[derive(Debug)]
pub struct WatsonIot {
    cfg: WatsonIotConfig,
}

impl WatsonIot {
    /// A backend from a validated configuration.
    pub fn new(cfg: WatsonIotConfig) -> Self {
        WatsonIot { cfg }
    }

    /// The key of an org this backend holds; any other org is not found, without a call.
    fn key(&self, org: &str) -> Result<&ApiKey, BackendError> {
        self.cfg.keys.get(org).ok_or_else(|| {
            BackendError::not_found(format!(
                "{} has no API key for org {org}, so it does not hold that org",
                self.cfg.name
            ))
        })
    }

    async fn get_org(&self, cx: &CallContext, org: &str) -> Result<Org, BackendError> {
        let key = self.key(org)?;
        let body = client::send(&self.cfg, cx, key, Call::get(client::ORGANIZATION)).await?;
        let (w, raw) = decode_json::<Organization>(
            &self.cfg.name,
            "an organization",
            &body,
            cx.include_raw(),
        )?;
        map::org_from_wire(&self.cfg.name, org, w, raw)
    }

    /// The orgs the backend has keys for, by id (the order asked for, ascending by default),
    /// one page of them read from the vendor.
    async fn list_orgs(&self, cx: &CallContext, query: &ListQuery) -> Result<Output, BackendError> {
        let mut ids: Vec<&String> = self.cfg.keys.keys().collect();
        if query
            .sort
            .is_some_and(|s| s.field == SortField::Id && s.descending)
        {
            ids.reverse();
        }
        let page = Page::window(ids, query);
        // Each org is its own host: a few are read at once, in the page's order. One whose key
        // the vendor refuses (revoked, or an org it disabled: it then refuses every call) does
        // not fail the others: it is listed with its id only (a read of it says why).
        let items = futures_util::stream::iter(page.items.into_iter().cloned())
            .map(|id: String| async move {
                match self.get_org(cx, &id).await {
                    Err(e) if e.kind == ErrorKind::AuthRejected => Ok(Org::bare(id)),
                    read => read,
                }
            })
            .buffered(READS_AT_ONCE)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Output::Orgs(Page {
            items,
            next: page.next,
            total: page.total,
        }))
    }

    async fn series(
        &self,
        cx: &CallContext,
        org: &str,
        metric: Metric,
        interval: Interval,
        range: TimeRange,
    ) -> Result<Output, BackendError> {
        let support = CAPABILITIES.metric(metric).ok_or_else(|| {
            BackendError::unsupported(
                CAPABILITIES.metric_names(),
                format!("watson-iot has no `{}` metric", metric.as_str()),
            )
        })?;
        if !support.intervals.contains(&interval) {
            return Err(BackendError::unsupported(
                support
                    .intervals
                    .iter()
                    .map(|i| i.as_str().to_owned())
                    .collect(),
                format!(
                    "watson-iot cannot give `{}` by {}",
                    metric.as_str(),
                    interval.as_str()
                ),
            ));
        }
        let key = self.key(org)?;
        let (path, what, agg) = match metric {
            Metric::ActiveDevices => (
                client::ACTIVE_DEVICES,
                "an active device count",
                Aggregate::Last,
            ),
            _ => (
                client::DATA_TRAFFIC,
                "a data traffic summary",
                Aggregate::Sum,
            ),
        };
        let (start, end) = map::usage_dates(range);
        let call = Call::get(path)
            .param("start", start)
            .param("end", end)
            .param("detail", "true");
        let body = client::send(&self.cfg, cx, key, call).await?;
        let (w, raw) = decode_json::<UsageFigures>(&self.cfg.name, what, &body, cx.include_raw())?;
        let buckets = match metric {
            Metric::ActiveDevices => map::device_buckets(&self.cfg.name, &w)?,
            _ => map::traffic_buckets(&self.cfg.name, &w)?,
        };
        let points = series::group(buckets, interval, agg, range);
        Ok(Output::Series(series::build(
            metric,
            support.unit,
            interval,
            range,
            points,
            agg,
            raw,
        )))
    }

    async fn dispatch(&self, cx: &CallContext, op: Operation) -> Result<Output, BackendError> {
        match op {
            Operation::GetOrg { org } => Ok(Output::Org(Box::new(self.get_org(cx, &org).await?))),
            Operation::ListOrgs { query } => self.list_orgs(cx, &query).await,
            Operation::GetUsageSeries {
                org,
                metric,
                interval,
                range,
                options: _,
            } => self.series(cx, &org, metric, interval, range).await,
            other => Err(BackendError::unsupported(
                Vec::new(),
                format!("watson-iot has no `{}` operation", other.kind().as_str()),
            )),
        }
    }
}

impl Backend for WatsonIot {
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
        // Fingerprints, not the tokens: enough to keep two sets of keys' cached reads apart.
        let keys: Vec<(&str, String)> = self
            .cfg
            .keys
            .values()
            .map(|k| (k.key.as_str(), k.token.fingerprint()))
            .collect();
        orgway_core::secret::fingerprint(&keys)
    }

    fn call<'a>(
        &'a self,
        cx: &'a CallContext,
        op: Operation,
    ) -> BoxFuture<'a, Result<Output, BackendError>> {
        Box::pin(self.dispatch(cx, op))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use bytes::Bytes;
    use orgway_core::{
        BaseUrl, ConfigError, Cursor, ErrorKind, FromSettings, Secret, SecretRef, SecretSource,
        Sort, Timestamp, Transport, TransportError,
    };

    use super::*;

    /// Resolves `${NAME}` to `token-NAME`.
    struct Tokens;

    impl SecretSource for Tokens {
        fn resolve(&self, r: &SecretRef) -> Result<Secret, String> {
            match r.target()? {
                orgway_core::SecretTarget::Env(name) => Ok(Secret::new(format!("token-{name}"))),
                _ => Err("files are not used here".into()),
            }
        }
    }

    fn settings(keys: &[&str]) -> WatsonIotSettings {
        WatsonIotSettings {
            api_keys: keys
                .iter()
                .map(|k| ApiKeySettings {
                    key: (*k).to_owned(),
                    token: SecretRef::new(format!("${{T{}}}", k.len())),
                })
                .collect(),
        }
    }

    fn backend(keys: &[&str]) -> WatsonIot {
        let base = BaseUrl::parse("https://{org}.internetofthings.ibmcloud.com/api/v0002").unwrap();
        WatsonIot::from_settings("watson", base, settings(keys), &Tokens).unwrap()
    }

    /// Records every request and answers each with the org whose host it was sent to.
    #[derive(Debug, Default)]
    struct Recorder {
        seen: Mutex<Vec<http::Request<Bytes>>>,
    }

    impl Transport for Recorder {
        fn send(
            &self,
            req: http::Request<Bytes>,
        ) -> BoxFuture<'static, Result<http::Response<Bytes>, TransportError>> {
            let host = req.uri().host().unwrap_or("").to_owned();
            let org = host.split('.').next().unwrap_or("").to_owned();
            let body = if req.uri().path().ends_with("/data-traffic") {
                r#"{"start":"2024-01-01","end":"2024-01-02","average":1,"total":3,"days":[{"date":"2024-01-01","total":1},{"date":"2024-01-02","total":2}]}"#.to_owned()
            } else {
                format!(r#"{{"id":"{org}","name":"Org {org}","enabled":true,"type":"Trial"}}"#)
            };
            self.seen.lock().unwrap().push(req);
            Box::pin(std::future::ready(Ok(http::Response::new(Bytes::from(
                body,
            )))))
        }
    }

    /// Polls a future that never waits (the recorder answers at once).
    fn now<F: std::future::Future>(f: F) -> F::Output {
        let mut f = std::pin::pin!(f);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match f.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(v) => v,
            std::task::Poll::Pending => panic!("the future waited"),
        }
    }

    fn context() -> (CallContext, Arc<Recorder>) {
        let t = Arc::new(Recorder::default());
        (CallContext::new("rid".into(), false, t.clone()), t)
    }

    #[test]
    fn each_org_is_asked_on_its_own_host_with_its_own_key() {
        let b = backend(&["a-abc123-kodl0vqqrk", "a-xyz789-p0q1r2s3t4"]);
        let (cx, seen) = context();
        for org in ["xyz789", "abc123"] {
            let out = now(b.call(&cx, Operation::GetOrg { org: org.into() })).unwrap();
            assert_eq!(out.into_org().unwrap().native_id, org);
        }
        let seen = seen.seen.lock().unwrap();
        assert_eq!(
            seen[0].uri(),
            "https://xyz789.internetofthings.ibmcloud.com/api/v0002/"
        );
        let auth = seen[0].headers()[http::header::AUTHORIZATION].clone();
        assert!(auth.is_sensitive());
        // base64("a-xyz789-p0q1r2s3t4:token-T19")
        assert_eq!(auth, "Basic YS14eXo3ODktcDBxMXIyczN0NDp0b2tlbi1UMTk=");
        assert_eq!(seen[0].headers()[http::header::ACCEPT], "application/json");
        assert!(seen[1].uri().host().unwrap().starts_with("abc123."));
    }

    #[test]
    fn an_org_without_a_key_is_not_found_without_a_call() {
        let b = backend(&["a-abc123-kodl0vqqrk"]);
        let (cx, seen) = context();
        let e = now(b.call(
            &cx,
            Operation::GetOrg {
                org: "zzz999".into(),
            },
        ))
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert_eq!(
            e.message,
            "watson has no API key for org zzz999, so it does not hold that org"
        );
        assert!(seen.seen.lock().unwrap().is_empty());
    }

    #[test]
    fn the_list_is_the_orgs_with_keys_paged_and_sorted_by_id() {
        let b = backend(&["a-ccc333-k1", "a-aaa111-k2", "a-bbb222-k3"]);
        let (cx, seen) = context();
        let query = |limit, cursor, sort: Option<&str>| ListQuery {
            limit,
            cursor,
            sort: sort.and_then(Sort::parse),
        };
        let page = now(b.call(
            &cx,
            Operation::ListOrgs {
                query: query(2, None, None),
            },
        ))
        .unwrap()
        .into_orgs()
        .unwrap();
        let ids: Vec<&str> = page.items.iter().map(|o| o.native_id.as_str()).collect();
        assert_eq!(ids, ["aaa111", "bbb222"]);
        assert_eq!((page.next, page.total), (Some(Cursor::Offset(2)), Some(3)));
        assert_eq!(seen.seen.lock().unwrap().len(), 2, "only the page is read");
        let page = now(b.call(
            &cx,
            Operation::ListOrgs {
                query: query(2, None, Some("-id")),
            },
        ))
        .unwrap()
        .into_orgs()
        .unwrap();
        assert_eq!(page.items[0].native_id, "ccc333");
    }

    #[test]
    fn data_traffic_asks_for_whole_days_with_detail() {
        let b = backend(&["a-abc123-kodl0vqqrk"]);
        let (cx, seen) = context();
        let ts = |s: &str| Timestamp::parse_rfc3339(s).unwrap();
        let range = TimeRange::new(ts("2024-01-01T00:00:00Z"), ts("2024-01-03T00:00:00Z")).unwrap();
        let s = now(b.call(
            &cx,
            Operation::GetUsageSeries {
                org: "abc123".into(),
                metric: Metric::DataTraffic,
                interval: Interval::Day,
                range,
                options: Default::default(),
            },
        ))
        .unwrap()
        .into_series()
        .unwrap();
        assert_eq!(s.unit, Unit::Bytes);
        let values: Vec<u64> = s.points.iter().map(|p| p.value).collect();
        assert_eq!(values, [1000, 2000]);
        assert_eq!(s.total, Some(3000));
        assert_eq!(
            seen.seen.lock().unwrap()[0].uri(),
            "https://abc123.internetofthings.ibmcloud.com/api/v0002/usage/data-traffic?start=2024-01-01&end=2024-01-02&detail=true"
        );
    }

    #[test]
    fn keys_are_validated() {
        let base = BaseUrl::parse("https://{org}.internetofthings.ibmcloud.com/api/v0002").unwrap();
        let build = |keys: &[&str]| {
            WatsonIotConfig::from_settings("w", base.clone(), settings(keys), &Tokens)
        };
        let key_of = |e: ConfigError| e.key;
        assert_eq!(key_of(build(&[]).unwrap_err()), "api_keys");
        assert_eq!(
            key_of(build(&["a-abc123-x", "abc123"]).unwrap_err()),
            "api_keys[1].key"
        );
        let dup = build(&["a-abc123-x", "a-abc123-y"]).unwrap_err();
        assert_eq!(dup.key, "api_keys[1].key");
        assert!(dup.message.contains("already has an API key"));
        let c = build(&["a-abc123-x", "a-q7w3e9-y"]).unwrap();
        assert_eq!(c.keys.keys().collect::<Vec<_>>(), ["abc123", "q7w3e9"]);
        assert!(!format!("{c:?}").contains("token-"), "tokens never print");
        // A refused token names its entry.
        let mut s = settings(&["a-abc123-x"]);
        s.api_keys[0].token = SecretRef::new("literal");
        let e = WatsonIotConfig::from_settings("w", base, s, &Tokens).unwrap_err();
        assert_eq!(e.key, "api_keys[0].token");
    }
}
