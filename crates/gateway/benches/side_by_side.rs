//! The gateway side by side with the servers the cache and performance issues compare it to, in
//! one run, each driven by `wrk`: `cargo bench -p orgway --bench side_by_side`.
//!
//! Every server gets one worker thread and binds loopback; `wrk -t1 -c64 -d<N>s --latency`
//! drives each in turn, in alternating rounds (the order rotates every round) so that a busy
//! machine slows every side alike. Three groups:
//! - **A, a translated miss**: the vendor (a bare hyper server answering every request with the
//!   Losant simulator's demo org record), nginx `proxy_pass` in front of it (keep-alive upstream),
//!   and `orgway serve` with one Losant backend on the vendor, `GET /v1/orgs/losant:<id>`, no
//!   cache: every request is translated, sent to the vendor and translated back; and, as the
//!   floor of a proxy built as the gateway is, a bare hyper server sending each request on to
//!   the vendor through the gateway's own outbound client and translating nothing.
//! - **B, `/healthz`**: the gateway's against a bare hyper server answering the same bytes.
//! - **C, a cache hit** (only when `orgway check` accepts [`CACHE_TABLE`]): the gateway answering
//!   the org from its cache, a bare hyper server answering the very same bytes, and nginx
//!   `proxy_cache` in front of the vendor.
//! - **D, an authenticated cache hit** (with C): a gateway whose `[auth]` verifies an RS256 key
//!   (made with `openssl`; ES256 from rcgen when openssl is missing), read with a bearer token,
//!   against the same hit on C's gateway, whose auth is off.
//! - **E, memory** (with C): C's gateway's resident set once its 16 MiB cache is full (wrk
//!   reading distinct orgs until `orgway_cache_bytes` stops growing), with 1,000 client
//!   connections open, and while wrk keeps 1,000 connections busy; read from `/proc`.
//!
//! It prints, per target, the median over the rounds of requests per second and of wrk's p50 and
//! p99 latency, the CPU time the serving process or thread spent per request (user + system, from
//! `/proc`; `-` where there is none), how many vendor calls each request caused, how often the
//! vendor's thread went to sleep per request (its voluntary context switches: a sleeping peer
//! has to be woken by the sender, in kernel time), and the ratios the issues ask for. CPU per
//! request moves far less with a noisy machine than throughput does, and splits a gap into the
//! server's own work (user) and the kernel's (system). Nothing is asserted: ratios are read,
//! not timed in tests.
//!
//! Why a bench target: `cargo bench` builds this file and the `orgway` binary with optimisations
//! in one command and hands over the binary's path (`CARGO_BIN_EXE_orgway`), so the gateway runs
//! as operators run it (`orgway serve`, its own process); the bare servers are this process's
//! threads, one current-thread runtime each, and nothing new ships in the package.
//!
//! Knobs: `ORGWAY_BENCH_SECONDS` (per wrk run, default 5) and `ORGWAY_BENCH_ROUNDS` (default 3).
//! Without `wrk` it says how to install it and exits 0; without `nginx` the nginx targets are
//! skipped; with `ORGWAY_BENCH_REQUIRE_TOOLS=1` (as `.ci/run` sets) either is a failure.
//! Temporary files (routing files, nginx's configuration and cache, logs) live in one temporary
//! folder, removed at the end with every server stopped.

use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use bytes::Bytes;
use http::{HeaderMap, StatusCode, header};
use http_body_util::{BodyExt, Empty, Full};
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use orgway_sim::losant::{DEMO_INSTANCE_ID, DEMO_ORG_ID, LosantConfig, LosantSim};

/// The `[cache]` table appended to the gateway's routing file for group C. Edit it here when the
/// cache's keys change: if `orgway check` refuses it, group C is skipped and says why.
const CACHE_TABLE: &str = r#"
[cache]
max_bytes = 16777216    # 16 MiB
[cache.ttl_ms]
org = 3600000           # an hour: after the first request, every org read of the run is a hit
"#;

/// wrk's open connections.
const CONNECTIONS: usize = 64;
/// Seconds per measured wrk run, unless `ORGWAY_BENCH_SECONDS` says otherwise.
const DEFAULT_SECONDS: u64 = 5;
/// Measured runs per target, unless `ORGWAY_BENCH_ROUNDS` says otherwise.
const DEFAULT_ROUNDS: usize = 3;
/// The unmeasured run each target gets first (connections, pools, caches, lazily built state).
const WARMUP_SECONDS: u64 = 1;
/// The environment variable the gateway's routing file reads the Losant token from (the vendor
/// here answers whatever the token).
const TOKEN_ENV: &str = "ORGWAY_BENCH_LOSANT_TOKEN";
/// Set to `1` (CI does), a missing `wrk` or nginx fails the run instead of skipping targets.
const REQUIRE_ENV: &str = "ORGWAY_BENCH_REQUIRE_TOOLS";
/// The bytes the gateway's `/healthz` answers; checked, then served by the bare server.
const HEALTHZ_BODY: &[u8] = br#"{"status":"ok"}"#;

