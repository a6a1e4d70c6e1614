//! orgway-sim: simulators of the vendor backends orgway speaks to, for tests, benches and
//! `orgway demo`.
//!
//! Each simulator is a real HTTP server on loopback, written from the vendor's documents
//! (the project's reference library of vendor documents, seeds and schemas) and sharing no wire types
//! with the adapters, so a test of an adapter against a simulator checks two independent
//! readings of the documents against each other.
//!
//! # Layout
//! - [`server`]: `SimServer`, the loopback HTTP server every simulator runs in, with a request
//!   log for tests and fault injection; plain HTTP or TLS.
//! - [`tls`]: a CA and server certificate generated at start, for simulators that speak HTTPS.
//! - [`demo`]: what the demo and the tests need of any simulator (`RunningSim`, `DemoSim`).
//! - [`faults`]: the fault knobs (latency, forced status, malformed body).
//! - [`losant`]: the Losant Instance Org API.
//! - [`commvault`]: the Commvault REST API's login, organization and plan pieces.
//! - [`enhance`]: the Enhance control panel's orgs, customers, subscriptions, plans and login.
//! - [`watson_iot`]: the IBM Watson IoT Platform API v0002's organization and usage, over HTTPS.
//! - [`cocoon`]: the Cocoon Data Access Service's OAuth2 tokens, organisations, plans and
//!   statistics.

pub mod cocoon;
pub mod commvault;
pub mod demo;
pub mod enhance;
pub mod faults;
pub mod losant;
pub mod server;
pub mod tls;
pub mod watson_iot;

pub use demo::{DemoSim, RunningSim};
pub use faults::{FaultPlan, Faults};
pub use server::{RecordedRequest, SimServer};
