//! `orgway demo`: starts the vendor simulators on loopback and a gateway configured for them
//! (`config/demo.toml`, embedded), prints the address and example requests, and serves until
//! Ctrl-C. It needs nothing installed but the Rust toolchain.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;

use orgway_sim::commvault::{self, CommvaultSim};
use orgway_sim::losant::{self, LosantSim};
use tokio::net::TcpListener;

use crate::config::{Config, ConfigError};
use crate::server;

/// The demo's routing file, embedded so the demo runs from any folder.
pub const DEMO_CONFIG: &str = include_str!("../../../config/demo.toml");

/// The simulators the demo runs.
#[derive(Debug)]
pub struct Sims {
    pub losant: LosantSim,
    pub commvault: CommvaultSim,
}

impl Sims {
    /// Starts every simulator on `127.0.0.1:0`.
    pub async fn start() -> std::io::Result<Sims> {
        Ok(Sims {
            losant: LosantSim::start(losant::LosantConfig::default()).await?,
            commvault: CommvaultSim::start(commvault::CommvaultConfig::default()).await?,
        })
    }

    /// The values the demo's `${ORGWAY_DEMO_*}` references resolve to.
    pub fn env(&self) -> HashMap<String, String> {
        HashMap::from([
            ("ORGWAY_DEMO_LOSANT_URL".to_owned(), self.losant.base_url()),
            (
                "ORGWAY_DEMO_LOSANT_TOKEN".to_owned(),
                losant::DEMO_TOKEN.to_owned(),
            ),
            (
                "ORGWAY_DEMO_COMMVAULT_URL".to_owned(),
                self.commvault.base_url(),
            ),
            (
                "ORGWAY_DEMO_COMMVAULT_PASSWORD".to_owned(),
                commvault::DEMO_PASSWORD.to_owned(),
            ),
        ])
    }

    /// How many requests all simulators have received.
    pub fn requests_total(&self) -> usize {
        self.losant.server().request_count() + self.commvault.server().request_count()
    }

    /// Stops every simulator.
    pub async fn shutdown(self) {
        self.losant.shutdown().await;
        self.commvault.shutdown().await;
    }
}

/// The demo's configuration, pointed at running simulators.
pub fn config(sims: &Sims) -> Result<Config, ConfigError> {
    let env = sims.env();
    let lookup = move |name: &str| env.get(name).cloned();
    Config::parse(DEMO_CONFIG, "config/demo.toml", Path::new("."), &lookup)
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
    format!(
        "orgway demo: gateway on {base}\n\
         simulators: losant {losant}, commvault {commvault}\n\
         \n\
         Try:\n\
         \x20 curl -s {base}/v1/orgs/acme\n\
         \x20 curl -s -X PATCH -H 'content-type: application/json' -d '{{\"name\":\"Acme Renamed\"}}' {base}/v1/orgs/acme\n\
         \x20 curl -s '{base}/v1/orgs/losant:575ed6e87ae143cd83dc4aa8/usage/devices?interval=day'\n\
         \n\
         More: {base}/v1/backends  {base}/v1/backends/losant/orgs  {base}/v1/orgs/acme-backup/plans  {base}/openapi.json\n\
         Ctrl-C stops everything.\n",
        losant = sims.losant.base_url(),
        commvault = sims.commvault.base_url(),
    )
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