fn main() -> ExitCode {
    // `cargo test --benches` runs bench targets without `--bench`: nothing to measure there.
    if !std::env::args().any(|a| a == "--bench") {
        println!("side_by_side: run it with `cargo bench -p orgway --bench side_by_side`");
        return ExitCode::SUCCESS;
    }
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("side_by_side: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    // CI sets it: there a missing tool is a failure, not a skip.
    let require = std::env::var_os(REQUIRE_ENV).is_some_and(|v| v == "1");
    let Some(wrk_version) = wrk_version() else {
        if require {
            bail!("`wrk` is not installed and {REQUIRE_ENV}=1");
        }
        println!(
            "side_by_side: skipped, `wrk` is not installed. Install it (Debian/Ubuntu: \
             `apt-get install -y wrk`; macOS: `brew install wrk`) and run again; nginx \
             (`apt-get install -y nginx`) adds the nginx targets."
        );
        return Ok(());
    };
    let settings = Settings::from_env()?;
    let nginx = find_nginx();
    let dir = TempDir::new()?;
    let setup = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;

    // The vendor's answer: the demo org as the Losant simulator returns it to the gateway's GET
    // (no `payloadCount` asked for, so none included).
    let record = setup.block_on(async {
        let sim = LosantSim::start(LosantConfig::default()).await?;
        let org = sim.org(DEMO_ORG_ID);
        sim.shutdown().await;
        Ok::<_, std::io::Error>(org)
    })?;
    let record = Bytes::from(serde_json::to_vec(
        &record.context("the Losant simulator has no demo org")?,
    )?);
    let vendor = FixedServer::start("vendor", record.clone())?;

    // The gateway, as operators run it, with one Losant backend on the vendor.
    let orgway = Path::new(env!("CARGO_BIN_EXE_orgway"));
    let miss_config = dir.write("orgway.toml", &routing_file(vendor.addr))?;
    let gateway = Gateway::start(orgway, &miss_config, &dir.0.join("orgway.log"), &setup)?;
    let org_path = format!("/v1/orgs/losant:{DEMO_ORG_ID}");
    let miss = fetch(&setup, &format!("{}{org_path}", gateway.base))?;
    if miss.status != StatusCode::OK || !contains(&miss.body, DEMO_ORG_ID.as_bytes()) {
        bail!(
            "the gateway answered {} to GET {org_path}: {}",
            miss.status,
            String::from_utf8_lossy(&miss.body)
        );
    }
    // What the gateway asked the vendor: the path the vendor and nginx targets are sent.
    let vendor_path = vendor
        .first_uri
        .get()
        .cloned()
        .context("the gateway answered without calling the vendor")?;
    let healthz = fetch(&setup, &format!("{}/healthz", gateway.base))?;
    if healthz.body.as_ref() != HEALTHZ_BODY {
        println!(
            "note: the gateway's /healthz answered {:?}; the bare server answers the same bytes",
            String::from_utf8_lossy(&healthz.body)
        );
    }
    let bare_healthz = FixedServer::start("bare-healthz", healthz.body.clone())?;
    let proxy = bare_proxy(vendor.addr)?;

    // Without nginx, or when it does not start, its targets are skipped and the reason printed.
    let (nginx, no_nginx) = match nginx {
        None if require => bail!("nginx is not installed and {REQUIRE_ENV}=1"),
        None => (None, "nginx is not installed".to_owned()),
        Some(bin) => match Nginx::start(&bin, &dir, vendor.addr, &vendor_path, &setup) {
            Ok(n) => (Some(n), String::new()),
            Err(e) if require => bail!("nginx did not start: {e:#}"),
            Err(e) => (None, format!("nginx did not start ({e:#})")),
        },
    };

    // The cache, if this build of the gateway has one.
    let cache_config = dir.write(
        "orgway-cache.toml",
        &format!("{}{CACHE_TABLE}", routing_file(vendor.addr)),
    )?;
    let cached = match check(orgway, &cache_config)? {
        // The file's folder is gone by the time anyone reads this: name the file alone.
        Err(refusal) => Err(refusal.replace(&format!("{}/", dir.0.display()), "")),
        Ok(()) => {
            let gw = Gateway::start(
                orgway,
                &cache_config,
                &dir.0.join("orgway-cache.log"),
                &setup,
            )?;
            let url = format!("{}{org_path}", gw.base);
            fetch(&setup, &url)?; // the miss that fills the cache
            let hit = fetch(&setup, &url)?;
            if hit.status != StatusCode::OK {
                bail!(
                    "the cached gateway answered {} to GET {org_path}",
                    hit.status
                );
            }
            let bare = FixedServer::start("bare-hit", hit.body.clone())?;
            Ok((gw, hit, bare))
        }
    };

    println!("orgway side by side");
    println!(
        "  {wrk_version}: wrk -t1 -c{CONNECTIONS} -d{}s --latency per run; {} measured run(s) per target \
         after a {WARMUP_SECONDS}s warm-up, targets alternating (order rotated every round); \
         figures are the median over the runs",
        settings.seconds, settings.rounds
    );
    println!(
        "  every server has one worker thread and binds 127.0.0.1; the machine has {} core(s), \
         shared with wrk (and with whatever else runs)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "  vendor record: the Losant simulator's demo org {DEMO_ORG_ID}, {} bytes, application/json",
        record.len()
    );
    println!(
        "  gateway: {} (release), log_level = \"warn\"",
        orgway.display()
    );
    println!(
        "  ratios: throughput is subject ÷ baseline (above 1: the subject serves more); latency \
         is subject ÷ baseline (above 1: the subject is slower)"
    );

    // A. A translated miss.
    let mut group_a = vec![Target::new(
        "vendor (bare hyper)",
        format!("http://{}{vendor_path}", vendor.addr),
        vendor.cpu.clone(),
    )];
    if let Some(n) = &nginx {
        group_a.push(Target::new(
            "nginx proxy_pass -> vendor",
            format!("http://{}{vendor_path}", n.pass),
            n.cpu.clone(),
        ));
    }
    group_a.push(Target::new(
        "bare proxy (hyper + orgway client)",
        format!("http://{}{vendor_path}", proxy.addr),
        proxy.cpu.clone(),
    ));
    group_a.push(Target::new(
        "orgway, translated miss",
        format!("{}{org_path}", gateway.base),
        gateway.cpu.clone(),
    ));
    println!(
        "\nA. a translated miss: GET {org_path} ({} bytes out) and the vendor GET it makes",
        miss.body.len()
    );
    let a = measure(group_a, &vendor, &settings)?;
    let a_gw = a.last().expect("orgway target");
    match &nginx {
        Some(_) => ratio("orgway miss vs nginx proxy_pass", a_gw, &a[1]),
        None => println!("  {no_nginx}: the proxy_pass comparison was skipped"),
    }
    let a_proxy = &a[a.len() - 2];
    ratio("orgway miss vs the bare proxy", a_gw, a_proxy);
    if nginx.is_some() {
        ratio("bare proxy vs nginx proxy_pass", a_proxy, &a[1]);
    }
    ratio("orgway miss vs the vendor itself", a_gw, &a[0]);

    // B. /healthz.
    println!(
        "\nB. /healthz ({} bytes) against a bare hyper server answering the same bytes",
        healthz.body.len()
    );
    let b = measure(
        vec![
            Target::new(
                "orgway /healthz",
                format!("{}/healthz", gateway.base),
                gateway.cpu.clone(),
            ),
            Target::new(
                "bare hyper, same bytes",
                format!("http://{}/healthz", bare_healthz.addr),
                bare_healthz.cpu.clone(),
            ),
        ],
        &vendor,
        &settings,
    )?;
    ratio("orgway /healthz vs bare", &b[0], &b[1]);

    // C. A cache hit.
    match &cached {
        Err(refusal) => println!(
            "\nC. cache hit: skipped, `orgway check` refuses the [cache] table (CACHE_TABLE in \
             crates/gateway/benches/side_by_side.rs): {refusal}"
        ),
        Ok((gw, hit, bare)) => {
            let shown: Vec<String> = ["x-cache", "cache-status"]
                .iter()
                .filter_map(|h| {
                    let v = hit.headers.get(*h)?.to_str().ok()?;
                    Some(format!("{h}: {v}"))
                })
                .collect();
            println!(
                "\nC. a cache hit: GET {org_path} ({} bytes{}{}) against a bare hyper server \
                 answering the same bytes and nginx proxy_cache",
                hit.body.len(),
                if shown.is_empty() { "" } else { "; " },
                shown.join(", ")
            );
            let mut group_c = vec![
                Target::new(
                    "orgway, cache hit",
                    format!("{}{org_path}", gw.base),
                    gw.cpu.clone(),
                ),
                Target::new(
                    "bare hyper, same bytes",
                    format!("http://{}{org_path}", bare.addr),
                    bare.cpu.clone(),
                ),
            ];
            if let Some(n) = &nginx {
                group_c.push(Target::new(
                    "nginx proxy_cache -> vendor",
                    format!("http://{}{vendor_path}", n.cache),
                    n.cpu.clone(),
                ));
            }
            let c = measure(group_c, &vendor, &settings)?;
            for s in c
                .iter()
                .filter(|s| s.to_vendor > 0 && s.label != "bare hyper, same bytes")
            {
                println!(
                    "  warning: {} reached the vendor {} times in {} requests: not every \
                     request was a hit",
                    s.label, s.to_vendor, s.requests
                );
            }
            ratio("orgway hit vs bare", &c[0], &c[1]);
            match &nginx {
                Some(_) => ratio("orgway hit vs nginx proxy_cache", &c[0], &c[2]),
                None => {
                    println!("  {no_nginx}: the proxy_cache comparison was skipped")
                }
            }
        }
    }

    // D. An authenticated cache hit against an unauthenticated one.
    match (&cached, signing_key(&dir)) {
        (Err(_), _) => println!("\nD. authenticated cache hit: skipped with C"),
        (_, Err(e)) => println!("\nD. authenticated cache hit: skipped, no signing key: {e:#}"),
        (Ok((gw, _, _)), Ok(key)) => {
            let text = format!("{}{CACHE_TABLE}", routing_file(vendor.addr))
                .replace(AUTH_OFF, &key.auth_table());
            let config = dir.write("orgway-auth.toml", &text)?;
            let agw = Gateway::start(orgway, &config, &dir.0.join("orgway-auth.log"), &setup)?;
            let header = format!("Authorization: Bearer {}", key.token()?);
            let url = format!("{}{org_path}", agw.base);
            fetch_with(&setup, &url, Some(&header))?; // the miss that fills the cache
            let hit = fetch_with(&setup, &url, Some(&header))?;
            if hit.status != StatusCode::OK
                || hit.headers.get("x-cache").and_then(|v| v.to_str().ok()) != Some("hit")
            {
                bail!(
                    "the authenticated gateway answered {} to GET {org_path}: {}",
                    hit.status,
                    String::from_utf8_lossy(&hit.body)
                );
            }
            println!(
                "\nD. a cache hit with a {} bearer token ({} bytes in the header) against the \
                 same hit without auth",
                key.alg,
                header.len()
            );
            let d = measure(
                vec![
                    Target::new(
                        "orgway, cache hit, auth off",
                        format!("{}{org_path}", gw.base),
                        gw.cpu.clone(),
                    ),
                    Target::new(key.label, url, agw.cpu.clone()).with_header(header),
                ],
                &vendor,
                &settings,
            )?;
            ratio("authenticated hit vs unauthenticated hit", &d[1], &d[0]);
            drop(agw);
        }
    }

    // E. Memory: the cache filled past its size and 1,000 client connections open.
    match &cached {
        Err(_) => println!("\nE. memory: skipped with C"),
        Ok((gw, _, _)) => memory(gw, &dir, &setup)?,
    }

    // Stopped in reverse order of start; the temporary folder goes last.
    drop(cached);
    drop(nginx);
    drop(proxy);
    drop(bare_healthz);
    drop(gateway);
    drop(vendor);
    drop(dir);
    Ok(())
}

/// Client connections group E holds open.
const MEMORY_CONNECTIONS: usize = 1000;
/// What issue 14 allows the gateway's resident memory to be, with those and a full cache.
const MEMORY_LIMIT_MIB: f64 = 64.0;
/// Asks for a new org on every request (`losant:<24 hex digits>`, counting from the first
/// argument), so that every request is a miss the cache stores.
const DISTINCT_ORGS_LUA: &str = r#"
init = function(args) n = tonumber(args[1]) end
request = function()
  n = n + 1
  return wrk.format("GET", string.format("/v1/orgs/losant:%024x", n))
end
"#;

/// Group E: the cached gateway's resident memory (`VmRSS`, and the peak, `VmHWM`, from
/// `/proc`) once its cache is full (every org read a distinct one until `orgway_cache_bytes`
/// stops growing: the cache is at its `max_bytes` and evicting), then with
/// [`MEMORY_CONNECTIONS`] client connections open, each having read a cached org, and then
/// while wrk keeps as many connections busy.
fn memory(gw: &Gateway, dir: &TempDir, setup: &tokio::runtime::Runtime) -> anyhow::Result<()> {
    let pid = gw.process.child.id();
    let max_bytes = 16.0 * 1024.0 * 1024.0;
    let mib = |kib: u64| kib as f64 / 1024.0;
    let at_start = proc_status(pid)?;
    let script = dir.write("distinct-orgs.lua", DISTINCT_ORGS_LUA)?;
    let mut held = 0.0;
    for round in 0..20 {
        let out = Command::new("wrk")
            .args(["-t1", "-c64", "-d2s", "-s"])
            .arg(&script)
            .arg(&gw.base)
            .arg("--")
            .arg((1 + round * 10_000_000u64).to_string())
            .output()
            .context("running wrk")?;
        if !out.status.success() {
            bail!("wrk failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let now = cache_bytes(setup, &gw.base)?;
        if now >= 0.95 * max_bytes && now <= held * 1.01 {
            held = now;
            break;
        }
        held = now;
    }
    let filled = proc_status(pid)?;
    println!(
        "\nE. memory: the cache gateway's resident set (VmRSS; VmHWM is the peak) with its 16 MiB \
         cache full and {MEMORY_CONNECTIONS} client connections open; target under \
         {MEMORY_LIMIT_MIB} MiB"
    );
    println!(
        "  at start (after groups C and D)           VmRSS {:6.1} MiB",
        mib(at_start.rss_kib)
    );
    println!(
        "  cache full ({:.1} MiB held, of 16)         VmRSS {:6.1} MiB",
        held / 1024.0 / 1024.0,
        mib(filled.rss_kib)
    );
    if held < 0.95 * max_bytes {
        println!("  warning: the cache did not fill: the figures below are not the target's");
    }

    // Each connection reads a cached org, so its buffers have been used, then stays open.
    let path = format!("/v1/orgs/losant:{DEMO_ORG_ID}");
    let mut open = Vec::with_capacity(MEMORY_CONNECTIONS);
    for _ in 0..MEMORY_CONNECTIONS {
        let mut s = std::net::TcpStream::connect(gw.addr)?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        read_one(&mut s, &path)?;
        open.push(s);
    }
    let idle = proc_status(pid)?;
    println!(
        "  + {MEMORY_CONNECTIONS} connections open, each having read   VmRSS {:6.1} MiB  (VmHWM {:.1})",
        mib(idle.rss_kib),
        mib(idle.hwm_kib)
    );
    // Still open: a request on each of them is answered.
    for s in open.iter_mut().step_by(97) {
        read_one(s, &path)?;
    }
    drop(open);

    let url = format!("{}{path}", gw.base);
    let out = Command::new("wrk")
        .args(["-t1", &format!("-c{MEMORY_CONNECTIONS}"), "-d3s", &url])
        .output()
        .context("running wrk")?;
    let busy = proc_status(pid)?;
    let run = parse_wrk(&String::from_utf8_lossy(&out.stdout)).ok();
    println!(
        "  wrk -c{MEMORY_CONNECTIONS} reading the cached org for 3 s      VmRSS {:6.1} MiB  (VmHWM {:.1}){}",
        mib(busy.rss_kib),
        mib(busy.hwm_kib),
        run.map_or(String::new(), |r| format!(
            ", {:.0} req/s, {} errors",
            r.rps, r.errors
        ))
    );
    let peak = mib(busy.hwm_kib.max(idle.hwm_kib));
    println!(
        "  peak {peak:.1} MiB: {} the {MEMORY_LIMIT_MIB} MiB target",
        if peak < MEMORY_LIMIT_MIB {
            "within"
        } else {
            "OVER"
        }
    );
    Ok(())
}

/// A process's resident set and its peak, from `/proc/<pid>/status`.
struct Resident {
    rss_kib: u64,
    hwm_kib: u64,
}

fn proc_status(pid: u32) -> anyhow::Result<Resident> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .context("reading /proc (group E needs Linux)")?;
    let field = |name: &str| -> anyhow::Result<u64> {
        let line = text
            .lines()
            .find(|l| l.starts_with(name))
            .with_context(|| format!("no {name} in /proc/{pid}/status"))?;
        Ok(line
            .split_whitespace()
            .nth(1)
            .context("an empty line")?
            .parse()?)
    };
    Ok(Resident {
        rss_kib: field("VmRSS:")?,
        hwm_kib: field("VmHWM:")?,
    })
}

/// The gateway's `orgway_cache_bytes`.
fn cache_bytes(setup: &tokio::runtime::Runtime, base: &str) -> anyhow::Result<f64> {
    let m = fetch(setup, &format!("{base}/metrics"))?;
    let text = String::from_utf8_lossy(&m.body);
    text.lines()
        .find_map(|l| l.strip_prefix("orgway_cache_bytes "))
        .context("no orgway_cache_bytes in /metrics")?
        .trim()
        .parse()
        .context("orgway_cache_bytes is not a number")
}

/// Sends one keep-alive GET on `s` and reads its answer whole (by its `content-length`).
fn read_one(s: &mut std::net::TcpStream, path: &str) -> anyhow::Result<()> {
    use std::io::{Read, Write};
    write!(s, "GET {path} HTTP/1.1\r\nhost: orgway\r\n\r\n")?;
    let mut buf = Vec::with_capacity(2048);
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            bail!("the gateway closed a connection");
        }
        buf.extend_from_slice(&chunk[..n]);
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
        if !head.starts_with("http/1.1 200") {
            bail!("the gateway answered {}", head.lines().next().unwrap_or(""));
        }
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .context("an answer without content-length")?
            .trim()
            .parse()?;
        if buf.len() >= end + 4 + len {
            return Ok(());
        }
    }
}

