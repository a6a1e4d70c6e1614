//! The `orgway` binary: parses arguments, loads the routing file, sets up logging and the
//! runtime, and hands over to the library (`orgway::run`, `orgway::demo::run`).

/// See the workspace manifest: the binary (not the library) picks the allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use orgway::config::{self, Config, LogFormat};

#[derive(Parser)]
#[command(
    name = "orgway",
    version,
    about = "One normalized JSON API for organizations, plans, usage, customers and subscriptions across vendor backends"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

impl From<Format> for LogFormat {
    fn from(f: Format) -> Self {
        match f {
            Format::Text => LogFormat::Text,
            Format::Json => LogFormat::Json,
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API as the routing file says, until SIGTERM or Ctrl-C.
    Serve {
        /// The TOML routing file.
        #[arg(long, short)]
        config: PathBuf,
        /// Overrides `[server] listen`.
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Overrides `[server] log_format`.
        #[arg(long, value_enum)]
        log_format: Option<Format>,
    },
    /// Validate a routing file (secrets and environment references included) and exit.
    Check {
        /// The TOML routing file.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Mint a caller token with a key of the routing file's `[auth]`, and print it.
    Token {
        /// The TOML routing file.
        #[arg(long, short)]
        config: PathBuf,
        /// The key to sign with (its `kid`); the only key when there is one.
        #[arg(long)]
        kid: Option<String>,
        /// The private key (PEM) of an RS, PS, ES or EdDSA key; HS keys sign with their secret.
        #[arg(long)]
        private_key: Option<PathBuf>,
        /// The caller's subject (`sub`).
        #[arg(long)]
        sub: String,
        /// Scopes, space-separated (e.g. "orgs:read usage:read").
        #[arg(long)]
        scope: String,
        /// An org granted (a ref, an alias, `backend:*` or `*`); repeat for more.
        #[arg(long = "org")]
        orgs: Vec<String>,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl_s: u64,
    },
    /// Start the vendor simulators on loopback and a gateway configured for them.
    Demo {
        /// The gateway's address (default 127.0.0.1:8080, or a free port if that is taken).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Log format.
        #[arg(long, value_enum)]
        log_format: Option<Format>,
    },
}

fn load(path: &std::path::Path) -> Result<Config, ExitCode> {
    Config::load(path, &config::process_env).map_err(|e| {
        eprintln!("{e}");
        ExitCode::from(2)
    })
}

fn runtime(threads: Option<std::num::NonZeroUsize>) -> anyhow::Result<tokio::runtime::Runtime> {
    let mut b = match threads {
        Some(n) if n.get() == 1 => tokio::runtime::Builder::new_current_thread(),
        Some(n) => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(n.get());
            b
        }
        None => tokio::runtime::Builder::new_multi_thread(),
    };
    b.enable_all();
    Ok(b.build()?)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { config } => match load(&config) {
            Ok(c) => {
                let backends: Vec<String> = c
                    .backends
                    .iter()
                    .map(|b| format!("{} ({})", b.name, b.kind.name()))
                    .collect();
                println!(
                    "{}: ok: {} backend{} [{}], {} org alias{}",
                    config.display(),
                    c.backends.len(),
                    if c.backends.len() == 1 { "" } else { "s" },
                    backends.join(", "),
                    c.orgs.len(),
                    if c.orgs.len() == 1 { "" } else { "es" }
                );
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        Command::Serve {
            config,
            listen,
            log_format,
        } => {
            let mut c = match load(&config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            if let Some(addr) = listen {
                c.server.listen = addr;
            }
            let format = log_format
                .map(LogFormat::from)
                .unwrap_or(c.server.log_format);
            orgway::telemetry::init_tracing(format, &c.server.log_level);
            match serve(c) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = %e, "orgway stopped");
                    eprintln!("orgway: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Token {
            config,
            kid,
            private_key,
            sub,
            scope,
            orgs,
            ttl_s,
        } => {
            let c = match load(&config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            match token(&c, kid, private_key, sub, scope, orgs, ttl_s) {
                Ok(t) => {
                    println!("{t}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("orgway token: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Demo { listen, log_format } => {
            orgway::telemetry::init_tracing(
                log_format.map(LogFormat::from).unwrap_or_default(),
                "info",
            );
            let result = runtime(None).and_then(|rt| {
                rt.block_on(orgway::demo::run(listen, orgway::shutdown_signal()))
                    .map_err(|e| anyhow::anyhow!(e))
            });
            match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("orgway demo: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// `orgway token`.
fn token(
    c: &Config,
    kid: Option<String>,
    private_key: Option<PathBuf>,
    subject: String,
    scope: String,
    orgs: Vec<String>,
    ttl_s: u64,
) -> Result<String, String> {
    use jsonwebtoken::{Algorithm, EncodingKey};
    use orgway::config::{AuthConfig, KeyMaterial};
    let AuthConfig::Jwt(auth) = &c.auth else {
        return Err("[auth] mode is \"off\": no token is needed".into());
    };
    let key = match kid {
        Some(k) => auth.keys.iter().find(|key| key.kid == k),
        None if auth.keys.len() == 1 => auth.keys.first(),
        None => return Err("name the key with --kid".into()),
    }
    .ok_or("no such key in [[auth.keys]]")?;
    let encoding = match (&key.material, private_key) {
        (KeyMaterial::Secret(s), None) => EncodingKey::from_secret(s.expose().as_bytes()),
        (KeyMaterial::Secret(_), Some(_)) => {
            return Err("an HS key signs with its secret; --private-key is not used".into());
        }
        (KeyMaterial::PublicPem(_), None) => {
            return Err(
                "this key is verified with a public key: give its private key with --private-key"
                    .into(),
            );
        }
        (KeyMaterial::PublicPem(_), Some(path)) => {
            let pem =
                std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            match key.alg {
                Algorithm::RS256
                | Algorithm::RS384
                | Algorithm::RS512
                | Algorithm::PS256
                | Algorithm::PS384
                | Algorithm::PS512 => EncodingKey::from_rsa_pem(&pem),
                Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(&pem),
                _ => EncodingKey::from_ed_pem(&pem),
            }
            .map_err(|e| {
                format!(
                    "{} is not a private key for {:?}: {e}",
                    path.display(),
                    key.alg
                )
            })?
        }
    };
    let unknown: Vec<&str> = scope
        .split_whitespace()
        .filter(|s| orgway::auth::Scope::parse(s).is_none())
        .collect();
    if !unknown.is_empty() {
        return Err(format!("unknown scope(s): {}", unknown.join(" ")));
    }
    let claims = orgway::auth::Claims {
        issuer: auth.issuer.clone(),
        audience: auth.audience.clone(),
        subject,
        scopes: scope.split_whitespace().map(str::to_owned).collect(),
        orgs,
        orgs_claim: auth.orgs_claim.clone(),
        lifetime: std::time::Duration::from_secs(ttl_s),
    };
    orgway::auth::mint(&key.kid, key.alg, &encoding, &claims)
}

fn serve(c: Config) -> anyhow::Result<()> {
    open_files_for(c.server.max_connections);
    let rt = runtime(c.server.worker_threads)?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(c.server.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", c.server.listen))?;
        // The first signal drains gracefully; a second one stops at once.
        let shutdown = async {
            orgway::shutdown_signal().await;
            tokio::spawn(async {
                orgway::shutdown_signal().await;
                tracing::warn!("second shutdown signal: exiting without waiting");
                std::process::exit(130);
            });
        };
        orgway::run(c, listener, shutdown).await?;
        Ok(())
    })
}

/// Raises the soft limit on open files to the hard limit, as a server that holds thousands of
/// connections must (the usual soft limit, 1,024, would refuse the 1,025th socket whatever
/// `max_connections` says), and warns when even the hard limit is below `max_connections` and
/// the sockets and files a gateway needs beside them.
fn open_files_for(max_connections: usize) {
    let Ok(limit) = rlimit::increase_nofile_limit(u64::MAX) else {
        return;
    };
    if limit < max_connections as u64 + 256 {
        tracing::warn!(
            open_files = limit,
            max_connections,
            "the open-files limit is below server.max_connections (plus 256 for backends and \
             files): connections beyond it are refused at accept; raise the hard limit \
             (ulimit -Hn, LimitNOFILE=) or lower max_connections"
        );
    }
}
