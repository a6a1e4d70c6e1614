//! `orgway demo`: starts every dialect's simulator on loopback and a gateway configured for them
//! (its `[server]` part plus each dialect's demo routing from the registry), prints the address
//! and example requests, and serves until Ctrl-C. It needs nothing installed but the Rust
//! toolchain.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;

use orgway_sim::RunningSim;
use tokio::net::TcpListener;

use crate::config::{Config, ConfigError};
use crate::registry::{BackendKind, demo_var};
use crate::server;

/// The `[server]` part of the demo's routing file. Each dialect adds its own `[[backends]]`
/// table and aliases (see `registry.rs`), with the simulators' addresses and demo credentials
/// filled in through `${ORGWAY_DEMO_*}` references by the demo itself; nothing is read from the
/// process environment.
pub const DEMO_SERVER_CONFIG: &str = r#"# The routing file `orgway demo` runs: a gateway in front of the simulators it starts on loopback.
[server]
listen = "127.0.0.1:8080"
log_format = "text"
log_level = "info"
"#;

/// The demo's read cache: on, with short times to live so a change shows within seconds.
pub const DEMO_CACHE_CONFIG: &str = r#"
[cache]
max_bytes = 16777216
stale_while_revalidate_ms = 5000
stale_if_error_ms = 60000
[cache.ttl_ms]
org = 10000
orgs = 10000
plans = 10000
usage = 5000
series = 30000
customers = 10000
subscriptions = 10000
"#;

/// The demo's callers: tokens signed with a secret the demo draws at random when it starts
/// (its development token is printed in the banner).
pub const DEMO_AUTH_CONFIG: &str = r#"
[auth]
issuer = "orgway-demo"
audience = "orgway"
[[auth.keys]]
kid = "demo"
alg = "HS256"
secret = "${ORGWAY_DEMO_AUTH_SECRET}"
"#;

/// The variable the demo's auth secret is given by.
pub const DEMO_AUTH_SECRET_VAR: &str = "ORGWAY_DEMO_AUTH_SECRET";

/// The demo's whole routing file: the `[server]` part, its cache and auth, then each dialect's
/// backend and aliases.
pub fn demo_config_text() -> String {
    let mut text = DEMO_SERVER_CONFIG.to_owned();
    text.push_str(DEMO_CACHE_CONFIG);
    text.push_str(DEMO_AUTH_CONFIG);
    for kind in BackendKind::all() {
        text.push_str(kind.dialect().demo.routing);
    }
    text
}

/// The simulators the demo runs, one per dialect.
#[derive(Debug)]
pub struct Sims {
    running: Vec<(BackendKind, Box<dyn RunningSim>)>,
    /// The HS256 secret the demo's tokens are signed with, drawn at start.
    auth_secret: String,
}

impl Sims {
    /// Starts every dialect's simulator on `127.0.0.1:0`.
    pub async fn start() -> std::io::Result<Sims> {
        let mut running = Vec::new();
        for kind in BackendKind::all() {
            running.push((kind, (kind.dialect().demo.start_sim)().await?));
        }
        let mut secret = [0u8; 32];
        rustls::crypto::ring::default_provider()
            .secure_random
            .fill(&mut secret)
            .map_err(|_| std::io::Error::other("no randomness for the demo's auth secret"))?;
        let auth_secret = secret.iter().map(|b| format!("{b:02x}")).collect();
        Ok(Sims {
            running,
            auth_secret,
        })
    }

    /// A development token for the demo's gateway: every scope on every org, 12 hours.
    pub fn dev_token(&self) -> String {
        let claims = crate::auth::Claims {
            issuer: "orgway-demo".into(),
            audience: "orgway".into(),
            subject: "demo-developer".into(),
            scopes: crate::auth::all_scopes(),
            orgs: vec!["*".into()],
            orgs_claim: "orgs".into(),
            lifetime: std::time::Duration::from_secs(12 * 3600),
        };
        let key = jsonwebtoken::EncodingKey::from_secret(self.auth_secret.as_bytes());
        crate::auth::mint("demo", jsonwebtoken::Algorithm::HS256, &key, &claims).unwrap_or_default()
    }