/// How long and how often.
struct Settings {
    seconds: u64,
    rounds: usize,
}

impl Settings {
    fn from_env() -> anyhow::Result<Settings> {
        fn var<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T> {
            match std::env::var(name) {
                Ok(v) => v
                    .parse()
                    .ok()
                    .with_context(|| format!("{name}={v} is not a positive whole number")),
                Err(_) => Ok(default),
            }
        }
        let s = Settings {
            seconds: var("ORGWAY_BENCH_SECONDS", DEFAULT_SECONDS)?,
            rounds: var("ORGWAY_BENCH_ROUNDS", DEFAULT_ROUNDS)?,
        };
        if s.seconds == 0 || s.rounds == 0 {
            bail!("ORGWAY_BENCH_SECONDS and ORGWAY_BENCH_ROUNDS must be at least 1");
        }
        Ok(s)
    }
}

/// The routing file of the gateway under test: one worker thread, one Losant backend on the
/// vendor, logs at `warn` (no access log line per request, as nginx runs with `access_log off`).
/// The `[auth]` table of the routing files but group D's.
const AUTH_OFF: &str = "[auth]\nmode = \"off\"\n";

/// Group D's key: RS256 from `openssl` when it is installed, else ES256 (rcgen).
struct SigningKey {
    alg: &'static str,
    label: &'static str,
    public: PathBuf,
    encoding: jsonwebtoken::EncodingKey,
}

