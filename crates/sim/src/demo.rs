//! What `orgway demo` and the end-to-end tests need of every simulator, whatever its vendor:
//! start it with its seeded demo data, read its address and demo credentials, count the
//! requests it saw, stop it. The gateway's dialect registry names one starter per dialect, so
//! nothing else has to name a vendor.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;

use crate::server::SimServer;

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A running simulator, seen without its vendor.
pub trait RunningSim: Send + Sync + fmt::Debug + Any {
    /// The loopback server it runs in (request log, fault knobs).
    fn server(&self) -> &SimServer;

    /// The base URL a backend's `base_url` points at.
    fn base_url(&self) -> String;

    /// The credentials its demo data accepts, by name (`TOKEN`, `PASSWORD`, …); the demo
    /// routing file refers to each as `${ORGWAY_DEMO_<KIND>_<NAME>}`.
    fn demo_credentials(&self) -> Vec<(&'static str, String)>;

    /// Settings its demo routing needs besides the base URL, none of them secret (an address
    /// to connect to, a CA file to trust), by name; referred to as
    /// `${ORGWAY_DEMO_<KIND>_<NAME>}` like the credentials. Most simulators need none.
    fn demo_settings(&self) -> Vec<(&'static str, String)> {
        Vec::new()
    }

    /// Stops it.
    fn stop(self: Box<Self>) -> BoxFuture<'static, ()>;

    /// For tests that need the vendor's own handle (its store, its counters).
    fn as_any(&self) -> &dyn Any;
}

/// A simulator that starts with its seeded demo data.
pub trait DemoSim: RunningSim + Sized {
    /// Starts on `127.0.0.1:0` with the default (demo) configuration.
    fn start_demo() -> BoxFuture<'static, std::io::Result<Self>>;
}

/// Starts a simulator with its demo data, boxed: the function the dialect registry names.
pub fn start<S: DemoSim>() -> BoxFuture<'static, std::io::Result<Box<dyn RunningSim>>> {
    Box::pin(async { Ok(Box::new(S::start_demo().await?) as Box<dyn RunningSim>) })
}
