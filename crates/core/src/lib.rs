//! orgway-core: the normalized model every part of orgway speaks, with no I/O.
//!
//! # Layout
//! - [`model`]: the resources of docs/API.md §3 (org, plan, usage, subscription, page) as adapters
//!   produce them, and `Page` with its paging helpers.
//! - [`query`]: list paging and sorting, metrics, intervals and time ranges.
//! - [`op`]: the operation enum (one variant per backend-facing route) and its output.
//! - [`error`]: `BackendError`, each failure classified for the policy stack and the renderer.
//! - [`backend`]: the `Backend` trait, its capabilities, the per-call context, `BaseUrl`.
//! - [`credential`]: the one credential flow (one refresh in flight, its deadline, refusal
//!   backoff, expiry) every dialect that logs in uses.
//! - [`transport`]: the seam to the gateway's shared outbound HTTP client.
//! - [`call`]: what every adapter's client needs: a vendor request (`Call`), sending it through
//!   the transport, its `Answer`, and decoding JSON answers with classified errors.
//! - [`series`]: usage series from vendor time buckets (grouping by interval, totals).
//! - [`raw`]: removing the members an adapter declares secret from the raw records it returns.
//! - [`secret`]: secrets, references to them, and configuration errors.
//! - [`text`]: caller and vendor text made fit for messages.
//! - [`time`]: `Timestamp`, RFC 3339 in UTC.
//!
//! This crate knows nothing of HTTP servers, TOML, caching or an async runtime: adapters depend
//! on it, the gateway depends on both, and nothing here depends on either.

pub mod backend;
pub mod call;
pub mod credential;
pub mod error;
pub mod model;
pub mod op;
pub mod query;
pub mod raw;
pub mod secret;
pub mod series;
pub mod sort;
pub mod text;
pub mod time;
pub mod transport;

pub use backend::{
    Backend, BaseUrl, CallContext, Capabilities, FromSettings, ListSupport, MetricSupport,
    ORG_PLACEHOLDER, is_safe_method,
};
pub use error::{BackendError, ErrorKind};
pub use model::{
    Assignees, Counts, Org, OrgStatus, Page, Plan, PlanRef, Quota, ResourceUse, Subscription, Unit,
    UsageMetric, UsagePoint, UsageSeries, UsageSummary,
};
pub use op::{CustomerFilter, OpKind, Operation, OrgPatch, Output, Patch, PatchField};
pub use query::{
    Cursor, Interval, ListQuery, Metric, RangeError, SeriesOptions, Sort, SortField, TimeRange,
};
pub use secret::{ConfigError, Secret, SecretRef, SecretSource, SecretTarget};
pub use time::Timestamp;
pub use transport::{BoxFuture, RequestLimits, Transport, TransportError};