impl SigningKey {
    fn auth_table(&self) -> String {
        format!(
            "[auth]\nissuer = \"bench\"\naudience = \"orgway\"\n[[auth.keys]]\nkid = \"bench\"\nalg = \"{}\"\npublic_key_file = \"{}\"\n",
            self.alg,
            self.public.display()
        )
    }

    fn token(&self) -> anyhow::Result<String> {
        let claims = orgway::auth::Claims {
            issuer: "bench".into(),
            audience: "orgway".into(),
            subject: "bench".into(),
            scopes: orgway::auth::all_scopes(),
            orgs: vec!["*".into()],
            orgs_claim: "orgs".into(),
            lifetime: Duration::from_secs(3600),
        };
        let alg = self.alg.parse().map_err(|e| anyhow!("{e}"))?;
        orgway::auth::mint("bench", alg, &self.encoding, &claims).map_err(|e| anyhow!(e))
    }
}

fn signing_key(dir: &TempDir) -> anyhow::Result<SigningKey> {
    let private = dir.0.join("rs256.pem");
    let public = dir.0.join("rs256.pub.pem");
    let run = |args: &[&std::ffi::OsStr]| {
        Command::new("openssl")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let rsa = run(&[
        "genpkey".as_ref(),
        "-algorithm".as_ref(),
        "RSA".as_ref(),
        "-pkeyopt".as_ref(),
        "rsa_keygen_bits:2048".as_ref(),
        "-out".as_ref(),
        private.as_os_str(),
    ]) && run(&[
        "pkey".as_ref(),
        "-pubout".as_ref(),
        "-in".as_ref(),
        private.as_os_str(),
        "-out".as_ref(),
        public.as_os_str(),
    ]);
    if rsa {
        let encoding = jsonwebtoken::EncodingKey::from_rsa_pem(&std::fs::read(&private)?)?;
        return Ok(SigningKey {
            alg: "RS256",
            label: "orgway, cache hit, RS256 token",
            public,
            encoding,
        });
    }
    let pair = rcgen::KeyPair::generate()?;
    let public = dir.write("es256.pub.pem", &pair.public_key_pem())?;
    let encoding = jsonwebtoken::EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes())?;
    Ok(SigningKey {
        alg: "ES256",
        label: "orgway, cache hit, ES256 token (no openssl for RS256)",
        public,
        encoding,
    })
}

