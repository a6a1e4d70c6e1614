//! End-to-end tests, compiled as one test binary: the real gateway (in process, and the
//! `orgway` binary) against the real simulators, over loopback sockets.

mod auth;
mod bad_input;
mod binary;
mod cache;
mod clients;
mod cocoon;
mod commvault;
mod conformance;
mod enhance;
mod faults;
mod harness;
mod losant;
mod resilience;
mod service;
mod tidy;
mod watson_iot;
