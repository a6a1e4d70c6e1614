//! `run`: serves a validated configuration on a bound listener until the shutdown future
//! completes, then stops accepting, lets in-flight requests finish (up to the configured
//! grace period) and returns. Taking the listener and the signal as arguments lets tests bind
//! `127.0.0.1:0` and stop the server when they are done.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

use crate::config::Config;
use crate::conn;
use crate::error::ErrorCode;
use crate::http::{self, App};
use crate::routing::Routing;
use crate::telemetry::Metrics;

/// The shared state of a gateway serving `config`.
pub fn build_app(config: &Config) -> Arc<App> {
    let metrics = Metrics::new();
    let routing = Arc::new(Routing::new(config, &metrics));
    let cache = Arc::new(crate::cache::Cache::new(
        config,
        routing.backends(),
        metrics.clone(),
    ));
    Arc::new(App {
        auth: crate::auth::Auth::new(&config.auth, routing.clone()),
        caller_limit: config
            .server
            .caller_rate_limit
            .map(crate::limits::PerCaller::new),
        cors: config.cors.clone(),
        idempotency: Arc::new(crate::idempotency::MemoryStore::new(
            config.server.idempotency_max_bytes,
        )),
        routing,
        cache,
        metrics,
        body_limit: config.server.body_limit_bytes,
        body_timeout: config.server.body_read_timeout,
        ready: AtomicBool::new(true),
        openapi: Bytes::from(http::openapi::document()),
        writes: tokio_util::task::TaskTracker::new(),
    })
}

/// Serves until `shutdown` completes, then drains.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = build_app(&config);
    if app.auth.is_on() {
        app.auth.start().await;
    } else {
        tracing::warn!(
            "authentication is off ([auth] mode = \"off\"): anyone who reaches the port may read, change and delete every org"
        );
    }
    if app.caller_limit.is_some() {
        // Callers whose limit is full again are forgotten, so the map holds recent callers only.
        let app = Arc::downgrade(&app);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(60)).await;
                match app.upgrade() {
                    Some(a) => a.caller_limit.iter().for_each(|l| l.forget_idle()),
                    None => return,
                }
            }
        });
    }
    let gateway = http::Gateway::new(app.clone());
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

    let limits = ConnLimits {
        header_timeout: config.server.header_read_timeout,
        idle_timeout: config.server.idle_timeout,
        max_connections: config.server.max_connections,
        max_header_bytes: config.server.max_header_bytes,
    };
    let serve = accept_loop(listener, gateway, limits, stop_rx.clone());
    let grace = config.server.shutdown_grace;
    let grace_over = async {
        let _ = stop_rx.wait_for(|s| *s).await;
        tokio::time::sleep(grace).await;
    };
    tokio::pin!(grace_over);
    // Dropping the accept loop closes the connections still open (see `accept_loop`).
    let over = tokio::select! {
        () = serve => false,
        () = &mut grace_over => {
            tracing::warn!(grace_ms = grace.as_millis() as u64, "grace period over: closing the remaining connections");
            true
        }
    };
    // Writes whose callers left still run: they are waited for within the same grace period
    // (whose end, once reached, is not awaited again).
    app.writes.close();
    if !over {
        tokio::select! {
            () = app.writes.wait() => {}
            () = &mut grace_over => {}
        }
    }
    if !app.writes.is_empty() {
        tracing::warn!(
            writes = app.writes.len(),
            "grace period over: writes still running are stopped where they are"
        );
    }
    Ok(())
}

/// The per-connection limits of `[server]`.
#[derive(Debug, Clone, Copy)]
struct ConnLimits {
    header_timeout: Duration,
    idle_timeout: Duration,
    max_connections: usize,
    max_header_bytes: usize,
}

/// Accepts connections until `stop` turns true, serving each on its own task with the
/// guards of `conn.rs`; then asks every connection to finish its request in flight and close,
/// and returns when all have. Dropped before that, it closes every connection still open (its
/// tasks are a `JoinSet`'s).
async fn accept_loop(
    listener: TcpListener,
    gateway: http::Gateway,
    limits: ConnLimits,
    mut stop: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .keep_alive(true)
        // A head that does not fit is answered 431 (in the error shape: see `conn.rs`).
        .max_buf_size(limits.max_header_bytes);
    // The guards of `conn.rs` time the headers from their first byte; hyper's own header
    // timer would also count the idle time before it.
    builder.header_read_timeout(None);
    let mut connections = tokio::task::JoinSet::new();
    loop {
        // Connections that ended are reaped, so the set holds open ones only.
        while connections.try_join_next().is_some() {}
        let (stream, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before it was accepted:
                    // wait a moment rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            () = stopped(&mut stop) => break,
        };
        let _ = stream.set_nodelay(true);
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            // Made for each refusal: each has its own request id.
            gateway.metrics().connection(503);
            let answer = conn::raw_error(
                ErrorCode::Unavailable,
                "the gateway has too many open connections",
                Some(1),
            );
            tokio::spawn(async move {
                let mut stream = stream;
                let _ = tokio::time::timeout(Duration::from_secs(1), async {
                    let _ = stream.write_all(&answer).await;
                    let _ = stream.shutdown().await;
                })
                .await;
            });
            continue;
        };
        let watch = conn::Watch::new(limits.header_timeout, limits.idle_timeout);
        let io = TokioIo::new(conn::Watched::new(
            stream,
            watch.clone(),
            limits.max_header_bytes,
            gateway.metrics().clone(),
        ));
        let gateway = gateway.clone();
        let service_watch = watch.clone();
        let service = hyper::service::service_fn(move |req: ::http::Request<Incoming>| {
            service_watch.request_started();
            let answered = gateway.clone().handle(req);
            let w = service_watch.clone();
            async move {
                let resp = answered.await;
                w.request_finished();
                Ok::<_, std::convert::Infallible>(resp)
            }
        });
        let connection = builder.serve_connection(io, service);
        // The side task: the watchdog and the wait for the gateway's shutdown. Polling them with
        // the connection would poll them again on every wake of the connection's task. It ends
        // with the connection, or when the accept loop is dropped (shutdown's grace period
        // over): the connection's task is aborted, and its guard aborts the side task.
        let side = {
            let watch = watch.clone();
            let mut stop = stop.clone();
            AbortOnDrop(tokio::spawn(async move {
                // The watchdog times the connection for its whole life, a drain included (a
                // request whose head is still arriving is not ended by the drain).
                tokio::join!(watch.watchdog(), async {
                    stopped(&mut stop).await;
                    watch.drain();
                });
            }))
        };
        connections.spawn(async move {
            let _slot = slot;
            let _side = side;
            tokio::pin!(connection);
            let mut draining = false;
            let result = std::future::poll_fn(|cx| {
                watch.register(cx.waker());
                loop {
                    if let Poll::Ready(result) = connection.as_mut().poll(cx) {
                        return Poll::Ready(result);
                    }
                    if draining || !watch.draining() {
                        return Poll::Pending;
                    }
                    draining = true;
                    connection.as_mut().graceful_shutdown();
                }
            })
            .await;
            if let Err(e) = result {
                tracing::debug!(error = %e, "client connection ended with an error");
            }
        });
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

/// Aborts its task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Completes once `stop` is true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await.map(|_| ());
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