fn routing_file(vendor: SocketAddr) -> String {
    format!(
        r#"[server]
listen = "127.0.0.1:0"
worker_threads = 1
log_level = "warn"
shutdown_delay_ms = 0
shutdown_grace_ms = 1000

[auth]
mode = "off"

[[backends]]
name = "losant"
kind = "losant"
base_url = "http://{vendor}"
instance_id = "{DEMO_INSTANCE_ID}"
token = "${{{TOKEN_ENV}}}"
"#
    )
}

/// `wrk`'s version line, or `None` when it is not installed.
fn wrk_version() -> Option<String> {
    // `wrk -v` prints its version and usage, and exits 1.
    let out = Command::new("wrk").arg("-v").output().ok()?;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let first = text.lines().next().unwrap_or("wrk").trim();
    Some(first.split(" [").next().unwrap_or(first).to_owned())
}

/// The nginx binary, from `PATH` or where distributions put it.
fn find_nginx() -> Option<PathBuf> {
    ["nginx", "/usr/sbin/nginx", "/usr/local/sbin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| {
            Command::new(p)
                .arg("-v")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
}

/// `orgway check`: `Err` with its first complaint when it refuses the routing file.
fn check(orgway: &Path, config: &Path) -> anyhow::Result<Result<(), String>> {
    let out = Command::new(orgway)
        .arg("check")
        .arg("--config")
        .arg(config)
        .env(TOKEN_ENV, "bench-token")
        .output()
        .context("running orgway check")?;
    if out.status.success() {
        return Ok(Ok(()));
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    Ok(Err(stderr
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no message")
        .trim()
        .to_owned()))
}

/// The bench's temporary folder, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> std::io::Result<TempDir> {
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path = std::env::temp_dir().join(format!(
            "orgway-side-by-side-{}-{stamp}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path)?;
        Ok(TempDir(path))
    }

    fn write(&self, name: &str, text: &str) -> std::io::Result<PathBuf> {
        let path = self.0.join(name);
        std::fs::write(&path, text)?;
        Ok(path)
    }

    /// A folder inside, writable by anyone: nginx's worker may run as another user.
    fn open_dir(&self, name: &str) -> std::io::Result<PathBuf> {
        use std::os::unix::fs::PermissionsExt;
        let path = self.0.join(name);
        std::fs::create_dir_all(&path)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777))?;
        Ok(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A free loopback port: bound to `127.0.0.1:0`, then released for a child process to bind.
fn free_port() -> std::io::Result<SocketAddr> {
    StdListener::bind(("127.0.0.1", 0))?.local_addr()
}

/// A bare hyper server on a thread of its own (a current-thread runtime: one worker thread),
/// answering every request with the same bytes as `application/json`. It counts the requests
/// and keeps the first one's path and query.
struct FixedServer {
    addr: SocketAddr,
    cpu: Option<CpuClock>,
    served: Arc<AtomicU64>,
    first_uri: Arc<OnceLock<String>>,
    _server: ThreadServer,
}

impl FixedServer {
    fn start(name: &str, body: Bytes) -> anyhow::Result<FixedServer> {
        let served = Arc::new(AtomicU64::new(0));
        let first_uri = Arc::new(OnceLock::new());
        let (count, first) = (served.clone(), first_uri.clone());
        let server = ThreadServer::start(name, move |req| {
            count.fetch_add(1, Ordering::Relaxed);
            if first.get().is_none() {
                let _ = first.set(req.uri().to_string());
            }
            let resp = http::Response::builder()
                .header(header::CONTENT_TYPE, "application/json")
                .body(Full::new(body.clone()))
                .expect("a fixed response");
            async move { resp }
        })?;
        Ok(FixedServer {
            addr: server.addr,
            cpu: server.cpu.clone(),
            served,
            first_uri,
            _server: server,
        })
    }

    fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }

    /// The request count once it has stopped moving: a proxy may still finish calls wrk gave
    /// up on when its run ended, and those belong to that run, not to the next.
    fn settled(&self) -> u64 {
        let mut last = self.served();
        loop {
            std::thread::sleep(Duration::from_millis(100));
            let now = self.served();
            if now == last {
                return now;
            }
            last = now;
        }
    }
}

/// The floor of a proxy built as the gateway is: a bare hyper server (one worker thread) that
/// sends each request's path and query to the vendor through the gateway's own outbound client
/// (`orgway::client::HttpClient`) and answers with the vendor's body, translating nothing.
/// Against it, the translated miss shows what translation, routing, the edge and the policy
/// stack cost; against nginx, it shows what the HTTP stack itself costs.
fn bare_proxy(vendor: SocketAddr) -> anyhow::Result<ThreadServer> {
    use orgway_core::Transport;
    let client = orgway::client::HttpClient::new();
    ThreadServer::start("bare-proxy", move |req| {
        let client = client.clone();
        let target = req.uri().path_and_query().map_or("/", |p| p.as_str());
        let out = http::Request::get(format!("http://{vendor}{target}"))
            .header(header::ACCEPT, "application/json")
            .body(Bytes::new());
        async move {
            let answer = match out {
                Ok(out) => client.send(out).await.ok(),
                Err(_) => None,
            };
            let (status, body) = match answer {
                Some(a) => (a.status(), a.into_body()),
                None => (StatusCode::BAD_GATEWAY, Bytes::new()),
            };
            http::Response::builder()
                .status(status)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Full::new(body))
                .expect("a proxied response")
        }
    })
}

/// A hyper server on a thread of its own with a current-thread runtime, answering with
/// `answer`; stopped (its connections closed) when dropped.
struct ThreadServer {
    addr: SocketAddr,
    /// Its one thread's CPU time (everything it serves runs there).
    cpu: Option<CpuClock>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ThreadServer {
    fn start<F, Fut>(name: &str, answer: F) -> anyhow::Result<ThreadServer>
    where
        F: Fn(http::Request<hyper::body::Incoming>) -> Fut + Clone + Send + 'static,
        Fut: std::future::Future<Output = http::Response<Full<Bytes>>> + Send + 'static,
    {
        let listener = StdListener::bind(("127.0.0.1", 0))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (clock_tx, clock_rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                let _ = clock_tx.send(CpuClock::this_thread());
                rt.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => l,
                        Err(e) => return eprintln!("bare server: {e}"),
                    };
                    let accept = async {
                        loop {
                            let Ok((stream, _)) = listener.accept().await else {
                                continue;
                            };
                            let _ = stream.set_nodelay(true);
                            let answer = answer.clone();
                            tokio::spawn(async move {
                                let svc = service_fn(move |req| {
                                    let fut = answer(req);
                                    async move { Ok::<_, Infallible>(fut.await) }
                                });
                                let _ = hyper::server::conn::http1::Builder::new()
                                    .serve_connection(TokioIo::new(stream), svc)
                                    .await;
                            });
                        }
                    };
                    tokio::select! {
                        _ = stopped => {}
                        () = accept => {}
                    }
                });
                // Dropping the runtime here closes every connection still open.
            })?;
        Ok(ThreadServer {
            addr,
            cpu: clock_rx.recv().ok().flatten(),
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for ThreadServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A child process, stopped with SIGTERM when dropped (SIGKILL if still running 5 s later).
struct Process {
    child: Child,
    log: PathBuf,
}

impl Process {
    fn spawn(mut cmd: Command, log: &Path) -> anyhow::Result<Process> {
        let out = std::fs::File::create(log)?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("starting {:?}", cmd.get_program()))?;
        Ok(Process {
            child,
            log: log.to_owned(),
        })
    }

    /// Waits until `url` answers 2xx, failing with the log when the process exits first.
    fn wait_ready(&mut self, setup: &tokio::runtime::Runtime, url: &str) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("{url}: the server exited ({status}): {}", self.log_text());
            }
            if fetch(setup, url).is_ok_and(|r| r.status.is_success()) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("{url} did not answer within 15 s: {}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_some() {
            return;
        }
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `orgway serve` on a free loopback port.
struct Gateway {
    base: String,
    addr: SocketAddr,
    cpu: Option<CpuClock>,
    process: Process,
}

impl Gateway {
    fn start(
        orgway: &Path,
        config: &Path,
        log: &Path,
        setup: &tokio::runtime::Runtime,
    ) -> anyhow::Result<Gateway> {
        let addr = free_port()?;
        let mut cmd = Command::new(orgway);
        cmd.arg("serve")
            .arg("--config")
            .arg(config)
            .arg("--listen")
            .arg(addr.to_string())
            .env(TOKEN_ENV, "bench-token")
            .env_remove("ORGWAY_LOG");
        let mut process = Process::spawn(cmd, log)?;
        let base = format!("http://{addr}");
        process.wait_ready(setup, &format!("{base}/healthz"))?;
        Ok(Gateway {
            base,
            addr,
            cpu: CpuClock::process(process.child.id()),
            process,
        })
    }
}

/// One nginx (master and one worker) with two servers in front of the vendor: `pass`
/// (`proxy_pass`, keep-alive upstream) and `cache` (the same with `proxy_cache`, everything kept
/// for the run).
struct Nginx {
    pass: SocketAddr,
    cache: SocketAddr,
    /// The worker's CPU time (the one process that serves; the master only supervises).
    cpu: Option<CpuClock>,
    _process: Process,
}

impl Nginx {
    fn start(
        bin: &Path,
        dir: &TempDir,
        vendor: SocketAddr,
        vendor_path: &str,
        setup: &tokio::runtime::Runtime,
    ) -> anyhow::Result<Nginx> {
        let (pass, cache) = (free_port()?, free_port()?);
        let tmp = dir.open_dir("nginx-tmp")?;
        let cache_dir = dir.open_dir("nginx-cache")?;
        let d = dir.0.display();
        let (tmp, cache_dir) = (tmp.display(), cache_dir.display());
        let conf = format!(
            r#"daemon off;
master_process on;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    keepalive_requests 1000000;
    # Cached answers are files; keep them open between hits.
    open_file_cache max=1000 inactive=1h;
    open_file_cache_valid 1h;
    upstream vendor {{
        server {vendor};
        keepalive 64;
        keepalive_requests 1000000;
    }}
    proxy_cache_path {cache_dir} levels=1:2 keys_zone=orgs:1m max_size=16m inactive=1h use_temp_path=off;
    server {{
        listen {pass};
        location / {{
            proxy_pass http://vendor;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
    server {{
        listen {cache};
        location / {{
            proxy_pass http://vendor;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_cache orgs;
            proxy_cache_valid 200 1h;
            proxy_cache_lock on;
            add_header X-Cache-Status $upstream_cache_status;
        }}
    }}
}}
"#
        );
        let conf = dir.write("nginx.conf", &conf)?;
        let mut cmd = Command::new(bin);
        cmd.arg("-p")
            .arg(&dir.0)
            .arg("-e")
            .arg(dir.0.join("nginx-error.log"))
            .arg("-c")
            .arg(&conf);
        let mut process = Process::spawn(cmd, &dir.0.join("nginx.log"))?;
        process.wait_ready(setup, &format!("http://{pass}{vendor_path}"))?;
        process.wait_ready(setup, &format!("http://{cache}{vendor_path}"))?;
        // The master's children are the worker and, with a `proxy_cache_path`, the cache
        // manager and loader: the worker is the one its title says is.
        let workers: Vec<u32> = children(process.child.id())
            .into_iter()
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|c| contains(&c, b"worker process"))
            })
            .collect();
        Ok(Nginx {
            pass,
            cache,
            cpu: match workers[..] {
                [worker] => CpuClock::process(worker),
                _ => None,
            },
            _process: process,
        })
    }
}