    /// The running simulators with their dialects.
    pub fn iter(&self) -> impl Iterator<Item = (BackendKind, &dyn RunningSim)> {
        self.running.iter().map(|(k, s)| (*k, s.as_ref()))
    }

    /// The simulator of type `S` (for tests that need a vendor's own handle).
    pub fn get<S: RunningSim>(&self) -> &S {
        self.running
            .iter()
            .find_map(|(_, s)| s.as_any().downcast_ref::<S>())
            .expect("the demo runs this simulator")
    }

    /// The values the demo's `${ORGWAY_DEMO_*}` references resolve to.
    pub fn env(&self) -> HashMap<String, String> {
        let mut env = HashMap::new();
        env.insert(DEMO_AUTH_SECRET_VAR.to_owned(), self.auth_secret.clone());
        for (kind, sim) in self.iter() {
            env.insert(demo_var(kind.name(), "URL"), sim.base_url());
            for (name, value) in sim
                .demo_credentials()
                .into_iter()
                .chain(sim.demo_settings())
            {
                env.insert(demo_var(kind.name(), name), value);
            }
        }
        env
    }

    /// How many requests all simulators have received.
    pub fn requests_total(&self) -> usize {
        self.iter().map(|(_, s)| s.server().request_count()).sum()
    }

    /// Stops every simulator.
    pub async fn shutdown(self) {
        for (_, sim) in self.running {
            sim.stop().await;
        }
    }
}

/// The demo's configuration, pointed at running simulators.
pub fn config(sims: &Sims) -> Result<Config, ConfigError> {
    let env = sims.env();
    let lookup = move |name: &str| env.get(name).cloned();
    Config::parse(&demo_config_text(), "demo routing", Path::new("."), &lookup)
}

/// Binds the demo's address, falling back to a free port when it is taken.
async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    match TcpListener::bind(addr).await {
        Ok(l) => Ok(l),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            tracing::warn!(%addr, "address in use; the demo takes a free port instead");
            TcpListener::bind(SocketAddr::new(addr.ip(), 0)).await
        }
        Err(e) => Err(e),
    }
}

/// The lines printed when the demo is up.
pub fn banner(addr: SocketAddr, sims: &Sims) -> String {
    let base = format!("http://{addr}");
    let simulators: Vec<String> = sims
        .iter()
        .map(|(kind, sim)| format!("{} {}", kind.name(), sim.base_url()))
        .collect();
    let token = sims.dev_token();
    let mut out = format!(
        "orgway demo: gateway on {base}\nsimulators: {}\n\nDEVELOPMENT TOKEN (demo only: every scope on every demo org, valid 12 hours):\n  {token}\n\nTry (each line carries the token):\n",
        simulators.join(", ")
    );
    let auth = format!("curl -H 'authorization: Bearer {token}' ");
    for kind in BackendKind::all() {
        for line in kind.dialect().demo.try_lines {
            out.push_str("  ");
            let line = line.replace("{base}", &base);
            out.push_str(&match line.strip_prefix("curl ") {
                Some(rest) => format!("{auth}{rest}"),
                None => line,
            });
            out.push('\n');
        }
    }
    out.push_str(
        "\nThe read cache is on: the first read of acme is a miss, the second is answered from\n\
         the cache (`meta.cache`: `hit`; add -i to see `X-Cache` and `Cache-Status`), and the\n\
         PATCH drops what it changed.\n",
    );
    out.push_str(&format!(
        "\nMore: {base}/v1/backends  {base}/openapi.json\nCtrl-C stops everything.\n"
    ));
    out
}

/// Runs the demo until `shutdown` completes. `listen` overrides the demo file's address.
pub async fn run(
    listen: Option<SocketAddr>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let sims = Sims::start().await?;
    let mut config = config(&sims)?;
    if let Some(addr) = listen {
        config.server.listen = addr;
    }
    let listener = bind(config.server.listen).await?;
    let addr = listener.local_addr()?;
    print!("{}", banner(addr, &sims));
    let served = server::run(config, listener, shutdown).await;
    sims.shutdown().await;
    served?;
    println!("orgway demo stopped");
    Ok(())
}
