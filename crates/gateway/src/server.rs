//! `run`: serves a validated configuration on a bound listener until the shutdown future
//! completes, then stops accepting, lets in-flight requests finish (up to the configured
//! grace period) and returns. Taking the listener and the signal as arguments lets tests bind
//! `127.0.0.1:0` and stop the server when they are done.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::client::HttpClient;
use crate::config::Config;
use crate::http::{self, App};
use crate::routing::Routing;
use crate::telemetry::Metrics;

/// The shared state of a gateway serving `config`.
pub fn build_app(config: &Config) -> Arc<App> {
    let metrics = Metrics::new();
    Arc::new(App {
        routing: Routing::new(config, &metrics),
        transport: Arc::new(HttpClient::new()),
        metrics,
        body_limit: config.server.body_limit_bytes,
        ready: AtomicBool::new(true),
        openapi: Bytes::from(http::openapi::document()),
    })
}

/// Serves until `shutdown` completes, then drains.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = build_app(&config);
    let router = http::app(app.clone());
    let addr = listener.local_addr()?;
    tracing::info!(%addr, backends = config.backends.len(), aliases = config.orgs.len(), "orgway serving");

    let (stop_tx, mut stop_rx) = watch::channel(false);
    let draining = app.clone();
    let delay = config.server.shutdown_delay;
    tokio::spawn(async move {
        shutdown.await;
        // Fail readiness first, so load balancers stop sending while the listener still
        // accepts what is already on its way.
        draining.ready.store(false, Ordering::Relaxed);
        if !delay.is_zero() {
            tracing::info!(
                delay_ms = delay.as_millis() as u64,
                "shutdown requested: not ready, still accepting"
            );
            tokio::time::sleep(delay).await;
        }
        tracing::info!("shutting down: no new connections, finishing in-flight requests");
        let _ = stop_tx.send(true);
    });

    let mut graceful_rx = stop_rx.clone();
    let serve = axum::serve(listener, router).with_graceful_shutdown(async move {
        let _ = graceful_rx.wait_for(|s| *s).await;
    });
    let grace = config.server.shutdown_grace;
    tokio::select! {
        result = serve => result,
        _ = async {
            let _ = stop_rx.wait_for(|s| *s).await;
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!(grace_ms = grace.as_millis() as u64, "grace period over: closing the remaining connections");
            Ok(())
        }
    }
}

/// Completes on Ctrl-C or, on Unix, SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