/// An answer read whole.
struct Fetched {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

/// One GET, for setting up and checking (wrk does the measuring).
fn fetch(setup: &tokio::runtime::Runtime, url: &str) -> anyhow::Result<Fetched> {
    fetch_with(setup, url, None)
}

/// `fetch` with one more header (`name: value`).
fn fetch_with(
    setup: &tokio::runtime::Runtime,
    url: &str,
    header: Option<&str>,
) -> anyhow::Result<Fetched> {
    setup.block_on(async {
        let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
        let mut req = http::Request::get(url);
        if let Some((name, value)) = header.and_then(|h| h.split_once(": ")) {
            req = req.header(name, value);
        }
        let req = req.body(Empty::new())?;
        let resp = tokio::time::timeout(Duration::from_secs(5), client.request(req))
            .await
            .map_err(|_| anyhow!("GET {url}: no answer within 5 s"))??;
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.into_body().collect().await?.to_bytes();
        Ok(Fetched {
            status,
            headers,
            body,
        })
    })
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// One measured wrk run.
struct Run {
    requests: u64,
    rps: f64,
    p50: Duration,
    p99: Duration,
    /// Non-2xx/3xx answers plus socket errors.
    errors: u64,
    /// Requests the vendor served during the run.
    to_vendor: u64,
    /// Times the vendor's thread went to sleep during the run.
    vendor_sleeps: Option<u64>,
    /// The serving process's (or thread's) user and system CPU ticks during the run.
    cpu: Option<(u64, u64)>,
}

/// Runs wrk against `url` and reads its report.
fn wrk(url: &str, header: Option<&str>, seconds: u64) -> anyhow::Result<Run> {
    let mut cmd = Command::new("wrk");
    cmd.arg("-t1")
        .arg(format!("-c{CONNECTIONS}"))
        .arg(format!("-d{seconds}s"))
        .arg("--latency");
    if let Some(h) = header {
        cmd.arg("-H").arg(h);
    }
    let out = cmd.arg(url).output().context("running wrk")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "wrk {url} failed ({}): {text}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    parse_wrk(&text).with_context(|| format!("reading wrk's report for {url}:\n{text}"))
}

/// Reads `Requests/sec`, the request count, the 50% and 99% lines of `--latency`'s
/// distribution, and the error lines from wrk's report.
fn parse_wrk(text: &str) -> anyhow::Result<Run> {
    let mut run = Run {
        requests: 0,
        rps: f64::NAN,
        p50: Duration::ZERO,
        p99: Duration::ZERO,
        errors: 0,
        to_vendor: 0,
        vendor_sleeps: None,
        cpu: None,
    };
    let (mut p50, mut p99) = (None, None);
    for line in text.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        if let Some(v) = line.strip_prefix("Requests/sec:") {
            run.rps = v.trim().parse()?;
        } else if words.get(1..3) == Some(&["requests", "in"]) {
            run.requests = words[0].parse()?;
        } else if words.first() == Some(&"50%") && words.len() == 2 {
            p50 = Some(wrk_duration(words[1])?);
        } else if words.first() == Some(&"99%") && words.len() == 2 {
            p99 = Some(wrk_duration(words[1])?);
        } else if let Some(v) = line.strip_prefix("Non-2xx or 3xx responses:") {
            run.errors += v.trim().parse::<u64>()?;
        } else if let Some(v) = line.strip_prefix("Socket errors:") {
            // "connect 0, read 0, write 0, timeout 0"
            for part in v.split(',') {
                if let Some(n) = part.split_whitespace().nth(1) {
                    run.errors += n.parse::<u64>()?;
                }
            }
        }
    }
    run.p50 = p50.context("no 50% line")?;
    run.p99 = p99.context("no 99% line")?;
    if run.rps.is_nan() {
        bail!("no Requests/sec line");
    }
    Ok(run)
}

/// A wrk duration: `812.00us`, `1.23ms`, `2.01s`, `1.50m`.
fn wrk_duration(s: &str) -> anyhow::Result<Duration> {
    let split = s
        .find(|c: char| c.is_ascii_alphabetic())
        .with_context(|| format!("`{s}` has no unit"))?;
    let (n, unit) = s.split_at(split);
    let n: f64 = n.parse()?;
    let secs = match unit {
        "us" => n / 1e6,
        "ms" => n / 1e3,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => bail!("`{s}`: unknown unit"),
    };
    Ok(Duration::from_secs_f64(secs))
}

/// A URL to drive and its runs.
struct Target {
    label: &'static str,
    url: String,
    /// A header every request of the target carries (`Authorization` for group D).
    header: Option<String>,
    /// Where the CPU time of what serves it is read.
    cpu: Option<CpuClock>,
    runs: Vec<Run>,
}

impl Target {
    fn new(label: &'static str, url: String, cpu: Option<CpuClock>) -> Target {
        Target {
            label,
            url,
            header: None,
            cpu,
            runs: Vec::new(),
        }
    }

