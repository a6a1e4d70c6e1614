//! orgway: one normalized JSON API for organizations, plans, usage, customers and
//! subscriptions, in front of vendor backends that each speak their own dialect.
//!
//! # Layout
//! - [`cache`]: the read cache: keys, one fill per key, stale answers, invalidation, HTTP.
//! - [`config`]: the TOML routing file, parsed strictly and validated into runtime types.
//! - [`conn`]: client connections' guards: connection cap, header read and idle timeouts.
//! - [`registry`]: every vendor dialect, described once: its kind, how its adapter is built, how
//!   the demo runs its simulator.
//! - [`routing`]: backends by name, org aliases, org reference resolution.
//! - [`policy`]: the per-backend tower stack (observe, deadline, concurrency limit).
//! - [`client`]: the shared, pooled outbound HTTP client (hyper-util + rustls).
//! - [`http`]: the router of docs/API.md and the tower stack in front of it.
//! - [`error`]: the one error type, its codes, and the one function that writes it.
//! - [`telemetry`]: logs and Prometheus metrics.
//! - [`server`]: [`run`], which serves a configuration on a listener until a shutdown signal.
//! - [`demo`]: `orgway demo`, simulators plus a gateway configured for them.

pub mod auth;
pub mod cache;
pub mod client;
pub mod config;
pub mod conn;
pub mod demo;
pub mod error;
pub mod http;
pub mod idempotency;
pub mod limits;
pub mod policy;
pub mod registry;
pub mod resilience;
pub mod routing;
pub mod server;
pub mod telemetry;

pub use config::Config;
pub use server::{build_app, run, shutdown_signal};