    fn with_header(mut self, header: String) -> Target {
        self.header = Some(header);
        self
    }
}

/// A target's runs summed up: medians of throughput and latency, totals of the rest.
struct Summary {
    label: &'static str,
    rps: f64,
    rps_min: f64,
    rps_max: f64,
    p50: Duration,
    p99: Duration,
    requests: u64,
    to_vendor: u64,
    /// Times the vendor's thread went to sleep per request, over all runs.
    vendor_sleeps: Option<f64>,
    errors: u64,
    /// User and system CPU microseconds per request, over all runs.
    cpu: Option<(f64, f64)>,
}

fn median<T: Copy + PartialOrd>(mut v: Vec<T>) -> T {
    v.sort_by(|a, b| a.partial_cmp(b).expect("comparable"));
    v[v.len() / 2]
}

impl Summary {
    fn of(t: &Target) -> Summary {
        let rps: Vec<f64> = t.runs.iter().map(|r| r.rps).collect();
        Summary {
            label: t.label,
            rps: median(rps.clone()),
            rps_min: rps.iter().copied().fold(f64::INFINITY, f64::min),
            rps_max: rps.iter().copied().fold(0.0, f64::max),
            p50: median(t.runs.iter().map(|r| r.p50).collect()),
            p99: median(t.runs.iter().map(|r| r.p99).collect()),
            requests: t.runs.iter().map(|r| r.requests).sum(),
            to_vendor: t.runs.iter().map(|r| r.to_vendor).sum(),
            vendor_sleeps: t
                .runs
                .iter()
                .try_fold((0u64, 0u64), |(z, n), r| {
                    Some((z + r.vendor_sleeps?, n + r.requests))
                })
                .filter(|&(_, n)| n > 0)
                .map(|(z, n)| z as f64 / n as f64),
            errors: t.runs.iter().map(|r| r.errors).sum(),
            cpu: t
                .runs
                .iter()
                .try_fold((0u64, 0u64, 0u64), |(u, s, n), r| {
                    let (du, ds) = r.cpu?;
                    Some((u + du, s + ds, n + r.requests))
                })
                .filter(|&(_, _, n)| n > 0)
                .map(|(u, s, n)| {
                    let per = tick_micros() / n as f64;
                    (u as f64 * per, s as f64 * per)
                }),
        }
    }
}

/// Warms every target, then runs them in alternating rounds and prints one line each.
fn measure(
    mut targets: Vec<Target>,
    vendor: &FixedServer,
    settings: &Settings,
) -> anyhow::Result<Vec<Summary>> {
    for t in &targets {
        wrk(&t.url, t.header.as_deref(), WARMUP_SECONDS)?;
    }
    let n = targets.len();
    for round in 0..settings.rounds {
        for i in 0..n {
            let t = &mut targets[(round + i) % n];
            let before = vendor.settled();
            let sleeps_before = vendor.cpu.as_ref().and_then(CpuClock::sleeps);
            let cpu_before = t.cpu.as_ref().and_then(CpuClock::read);
            let mut run = wrk(&t.url, t.header.as_deref(), settings.seconds)?;
            run.to_vendor = vendor.settled() - before;
            run.vendor_sleeps = sleeps_before
                .zip(vendor.cpu.as_ref().and_then(CpuClock::sleeps))
                .map(|(z0, z1)| z1.saturating_sub(z0));
            // Read after the vendor settled: work on requests wrk gave up on belongs to the run.
            run.cpu = cpu_before
                .zip(t.cpu.as_ref().and_then(CpuClock::read))
                .map(|((u0, s0), (u1, s1))| (u1.saturating_sub(u0), s1.saturating_sub(s0)));
            t.runs.push(run);
        }
    }
    println!(
        "  {:<30} {:>9}  {:>17}  {:>9}  {:>9}  {:>21}  {:>13}  {:>13}",
        "target",
        "req/s",
        "(min-max)",
        "p50",
        "p99",
        "cpu µs/req (usr+sys)",
        "vendor calls",
        "vendor sleeps"
    );
    let summaries: Vec<Summary> = targets.iter().map(Summary::of).collect();
    for s in &summaries {
        println!(
            "  {:<30} {:>9.0}  {:>17}  {:>9}  {:>9}  {:>21}  {:>9.2}/req  {:>9}/req{}",
            s.label,
            s.rps,
            format!("({:.0}-{:.0})", s.rps_min, s.rps_max),
            format!("{:.2?}", s.p50),
            format!("{:.2?}", s.p99),
            match s.cpu {
                Some((u, k)) => format!("{:.1} ({u:.1}+{k:.1})", u + k),
                None => "-".to_owned(),
            },
            s.to_vendor as f64 / s.requests.max(1) as f64,
            // A target that never calls the vendor has no sleeps of the vendor's to show.
            s.vendor_sleeps
                .filter(|_| s.to_vendor > 0)
                .map_or_else(|| "-".to_owned(), |z| format!("{z:.2}")),
            if s.errors > 0 {
                format!("  ({} errors: non-2xx or socket)", s.errors)
            } else {
                String::new()
            }
        );
    }
    Ok(summaries)
}

/// Prints `subject` against `baseline`: throughput and latency ratios, both p99s, and the CPU
/// time per request when both have it.
fn ratio(name: &str, subject: &Summary, baseline: &Summary) {
    let cpu = match (subject.cpu, baseline.cpu) {
        (Some((su, sk)), Some((bu, bk))) if bu + bk > 0.0 => format!(
            "; cpu per request {:.2} ({:.1} vs {:.1} µs, user {su:.1} vs {bu:.1})",
            (su + sk) / (bu + bk),
            su + sk,
            bu + bk
        ),
        _ => String::new(),
    };
    println!(
        "  {name}: throughput {:.2}, p50 {:.2}, p99 {:.2} (p99 {:.2?} vs {:.2?}){cpu}",
        subject.rps / baseline.rps,
        subject.p50.as_secs_f64() / baseline.p50.as_secs_f64(),
        subject.p99.as_secs_f64() / baseline.p99.as_secs_f64(),
        subject.p99,
        baseline.p99
    );
}

/// Where a server's CPU time is read: the `stat` file of a process (all its threads) or of one
/// thread, under `/proc`. Linux only: elsewhere no server has one, and the column says `-`.
#[derive(Debug, Clone)]
struct CpuClock(PathBuf);

impl CpuClock {
    fn process(pid: u32) -> Option<CpuClock> {
        let path = PathBuf::from(format!("/proc/{pid}/stat"));
        path.exists().then_some(CpuClock(path))
    }

    /// The calling thread's (`/proc/thread-self` links to `<pid>/task/<tid>`).
    fn this_thread() -> Option<CpuClock> {
        let link = std::fs::read_link("/proc/thread-self").ok()?;
        let path = Path::new("/proc").join(link).join("stat");
        path.exists().then_some(CpuClock(path))
    }

    /// User and system time so far, in clock ticks: fields 14 and 15 of `stat` counting from 1,
    /// the 12th and 13th after the command name (which may hold spaces and ends at the last `)`).
    fn read(&self) -> Option<(u64, u64)> {
        let text = std::fs::read_to_string(&self.0).ok()?;
        let mut fields = stat_fields(&text)?.skip(11);
        Some((fields.next()?.parse().ok()?, fields.next()?.parse().ok()?))
    }

    /// Times a thread's clock went to sleep so far: `voluntary_ctxt_switches` of the `status`
    /// file beside `stat`. `None` for a process's clock, whose `status` counts its main thread
    /// only. A server asleep when a request reaches it must be woken, which costs the sender
    /// kernel time (a cross-CPU wake-up); a busy one picks the request up as it goes.
    fn sleeps(&self) -> Option<u64> {
        if !self.0.components().any(|c| c.as_os_str() == "task") {
            return None;
        }
        let text = std::fs::read_to_string(self.0.with_file_name("status")).ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))?
            .trim()
            .parse()
            .ok()
    }
}

/// The fields of a `/proc` `stat` file after the command name (which may hold spaces and ends
/// at the last `)`): the state first (field 3), then the parent's pid (field 4), and so on.
fn stat_fields(text: &str) -> Option<std::str::SplitWhitespace<'_>> {
    Some(text[text.rfind(')')? + 1..].split_whitespace())
}

/// Microseconds per clock tick (`getconf CLK_TCK`, 100 a second on Linux when it cannot say).
fn tick_micros() -> f64 {
    static TICK: OnceLock<f64> = OnceLock::new();
    *TICK.get_or_init(|| {
        let hz = Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|hz| *hz > 0.0)
            .unwrap_or(100.0);
        1e6 / hz
    })
}

/// The processes whose parent is `pid` (from each `/proc/<pid>/stat`: the field after the state).
fn children(pid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let child: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
        let text = std::fs::read_to_string(format!("/proc/{child}/stat")).ok()?;
        let parent: u32 = stat_fields(&text)?.nth(1)?.parse().ok()?;
        (parent == pid).then_some(child)
    })
    .collect()
}
