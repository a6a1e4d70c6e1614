//! The read cache (docs/API.md §7): the one place that computes cache keys and decides what a
//! read answers from memory.
//!
//! It sits in the request path after the org is resolved and its parameters checked (and, once
//! callers are authenticated, after they are authorized), before the per-backend stack: a hit
//! never reaches a backend, and never skips a check a miss would make.
//!
//! - **Bounded in bytes.** moka's future cache with a weigher counting each entry's bodies, key
//!   and bookkeeping, up to `[cache] max_bytes`; the least useful entries are evicted first.
//! - **Keys** are the backend, the identity of the credential the gateway uses for it (a
//!   fingerprint, never the secret), the generation of every org the read touches (see
//!   invalidation), whether `include=raw` was asked, and the read with its parameters as parsed
//!   (`?limit=50&sort=name` and `?sort=name` parse to the same query, so they are one key).
//! - **One fill per key.** Concurrent misses of a key share one backend call, run as a task of
//!   its own so that it completes (and fills the cache) even when every caller gives up.
//!   Errors are never stored.
//! - **stale-while-revalidate.** Within `stale_while_revalidate_ms` after its time to live, an
//!   entry is answered at once, marked stale, while exactly one refresh runs in the background.
//! - **stale-if-error.** Past that window a read waits for a refresh; when the backend fails
//!   (a 5xx-class answer, a timeout, unreachable), the entry is still answered, marked stale,
//!   up to `stale_if_error_ms` after its time to live. After that, the error.
//! - **Invalidation by generation.** Every org and every backend has a generation, part of the
//!   key of each read that touches it. A successful write bumps the generation of the orgs it
//!   touched and of the backend's lists before its answer is sent, so no read after it can find
//!   an entry from before; so does a failed write that may have made its change (the handlers'
//!   `write`), and any other failed write bumps nothing. The orphaned entries are never answered
//!   again and age out or are evicted. An operator's purge bumps an org's or a whole backend's.
//! - **HTTP.** A strong `ETag` computed from the answer's content (its `meta` left out, so a
//!   refill with the same content keeps it), `If-None-Match` answered `304`, `Cache-Control:
//!   private, max-age=<seconds left>`, `X-Cache`, RFC 9211 `Cache-Status`, and `meta.cache` in
//!   the body. A caller's `Cache-Control: no-cache` skips the lookup and refreshes the entry.
//!
//! - **The front index.** A read that found (or filled) a fresh entry also records its request
//!   target as received (`/v1/orgs/acme?include=raw`) against that entry, with the backend's
//!   write epoch at the time. The next `GET` of the same target is answered from the entry
//!   before routing ([`Cache::front`]) when nothing could make the slow path answer otherwise:
//!   the entry is still alive and fresh (or, inside the stale-while-revalidate window, stale
//!   while the one refresh a routed read started runs), no write or purge touched its backend
//!   since (any write bumps the epoch, so a front answer is never older than a slow one), and
//!   the caller did not ask for `no-cache`. Anything else falls through to the router, which does the whole read
//!   and records the target again. The index holds weak references (an evicted entry is not
//!   kept alive by it) within a sixteenth of `max_bytes`, taken from the store's share. Series
//!   reads are not indexed: their parameters are checked against the current time.
//!
//! Bodies are made when an entry is filled (see `Bodies::of`: one render, when the answer's
//! `meta` is its last member and appears once), so a hit serializes nothing; its headers are
//! made once per entry and second.

use std::collections::HashMap;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::FutureExt;
use futures_util::future::Shared;
use http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use orgway_core::Timestamp;
use serde::Serialize;

use crate::config::{CacheConfig, CacheTtls, Config};
use crate::error::{ApiError, ErrorCode};
use crate::http::RequestId;
use crate::http::render::Meta;
use crate::routing::BackendEntry;
use crate::telemetry::{CacheLabels, Metrics};
use prometheus_client::metrics::counter::Counter;

/// A class of read, each with its own time to live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// `GET /v1/orgs/{org}`.
    Org,
    /// `GET /v1/backends/{b}/orgs`.
    Orgs,
    /// `GET /v1/orgs/{org}/plans`.
    Plans,
    /// `GET /v1/orgs/{org}/usage`.
    Usage,
    /// `GET /v1/orgs/{org}/usage/{metric}`.
    Series,
    /// `GET /v1/orgs/{org}/customers`.
    Customers,
    /// `GET /v1/orgs/{org}/customers/{customer}/subscriptions`.
    Subscriptions,
}

impl Class {
    /// Every class, in the order `[cache.ttl_ms]` documents them, which is their declaration
    /// order: `class as usize` is a class's place here (a test checks it).
    pub const ALL: [Class; 7] = [
        Class::Org,
        Class::Orgs,
        Class::Plans,
        Class::Usage,
        Class::Series,
        Class::Customers,
        Class::Subscriptions,
    ];

    /// Its key in `[cache.ttl_ms]`.
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Org => "org",
            Class::Orgs => "orgs",
            Class::Plans => "plans",
            Class::Usage => "usage",
            Class::Series => "series",
            Class::Customers => "customers",
            Class::Subscriptions => "subscriptions",
        }
    }

    /// The route template its reads come from (its HTTP metrics label).
    pub fn route(self) -> &'static str {
        match self {
            Class::Org => "/v1/orgs/{org}",
            Class::Orgs => "/v1/backends/{backend}/orgs",
            Class::Plans => "/v1/orgs/{org}/plans",
            Class::Usage => "/v1/orgs/{org}/usage",
            Class::Series => "/v1/orgs/{org}/usage/{metric}",
            Class::Customers => "/v1/orgs/{org}/customers",
            Class::Subscriptions => "/v1/orgs/{org}/customers/{customer}/subscriptions",
        }
    }

    /// The scope its reads need (docs/API.md §4).
    pub fn scope(self) -> crate::auth::Scope {
        use crate::auth::Scope;
        match self {
            Class::Org | Class::Orgs => Scope::OrgsRead,
            Class::Plans => Scope::PlansRead,
            Class::Usage | Class::Series => Scope::UsageRead,
            Class::Customers | Class::Subscriptions => Scope::CustomersRead,
        }
    }

    /// The time to live when `[cache.ttl_ms]` does not name the class.
    fn default_ttl(self) -> Duration {
        Duration::from_secs(match self {
            Class::Usage => 15,
            Class::Plans | Class::Series => 60,
            _ => 30,
        })
    }

    fn pick(self, t: &CacheTtls) -> Option<Duration> {
        match self {
            Class::Org => t.org,
            Class::Orgs => t.orgs,
            Class::Plans => t.plans,
            Class::Usage => t.usage,
            Class::Series => t.series,
            Class::Customers => t.customers,
            Class::Subscriptions => t.subscriptions,
        }
    }
}

/// What a read is, for its key and its invalidation.
#[derive(Debug)]
pub struct Read {
    pub class: Class,
    /// The native ids of the orgs it touches: an entry is dropped when any of them is written.
    pub orgs: Vec<String>,
    /// Whether it lists orgs (a backend's, an org's customers): dropped by any write that can
    /// add, rename or remove an org of the backend.
    pub lists_orgs: bool,
    /// The read and its parameters as parsed (a `Debug` of the normalized values).
    pub what: String,
    pub include_raw: bool,
}

/// Renders an answer's body for a `meta.cache` value and a `meta.fetchedAt`. `FnMut`, so an
/// answer built once can be stamped and rendered again, not copied for each render.
pub type RenderFn = dyn FnMut(&'static str, Timestamp) -> Result<Vec<u8>, ApiError> + Send + Sync;

/// A read's outcome, ready to render.
pub struct Rendered(pub Box<RenderFn>);

impl std::fmt::Debug for Rendered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Rendered")
    }
}

/// A boxed, sendable future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Performs a read against the backend (through its policy stack) with a request id.
pub type FillFn = Arc<dyn Fn(RequestId) -> BoxFuture<Result<Rendered, ApiError>> + Send + Sync>;

/// A cached answer.
#[derive(Debug)]
struct Entry {
    /// The body with `meta.cache` = `hit`, in an allocation of its own exact size.
    hit: Bytes,
    /// How to answer with `meta.cache` = `stale`.
    stale: Stale,
    etag: HeaderValue,
    stored: Instant,
    ttl: Duration,
    weight: u32,
    /// A hit's headers, for the whole second left they were made for.
    hit_headers: Mutex<Option<HitHeaders>>,
}

/// A hit's headers with `seconds_left` whole seconds to live: a hit clones them.
#[derive(Debug, Clone)]
struct HitHeaders {
    seconds_left: u64,
    map: HeaderMap,
}

/// The stale body. Stale answers are rare (only past an entry's time to live), so it is not
/// kept twice: it is the hit body with `hit` changed to `stale` where `meta.cache` says it.
#[derive(Debug)]
enum Stale {
    /// At this offset of the hit body.
    At(usize),
    /// A body of its own (when the two differ anywhere else, which rendering never does).
    Own(Bytes),
}

impl Stale {
    /// How the stale body `stale` is kept beside the hit body `hit`.
    fn of(hit: &[u8], stale: Vec<u8>) -> Stale {
        let at = (stale.len() == hit.len() + 2)
            .then(|| hit.iter().zip(&stale).position(|(a, b)| a != b))
            .flatten()
            .filter(|&p| {
                hit[p..].starts_with(b"hit")
                    && stale[p..].starts_with(b"stale")
                    && hit[p + 3..] == stale[p + 5..]
            });
        match at {
            Some(p) => Stale::At(p),
            None => Stale::Own(Bytes::copy_from_slice(&stale)),
        }
    }

    /// The bytes it adds to an entry.
    fn len(&self) -> usize {
        match self {
            Stale::At(_) => 0,
            Stale::Own(b) => b.len(),
        }
    }
}

/// The bodies of a filled entry.
struct Bodies {
    /// The answer of the request that filled it.
    miss: Bytes,
    /// In an allocation of its own exact size, as it is kept for as long as the entry lives.
    hit: Bytes,
    stale: Stale,
    /// The content's tag: computed with `meta` neutral, so the same content keeps its tag.
    etag: HeaderValue,
}

impl Bodies {
    /// Renders a fill's bodies. An answer whose `meta` is serialized once, as its last member
    /// (every answer but a list page, whose items carry the page's `meta` too), is rendered
    /// once: the other bodies are that render with its `meta` changed, byte for byte what
    /// rendering them would give, as `cache` and `at` go nowhere but into `meta`. Any other
    /// answer is rendered for each.
    ///
    /// `meta` is the answer's `meta` for a `cache` value and a fetch time ([`Meta::of`] its
    /// backend).
    fn of(
        render: &mut RenderFn,
        meta: impl Fn(&'static str, Timestamp) -> Meta,
        now: Timestamp,
    ) -> Result<Bodies, ApiError> {
        let miss = render("miss", now)?;
        let meta = |cache, at| meta_json(&meta(cache, at));
        let Some(at) = lone_meta_at(&miss, &meta("miss", now)?) else {
            // Copied out of the serializer's buffer, whose capacity can be nearly twice its
            // length.
            let hit = render("hit", now)?;
            return Ok(Bodies {
                stale: Stale::of(&hit, render("stale", now)?),
                hit: Bytes::copy_from_slice(&hit),
                etag: etag_of(&render("", Timestamp::EPOCH)?),
                miss: Bytes::from(miss),
            });
        };
        let with = |meta: &[u8]| {
            let mut body = Vec::with_capacity(at + meta.len() + 1);
            body.extend_from_slice(&miss[..at]);
            body.extend_from_slice(meta);
            body.push(b'}');
            body
        };
        let hit_meta = meta("hit", now)?;
        let stale_meta = meta("stale", now)?;
        let hit = with(&hit_meta);
        // Where `meta` differs, the bodies do (at the same offset past its start).
        let stale = match Stale::of(&hit_meta, stale_meta) {
            Stale::At(p) => Stale::At(at + p),
            Stale::Own(stale_meta) => Stale::Own(with(&stale_meta).into()),
        };
        Ok(Bodies {
            etag: etag_of(&with(&meta("", Timestamp::EPOCH)?)),
            // `with` allocated exactly its length: kept as it is.
            hit: Bytes::from(hit),
            stale,
            miss: Bytes::from(miss),
        })
    }
}

/// An answer's `meta`, serialized as in the answer.
fn meta_json(meta: &Meta) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(meta).map_err(|e| {
        tracing::error!(error = %e, "could not serialize an answer's meta");
        ApiError::internal()
    })
}

/// Where `meta` (an answer's `meta`, serialized) starts in `body`, when it is the value of the
/// body's last member, `"meta"`, and appears nowhere else in it.
fn lone_meta_at(body: &[u8], meta: &[u8]) -> Option<usize> {
    let at = body.len().checked_sub(meta.len() + 1)?;
    let (before, tail) = body.split_at(at);
    (tail.strip_prefix(meta) == Some(b"}")
        && before.ends_with(b"\"meta\":")
        && memchr::memmem::find(before, meta).is_none())
    .then_some(at)
}

impl Entry {
    /// The body a stale answer carries.
    fn stale_body(&self) -> Bytes {
        match &self.stale {
            Stale::Own(b) => b.clone(),
            Stale::At(p) => {
                let mut v = Vec::with_capacity(self.hit.len() + 2);
                v.extend_from_slice(&self.hit[..*p]);
                v.extend_from_slice(b"stale");
                v.extend_from_slice(&self.hit[*p + 3..]);
                Bytes::from(v)
            }
        }
    }

    fn new(hit: Bytes, stale: Stale, etag: HeaderValue, ttl: Duration, weight: u32) -> Entry {
        Entry {
            hit,
            stale,
            etag,
            stored: Instant::now(),
            ttl,
            weight,
            hit_headers: Mutex::new(None),
        }
    }

    /// A hit's headers with `left` whole seconds to live (a `200`'s: with its content type).
    fn hit_headers(&self, left: u64) -> HeaderMap {
        let mut memo = self.hit_headers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(h) = memo.as_ref().filter(|h| h.seconds_left == left) {
            return h.map.clone();
        }
        let map = entry_headers(
            self,
            true,
            "hit",
            header_value(format!("private, max-age={left}")),
            header_value(format!("orgway; hit; ttl={left}")),
        );
        *memo = Some(HitHeaders {
            seconds_left: left,
            map: map.clone(),
        });
        map
    }
}

/// A header value made of visible ASCII (numbers and fixed words).
fn header_value(s: String) -> HeaderValue {
    HeaderValue::try_from(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The front index's record of a request target: see the module doc.
#[derive(Debug)]
struct Front {
    entry: Weak<Entry>,
    /// The entry's key in the store (to see whether a refresh of it runs).
    key: Arc<str>,
    backend: Arc<BackendState>,
    /// The backend's write epoch when the read that recorded it computed its key.
    epoch: u64,
    route: &'static str,
    /// What a caller needs to be answered from it: the route's scope, `raw:read` when the
    /// read asked `include=raw`, and a grant of the org (`None`: of the whole backend).
    scope: crate::auth::Scope,
    include_raw: bool,
    org: Option<String>,
}

impl Front {
    /// Its entry and the entry's age, while a read may still be answered from it: the entry
    /// alive and inside its stale-while-revalidate window (`swr`), and no write or purge of its
    /// backend since the read that recorded it.
    fn usable(&self, swr: Duration) -> Option<(Arc<Entry>, Duration)> {
        if self.backend.epoch.load(Ordering::Acquire) != self.epoch {
            return None;
        }
        let entry = self.entry.upgrade()?;
        let age = entry.stored.elapsed();
        (age < entry.ttl + swr).then_some((entry, age))
    }
}

/// Bytes counted for each front index record besides its key: the record (with its org) and the
/// map's bucket. With [`ENTRY_OVERHEAD`], measured when the index was a moka cache too: 20,000
/// distinct org reads, each an entry and a record, grew `orgway serve`'s resident memory by
/// 2,110 bytes each (a 619-byte body, a 70-byte key, a 45-byte target), so that `max_bytes`
/// bounds what the cache really holds. The plain map holds less per record than moka did.
const FRONT_OVERHEAD: usize = 512;

/// A fill's result: the entry, and the body its own callers get (`meta.cache` = `miss`).
#[derive(Debug)]
struct Filled {
    entry: Arc<Entry>,
    miss: Bytes,
}

type FillResult = Result<Arc<Filled>, ApiError>;
type SharedFill = Shared<BoxFuture<FillResult>>;

/// Per-backend settings and counters.
#[derive(Debug)]
struct BackendState {
    /// The backend's name.
    name: String,
    /// Time to live per class, resolved (backend over `[cache.ttl_ms]` over the defaults).
    ttl: [Duration; 7],
    /// The credential's identity, part of every key.
    credential: String,
    hits: AtomicU64,
    misses: AtomicU64,
    stale: AtomicU64,
    collapsed: AtomicU64,
    /// Bumped by every write and purge of the backend (under the generations lock, after the
    /// generations): a front index record from before it is not used.
    epoch: AtomicU64,
    /// `orgway_cache_lookups` of this backend, by result ([`Lookup`]), resolved once.
    lookups: [Counter; 5],
}

impl BackendState {
    /// The state of a backend no configuration names (`Cache::store_answer`, tests): no
    /// credential, one time to live for every class, its counters at zero and counted nowhere.
    fn detached(name: String, ttl: Duration) -> BackendState {
        BackendState {
            name,
            ttl: [ttl; 7],
            credential: String::new(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            stale: AtomicU64::new(0),
            collapsed: AtomicU64::new(0),
            epoch: AtomicU64::new(0),
            lookups: Default::default(),
        }
    }
}

/// A lookup's result, as `orgway_cache_lookups` labels it.
#[derive(Debug, Clone, Copy)]
enum Lookup {
    Hit,
    Miss,
    Stale,
    Collapsed,
    Bypass,
}

impl Lookup {
    const ALL: [Lookup; 5] = [
        Lookup::Hit,
        Lookup::Miss,
        Lookup::Stale,
        Lookup::Collapsed,
        Lookup::Bypass,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Lookup::Hit => "hit",
            Lookup::Miss => "miss",
            Lookup::Stale => "stale",
            Lookup::Collapsed => "collapsed",
            Lookup::Bypass => "bypass",
        }
    }
}

impl BackendState {
    fn count(&self, result: Lookup) {
        self.lookups[result as usize].inc();
        let c = match result {
            Lookup::Hit => &self.hits,
            Lookup::Miss => &self.misses,
            Lookup::Stale => &self.stale,
            Lookup::Collapsed => &self.collapsed,
            Lookup::Bypass => return,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// Per-entry lifetime: the time to live plus the longest window it may still be answered in.
struct Lifetime {
    extra: Duration,
}

impl moka::Expiry<Arc<str>, Arc<Entry>> for Lifetime {
    fn expire_after_create(
        &self,
        _key: &Arc<str>,
        value: &Arc<Entry>,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(value.ttl + self.extra)
    }

    /// A refresh (a revalidation, a `no-cache` read) stores a new entry under the same key: it
    /// lives its own time, not what was left of the entry it replaced (moka's default).
    fn expire_after_update(
        &self,
        _key: &Arc<str>,
        value: &Arc<Entry>,
        _updated_at: Instant,
        _duration_until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        Some(value.ttl + self.extra)
    }
}

/// Frees a fill's key when dropped (its end, or its panic's unwinding).
struct FillDone {
    cache: Arc<Cache>,
    key: Arc<str>,
}

impl Drop for FillDone {
    fn drop(&mut self) {
        self.cache.inflight().remove(&self.key);
    }
}

/// The read cache of a gateway.
pub struct Cache {
    store: Option<moka::future::Cache<Arc<str>, Arc<Entry>>>,
    /// The front index (module doc), present with the store.
    front: Option<FrontIndex>,
    config: Option<CacheConfig>,
    backends: HashMap<String, Arc<BackendState>>,
    /// Generations, by backend: see [`Generations`].
    generations: Mutex<HashMap<String, Generations>>,
    inflight: Mutex<HashMap<Arc<str>, SharedFill>>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("enabled", &self.store.is_some())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The generations of one backend: of the backend as a whole, and of each org written (lists
/// of the backend's orgs use the org id [`LISTS`]). A read's key carries those it touches.
#[derive(Debug, Default)]
struct Generations {
    all: u64,
    orgs: HashMap<String, u64>,
}

/// The most orgs of one backend whose generations are kept: one more, and the backend's own
/// generation moves on instead (every entry of it is forgotten) and the orgs' start again, so
/// writes and purges of ever new org ids (a purge needs no backend call) cannot grow the map
/// without bound.
const MAX_ORG_GENERATIONS: usize = 10_000;

/// The pseudo-org whose generation every list of a backend's orgs carries.
const LISTS: &str = "\u{0}lists";

/// Bytes of bookkeeping counted for each entry besides its bodies and key: the entry itself,
/// its `ETag` and headers, and moka's per-entry bookkeeping (measured: see [`FRONT_OVERHEAD`]).
const ENTRY_OVERHEAD: usize = 768;

/// A caller's request to skip the cache and refresh it.
fn no_cache(headers: &HeaderMap) -> bool {
    let says = |name: header::HeaderName| {
        headers.get_all(name).iter().any(|v| {
            v.to_str().is_ok_and(|s| {
                s.split(',')
                    .any(|d| d.trim().eq_ignore_ascii_case("no-cache"))
            })
        })
    };
    says(header::CACHE_CONTROL) || says(header::PRAGMA)
}

/// Whether `If-None-Match` names this entity tag (`*` names any).
fn none_match(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    headers.get_all(header::IF_NONE_MATCH).iter().any(|v| {
        v.to_str().is_ok_and(|s| {
            s.split(',').any(|t| {
                let t = t.trim();
                let t = t.strip_prefix("W/").unwrap_or(t);
                t == "*" || t.as_bytes() == etag.as_bytes()
            })
        })
    })
}

/// 128 bits identifying what `feed` writes: two keyed SipHash digests, salted by `salts`.
/// (Entity tags here; write fingerprints in `idempotency.rs`.)
#[allow(deprecated)]
pub(crate) fn digest128(salts: (u64, u64), feed: impl Fn(&mut std::hash::SipHasher)) -> u128 {
    let digest = |salt: u64| {
        let mut h = std::hash::SipHasher::new_with_keys(salt, !salt);
        feed(&mut h);
        h.finish()
    };
    (u128::from(digest(salts.0)) << 64) | u128::from(digest(salts.1))
}

/// A strong entity tag for a body: 128 bits of two SipHash digests.
fn etag_of(body: &[u8]) -> HeaderValue {
    let d = digest128((0x6f72_6777_6179, 0x0063_6163_6865), |h| body.hash(h));
    let tag = format!("\"{d:032x}\"");
    HeaderValue::from_str(&tag).unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
}

/// Whether a failure is the backend's (so a stale answer may stand in for it).
fn backend_failed(e: &ApiError) -> bool {
    matches!(
        e.code,
        ErrorCode::BackendError
            | ErrorCode::BackendBadResponse
            | ErrorCode::BackendTimeout
            | ErrorCode::BackendUnavailable
            | ErrorCode::BackendAuthFailed
    )
}

/// How an answer was made, for its headers and `meta.cache`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum How {
    Hit,
    /// Filled by this request (or, `collapsed`, by another it waited for).
    Miss {
        collapsed: bool,
        forced: bool,
    },
    /// An expired entry answered at once while a refresh runs.
    StaleWhileRevalidate,
    /// An expired entry answered because the refresh failed with this status.
    StaleIfError(u16),
}

impl Cache {
    /// The cache a configuration asks for; without `[cache]` every read is a bypass.
    pub fn new(config: &Config, backends: &[Arc<BackendEntry>], metrics: Arc<Metrics>) -> Cache {
        let states = backends
            .iter()
            .map(|b| {
                let own = config
                    .backends
                    .iter()
                    .find(|c| c.name == b.name)
                    .map(|c| c.cache_ttl)
                    .unwrap_or_default();
                let ttl = Class::ALL.map(|class| {
                    class
                        .pick(&own)
                        .or_else(|| config.cache.as_ref().and_then(|c| class.pick(&c.ttl)))
                        .unwrap_or_else(|| class.default_ttl())
                });
                let lookups = Lookup::ALL.map(|result| {
                    metrics
                        .cache_lookups
                        .get_or_create(&CacheLabels {
                            backend: b.name.clone(),
                            result: result.as_str(),
                        })
                        .clone()
                });
                (
                    b.name.clone(),
                    Arc::new(BackendState {
                        name: b.name.clone(),
                        ttl,
                        credential: b.adapter.credential_identity(),
                        hits: AtomicU64::new(0),
                        misses: AtomicU64::new(0),
                        stale: AtomicU64::new(0),
                        collapsed: AtomicU64::new(0),
                        epoch: AtomicU64::new(0),
                        lookups,
                    }),
                )
            })
            .collect();
        let store = config.cache.as_ref().map(|c| build_store(c, &metrics));
        Cache {
            store,
            front: config.cache.as_ref().map(FrontIndex::of),
            config: config.cache.clone(),
            backends: states,
            generations: Mutex::new(HashMap::new()),
            inflight: Mutex::new(HashMap::new()),
        }
    }

    fn generations(&self) -> MutexGuard<'_, HashMap<String, Generations>> {
        self.generations.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn inflight(&self) -> MutexGuard<'_, HashMap<Arc<str>, SharedFill>> {
        self.inflight.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The key of a read (see the module doc), and the backend's write epoch it was made in.
    fn key(&self, backend: &str, state: &BackendState, read: &Read) -> (Arc<str>, u64) {
        use std::fmt::Write;
        let gens = self.generations();
        let epoch = state.epoch.load(Ordering::Acquire);
        let mine = gens.get(backend);
        let generation = |org: Option<&str>| match (mine, org) {
            (None, _) => 0,
            (Some(g), None) => g.all,
            (Some(g), Some(org)) => g.orgs.get(org).copied().unwrap_or(0),
        };
        let mut k = String::with_capacity(96 + read.what.len());
        let _ = write!(
            k,
            "{backend}\u{1f}{}\u{1f}{}",
            state.credential,
            generation(None)
        );
        for org in &read.orgs {
            let _ = write!(k, "\u{1f}{org}={}", generation(Some(org)));
        }
        if read.lists_orgs {
            let _ = write!(k, "\u{1f}lists={}", generation(Some(LISTS)));
        }
        let _ = write!(
            k,
            "\u{1f}{}\u{1f}{}\u{1f}{}",
            read.class.as_str(),
            read.include_raw,
            read.what
        );
        (Arc::from(k), epoch)
    }

    fn bump(&self, backend: &str, org: Option<&str>) {
        let mut gens = self.generations();
        let mine = gens.entry(backend.to_owned()).or_default();
        match org {
            None => mine.all += 1,
            Some(org) => {
                if mine.orgs.len() >= MAX_ORG_GENERATIONS && !mine.orgs.contains_key(org) {
                    mine.all += 1;
                    mine.orgs.clear();
                }
                *mine.orgs.entry(org.to_owned()).or_insert(0) += 1;
            }
        }
        if let Some(state) = self.backends.get(backend) {
            state.epoch.fetch_add(1, Ordering::Release);
        }
    }

    /// A write to a backend may have changed something (it succeeded, or failed after its
    /// request may have reached the backend): no read after this finds an entry of the orgs it
    /// touched, nor a list of the backend's orgs from before it (docs/API.md §7: a list shows
    /// what any write may change, such as an org's plan or its count of subscriptions).
    pub fn wrote(&self, backend: &str, orgs: &[&str]) {
        for org in orgs {
            self.bump(backend, Some(org));
        }
        self.bump(backend, Some(LISTS));
    }

    /// Drops every entry of one org (and the backend's org lists).
    pub fn purge_org(&self, backend: &str, org: &str) {
        self.wrote(backend, &[org]);
    }

    /// Drops every entry of a backend.
    pub fn purge_backend(&self, backend: &str) {
        self.bump(backend, None);
    }

    /// A cache of `config` serving no backend, for measuring the store alone
    /// (`tests/cache_memory.rs`).
    #[doc(hidden)]
    pub fn standalone(config: &CacheConfig, metrics: Arc<Metrics>) -> Cache {
        Cache {
            store: Some(build_store(config, &metrics)),
            front: Some(FrontIndex::of(config)),
            config: Some(config.clone()),
            backends: HashMap::new(),
            generations: Mutex::new(HashMap::new()),
            inflight: Mutex::new(HashMap::new()),
        }
    }

    /// Stores an answer under `key` as a fill would, and records `target` for it in the front
    /// index as a routed read would (`tests/cache_memory.rs`).
    #[doc(hidden)]
    pub async fn store_answer(&self, key: &str, target: &str, body: Bytes, ttl: Duration) {
        let (Some(store), Some(front)) = (&self.store, &self.front) else {
            return;
        };
        let weight = u32::try_from(body.len() + key.len() + ENTRY_OVERHEAD).unwrap_or(u32::MAX);
        let entry = Arc::new(Entry::new(
            body.clone(),
            // Never served stale here: the hit body's own bytes (shared, not copied) stand in,
            // so that a stale answer would still be a whole body.
            Stale::Own(body),
            HeaderValue::from_static("\"0\""),
            ttl,
            weight,
        ));
        let backend = Arc::new(BackendState::detached(String::new(), ttl));
        let record = Front {
            entry: Arc::downgrade(&entry),
            key: Arc::from(key),
            backend,
            epoch: 0,
            route: Class::Org.route(),
            scope: Class::Org.scope(),
            include_raw: false,
            org: Some(key.to_owned()),
        };
        store.insert(Arc::from(key), entry).await;
        front.insert(Arc::from(target), Arc::new(record));
    }

    /// Bytes held (the store's and the front index's), after pending evictions.
    pub async fn weighted_size(&self) -> u64 {
        let mut held = 0;
        if let Some(s) = &self.store {
            s.run_pending_tasks().await;
            held += s.weighted_size();
        }
        if let Some(f) = &self.front {
            held += f.bytes();
        }
        held
    }

    /// What `GET /v1/backends` shows of one backend's cache.
    pub fn report(&self, backend: &str) -> CacheReport {
        let state = self.backends.get(backend).map(|s| &**s);
        let load =
            |f: fn(&BackendState) -> &AtomicU64| state.map_or(0, |s| f(s).load(Ordering::Relaxed));
        CacheReport {
            enabled: self.store.is_some(),
            ttl_ms: Class::ALL
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let ms = match (&self.store, state) {
                        (Some(_), Some(s)) => s.ttl[i].as_millis() as u64,
                        _ => 0,
                    };
                    (c.as_str(), ms)
                })
                .collect(),
            hits: load(|s| &s.hits),
            misses: load(|s| &s.misses),
            stale: load(|s| &s.stale),
            collapsed: load(|s| &s.collapsed),
        }
    }

    /// Answers a `GET` from the front index (module doc) when it may, with the route template
    /// it was recorded for; `None` sends the request through the router.
    /// A caller not allowed what the record needs goes through the router, which refuses it.
    pub async fn front(
        &self,
        target: &str,
        headers: &HeaderMap,
        caller: &crate::auth::Caller,
    ) -> Option<(Response, &'static str)> {
        let index = self.front.as_ref()?;
        let front = index.get(target)?;
        if no_cache(headers) {
            return None;
        }
        let (entry, age) = front.usable(index.stale_while_revalidate)?;
        if !caller.has(front.scope)
            || (front.include_raw && !caller.has(crate::auth::Scope::RawRead))
            || !caller.may_see(&front.backend.name, front.org.as_deref())
        {
            return None;
        }
        if age < entry.ttl {
            front.backend.count(Lookup::Hit);
            return Some((respond(&entry, None, How::Hit, headers), front.route));
        }
        // Expired, inside the stale-while-revalidate window, with its refresh already running
        // (a routed read started it): answered stale here, as the router would.
        if self.inflight().contains_key(&front.key) {
            front.backend.count(Lookup::Stale);
            return Some((
                respond(&entry, None, How::StaleWhileRevalidate, headers),
                front.route,
            ));
        }
        None
    }

    /// Answers a read: from the cache when it may, else through `fill` (see the module doc).
    pub async fn serve(
        self: &Arc<Self>,
        backend: &Arc<BackendEntry>,
        read: Read,
        req: &ReadRequest,
        rid: &RequestId,
        fill: FillFn,
    ) -> Result<Response, ApiError> {
        let name = backend.name.as_str();
        let headers = &req.headers;
        let (store, config, state) = match (&self.store, &self.config, self.backends.get(name)) {
            (Some(store), Some(config), Some(state)) => (store, config, state),
            _ => return self.bypass(name, rid, &fill).await,
        };
        let ttl = state.ttl[read.class as usize];
        if ttl.is_zero() {
            return self.bypass(name, rid, &fill).await;
        }
        let (key, epoch) = self.key(name, state, &read);
        let remember = |entry: &Arc<Entry>| Front {
            entry: Arc::downgrade(entry),
            key: key.clone(),
            backend: state.clone(),
            epoch,
            route: read.class.route(),
            scope: read.class.scope(),
            include_raw: read.include_raw,
            org: read.orgs.first().cloned(),
        };
        let forced = no_cache(headers);
        if !forced && let Some(entry) = store.get(&key).await {
            let age = entry.stored.elapsed();
            if age < entry.ttl {
                state.count(Lookup::Hit);
                self.remember(req, read.class, remember(&entry)).await;
                return Ok(respond(&entry, None, How::Hit, headers));
            }
            if age < entry.ttl + config.stale_while_revalidate {
                state.count(Lookup::Stale);
                self.refresh_in_background(backend, &key, ttl, &fill);
                return Ok(respond(&entry, None, How::StaleWhileRevalidate, headers));
            }
            return match self.fill(backend, &key, ttl, rid, &fill).await {
                (Ok(filled), collapsed) => {
                    self.filled(state, collapsed, req, read.class, remember(&filled.entry))
                        .await;
                    Ok(respond(
                        &filled.entry,
                        Some(&filled.miss),
                        How::Miss {
                            collapsed,
                            forced: false,
                        },
                        headers,
                    ))
                }
                // Its age now, after the refresh failed (which may have taken the backend's
                // whole time limit): never older than the window allows.
                (Err(e), _)
                    if backend_failed(&e)
                        && entry.stored.elapsed() < entry.ttl + config.stale_if_error =>
                {
                    state.count(Lookup::Stale);
                    tracing::info!(
                        backend = name,
                        code = e.code.as_str(),
                        age_ms = entry.stored.elapsed().as_millis() as u64,
                        "backend failed: answering from the cache, stale"
                    );
                    Ok(respond(
                        &entry,
                        None,
                        How::StaleIfError(e.code.status().as_u16()),
                        headers,
                    ))
                }
                (Err(e), _) => Err(e),
            };
        }
        let (filled, collapsed) = self.fill(backend, &key, ttl, rid, &fill).await;
        let filled = filled?;
        self.filled(state, collapsed, req, read.class, remember(&filled.entry))
            .await;
        Ok(respond(
            &filled.entry,
            Some(&filled.miss),
            How::Miss { collapsed, forced },
            headers,
        ))
    }

    /// A fill this read made or waited for: counted, and its target recorded.
    async fn filled(
        &self,
        state: &BackendState,
        collapsed: bool,
        req: &ReadRequest,
        class: Class,
        record: Front,
    ) {
        state.count(if collapsed {
            Lookup::Collapsed
        } else {
            Lookup::Miss
        });
        self.remember(req, class, record).await;
    }

    /// Records a read's target against the fresh entry it found or filled (module doc).
    async fn remember(&self, req: &ReadRequest, class: Class, record: Front) {
        if let (Some(front), Some(target)) = (&self.front, req.target.path_and_query())
            && class != Class::Series
        {
            front.insert(Arc::from(target.as_str()), Arc::new(record));
        }
    }

    /// A read the cache does not hold: straight through, `meta.cache` = `bypass`.
    async fn bypass(
        &self,
        backend: &str,
        rid: &RequestId,
        fill: &FillFn,
    ) -> Result<Response, ApiError> {
        if let Some(state) = self.backends.get(backend) {
            state.count(Lookup::Bypass);
        }
        let mut rendered = fill(rid.clone()).await?;
        let body = (rendered.0)("bypass", Timestamp::now())?;
        let mut resp = (StatusCode::OK, body).into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        h.insert(X_CACHE, HeaderValue::from_static("bypass"));
        Ok(resp)
    }

    /// The one fill of `key`, started by this call or joined; `true` when joined.
    async fn fill(
        self: &Arc<Self>,
        backend: &Arc<BackendEntry>,
        key: &Arc<str>,
        ttl: Duration,
        rid: &RequestId,
        fill: &FillFn,
    ) -> (FillResult, bool) {
        let (shared, joined) = {
            let mut inflight = self.inflight();
            match inflight.get(key) {
                Some(s) => (s.clone(), true),
                None => {
                    let s = self.start_fill(
                        backend.clone(),
                        key.clone(),
                        ttl,
                        rid.clone(),
                        fill.clone(),
                    );
                    inflight.insert(key.clone(), s.clone());
                    (s, false)
                }
            }
        };
        (shared.await, joined)
    }

    /// Starts a fill as a task of its own, so it completes and fills the cache whatever
    /// becomes of the requests waiting for it.
    fn start_fill(
        self: &Arc<Self>,
        backend: Arc<BackendEntry>,
        key: Arc<str>,
        ttl: Duration,
        rid: RequestId,
        fill: FillFn,
    ) -> SharedFill {
        let cache = self.clone();
        let task = tokio::spawn(async move {
            // The key is free again when the fill ends, however it ends: a fill that panicked
            // and stayed in flight would answer every later read of the key with its 500.
            let _done = FillDone {
                cache: cache.clone(),
                key: key.clone(),
            };
            cache.run_fill(&backend, &key, ttl, rid, &fill).await
        });
        let fut: BoxFuture<FillResult> = Box::pin(async move {
            task.await.unwrap_or_else(|e| {
                tracing::error!(error = %e, "a cache fill panicked");
                Err(ApiError::internal())
            })
        });
        fut.shared()
    }

    async fn run_fill(
        &self,
        backend: &BackendEntry,
        key: &Arc<str>,
        ttl: Duration,
        rid: RequestId,
        fill: &FillFn,
    ) -> FillResult {
        let mut rendered = fill(rid).await?;
        let Bodies {
            miss,
            hit,
            stale,
            etag,
        } = Bodies::of(
            &mut *rendered.0,
            |cache, at| Meta::of(backend, at, cache),
            Timestamp::now(),
        )?;
        let weight =
            u32::try_from(hit.len() + stale.len() + key.len() + ENTRY_OVERHEAD).unwrap_or(u32::MAX);
        let entry = Arc::new(Entry::new(hit, stale, etag, ttl, weight));
        if let Some(store) = &self.store {
            store.insert(key.clone(), entry.clone()).await;
        }
        Ok(Arc::new(Filled { entry, miss }))
    }

    /// Starts the one background refresh of a stale entry, unless one runs.
    fn refresh_in_background(
        self: &Arc<Self>,
        backend: &Arc<BackendEntry>,
        key: &Arc<str>,
        ttl: Duration,
        fill: &FillFn,
    ) {
        let mut inflight = self.inflight();
        if inflight.contains_key(key) {
            return;
        }
        let rid = RequestId(crate::http::new_request_id());
        let shared = self.start_fill(backend.clone(), key.clone(), ttl, rid, fill.clone());
        inflight.insert(key.clone(), shared);
    }
}

/// The front index's share of `max_bytes`.
fn front_bytes(c: &CacheConfig) -> u64 {
    c.max_bytes / 16
}

/// The front index (module doc): request targets to records, bounded in bytes (its records
/// hold no bodies). A plain map under a read-write lock: a lookup is one hash and one compare,
/// where a moka `get` also recorded the read for its eviction policy (about a tenth of a hit's
/// instructions). A record is only ever used while its entry lives and is fresh enough, so the
/// index needs no order of its own: over its bytes, it drops the records that can no longer be
/// used, then any others, down to three quarters of its bytes (so that sweeps are rare).
struct FrontIndex {
    max_bytes: u64,
    stale_while_revalidate: Duration,
    map: std::sync::RwLock<FrontMap>,
}

#[derive(Default)]
struct FrontMap {
    records: HashMap<Arc<str>, Arc<Front>>,
    bytes: u64,
}

impl FrontIndex {
    fn of(c: &CacheConfig) -> FrontIndex {
        FrontIndex::new(front_bytes(c), c.stale_while_revalidate)
    }

    fn new(max_bytes: u64, stale_while_revalidate: Duration) -> FrontIndex {
        FrontIndex {
            max_bytes,
            stale_while_revalidate,
            map: Default::default(),
        }
    }

    /// Bytes counted for a record of `target`.
    fn weight(target: &str) -> u64 {
        (target.len() + FRONT_OVERHEAD) as u64
    }

    fn get(&self, target: &str) -> Option<Arc<Front>> {
        let map = self.map.read().unwrap_or_else(|p| p.into_inner());
        map.records.get(target).cloned()
    }

    fn insert(&self, target: Arc<str>, record: Arc<Front>) {
        let weight = Self::weight(&target);
        let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
        if map.records.insert(target, record).is_none() {
            map.bytes += weight;
        }
        if map.bytes > self.max_bytes {
            self.sweep(&mut map);
        }
    }

    /// Drops the records that can no longer be used, then others, down to three quarters of
    /// the bytes.
    fn sweep(&self, map: &mut FrontMap) {
        let swr = self.stale_while_revalidate;
        map.records.retain(|_, r| r.usable(swr).is_some());
        let goal = self.max_bytes / 4 * 3;
        let mut bytes: u64 = map.records.keys().map(|k| Self::weight(k)).sum();
        if bytes > goal {
            map.records.retain(|k, _| {
                if bytes <= goal {
                    return true;
                }
                bytes -= Self::weight(k);
                false
            });
        }
        map.bytes = bytes;
    }

    /// Bytes held.
    fn bytes(&self) -> u64 {
        self.map.read().unwrap_or_else(|p| p.into_inner()).bytes
    }
}

/// The store: bounded in bytes, each entry living its time to live plus the longest stale window.
fn build_store(c: &CacheConfig, metrics: &Metrics) -> moka::future::Cache<Arc<str>, Arc<Entry>> {
    let evictions = metrics.cache_evictions.clone();
    moka::future::Cache::builder()
        .max_capacity(c.max_bytes - front_bytes(c))
        .weigher(|_k: &Arc<str>, v: &Arc<Entry>| v.weight)
        .expire_after(Lifetime {
            extra: c.stale_while_revalidate.max(c.stale_if_error),
        })
        .eviction_listener(move |_k, _v, cause| {
            if cause == moka::notification::RemovalCause::Size {
                evictions.inc();
            }
        })
        .build()
}

/// The HTTP answer for an entry.
fn respond(entry: &Entry, miss: Option<&Bytes>, how: How, req: &HeaderMap) -> Response {
    let left = entry.ttl.saturating_sub(entry.stored.elapsed());
    let (x_cache, max_age, status) = match how {
        How::Hit => {
            let mut headers = entry.hit_headers(left.as_secs());
            let mut resp = if none_match(req, &entry.etag) {
                // A 304 carries no body, so no content type.
                headers.remove(header::CONTENT_TYPE);
                let mut r = Response::new(axum::body::Body::empty());
                *r.status_mut() = StatusCode::NOT_MODIFIED;
                r
            } else {
                Response::new(axum::body::Body::from(entry.hit.clone()))
            };
            *resp.headers_mut() = headers;
            return resp;
        }
        How::Miss { collapsed, forced } => (
            "miss",
            entry.ttl.as_secs(),
            format!(
                "orgway; fwd={}; stored{}",
                if forced { "request" } else { "uri-miss" },
                if collapsed { "; collapsed" } else { "" }
            ),
        ),
        How::StaleWhileRevalidate => {
            let over = entry.stored.elapsed().saturating_sub(entry.ttl).as_secs();
            (
                "stale",
                0,
                format!("orgway; hit; ttl=-{over}; detail=stale-while-revalidate"),
            )
        }
        How::StaleIfError(s) => {
            let over = entry.stored.elapsed().saturating_sub(entry.ttl).as_secs();
            (
                "stale",
                0,
                format!("orgway; fwd=stale; fwd-status={s}; ttl=-{over}"),
            )
        }
    };
    let stale;
    let body = match how {
        How::Miss { .. } => miss.unwrap_or(&entry.hit),
        _ => {
            stale = entry.stale_body();
            &stale
        }
    };
    with_headers(
        entry,
        req,
        body,
        x_cache,
        header_value(format!("private, max-age={max_age}")),
        header_value(status),
    )
}

/// `X-Cache`: `hit`, `miss`, `stale` or `bypass` (names built once: a name built from a `&str`
/// is parsed at each use).
const X_CACHE: header::HeaderName = header::HeaderName::from_static("x-cache");
/// `Cache-Status` (RFC 9211).
const CACHE_STATUS: header::HeaderName = header::HeaderName::from_static("cache-status");

/// An answer with `body` (or `304` when `If-None-Match` names the entry) and the cache's headers.
fn with_headers(
    entry: &Entry,
    req: &HeaderMap,
    body: &Bytes,
    x_cache: &'static str,
    cache_control: HeaderValue,
    cache_status: HeaderValue,
) -> Response {
    let not_modified = none_match(req, &entry.etag);
    let mut resp = if not_modified {
        let mut r = Response::new(axum::body::Body::empty());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        Response::new(axum::body::Body::from(body.clone()))
    };
    *resp.headers_mut() = entry_headers(entry, !not_modified, x_cache, cache_control, cache_status);
    resp
}

/// The headers of an answer from an entry; `body`: whether it carries one (a `304` does not).
fn entry_headers(
    entry: &Entry,
    body: bool,
    x_cache: &'static str,
    cache_control: HeaderValue,
    cache_status: HeaderValue,
) -> HeaderMap {
    // Room for these and the request id the edge adds, so the map never grows.
    let mut h = HeaderMap::with_capacity(8);
    if body {
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    h.insert(header::ETAG, entry.etag.clone());
    h.insert(header::CACHE_CONTROL, cache_control);
    // A browser's own cache keeps the answer for the token that fetched it only.
    h.insert(header::VARY, HeaderValue::from_static("authorization"));
    h.insert(X_CACHE, HeaderValue::from_static(x_cache));
    h.insert(CACHE_STATUS, cache_status);
    h
}

/// What of a read's request the cache looks at: its target as received (for the front index)
/// and its headers (`Cache-Control`, `Pragma`, `If-None-Match`).
#[derive(Debug)]
pub struct ReadRequest {
    pub target: Uri,
    pub headers: HeaderMap,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ReadRequest {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(ReadRequest {
            target: parts.uri.clone(),
            headers: parts.headers.clone(),
        })
    }
}

/// One backend's cache, as `GET /v1/backends` shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CacheReport {
    /// Whether the gateway has a `[cache]`.
    pub enabled: bool,
    /// Time to live of each class of read, in milliseconds (0: not cached).
    pub ttl_ms: std::collections::BTreeMap<&'static str, u64>,
    pub hits: u64,
    pub misses: u64,
    pub stale: u64,
    /// Requests that waited for another's fill instead of calling the backend.
    pub collapsed: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn org_generations_are_bounded_and_never_go_back() {
        let cache = Cache::standalone(
            &CacheConfig {
                max_bytes: 1 << 20,
                stale_while_revalidate: Duration::ZERO,
                stale_if_error: Duration::ZERO,
                ttl: Default::default(),
            },
            Metrics::new(),
        );
        cache.purge_org("b", "first");
        let before = {
            let g = cache.generations();
            (g["b"].all, g["b"].orgs["first"])
        };
        assert_eq!(before, (0, 1));
        for i in 0..MAX_ORG_GENERATIONS {
            cache.purge_org("b", &format!("org-{i}"));
        }
        let g = cache.generations();
        assert!(g["b"].orgs.len() <= MAX_ORG_GENERATIONS);
        // The backend's generation moved on: no key of before can be made again, though
        // "first" counts from the start.
        assert_eq!(g["b"].all, 1);
        assert!(!g["b"].orgs.contains_key("first"));
    }

    #[tokio::test]
    async fn a_refreshed_entry_lives_its_own_time_to_live() {
        let config = CacheConfig {
            max_bytes: 1 << 20,
            stale_while_revalidate: Duration::ZERO,
            stale_if_error: Duration::ZERO,
            ttl: Default::default(),
        };
        let store = build_store(&config, &Metrics::new());
        let entry = || {
            Arc::new(Entry::new(
                Bytes::from_static(b"{}"),
                Stale::Own(Bytes::from_static(b"{}")),
                HeaderValue::from_static("\"0\""),
                Duration::from_millis(600),
                100,
            ))
        };
        let key: Arc<str> = Arc::from("k");
        store.insert(key.clone(), entry()).await;
        tokio::time::sleep(Duration::from_millis(400)).await;
        // Refreshed 400 ms in: it lives until 1,000 ms, not the first entry's 600 ms.
        store.insert(key.clone(), entry()).await;
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(
            store.get(&key).await.is_some(),
            "the refresh lives its own time"
        );
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(store.get(&key).await.is_none(), "and no longer");
    }

    #[test]
    fn the_front_index_stays_within_its_bytes_and_drops_unusable_records_first() {
        let backend = Arc::new(BackendState::detached("b".into(), Duration::from_secs(60)));
        let entry = |ttl| {
            Arc::new(Entry::new(
                Bytes::from_static(b"{}"),
                Stale::Own(Bytes::from_static(b"{}")),
                HeaderValue::from_static("\"0\""),
                ttl,
                0,
            ))
        };
        let record_of = |e: &Arc<Entry>, backend: &Arc<BackendState>| {
            Arc::new(Front {
                entry: Arc::downgrade(e),
                key: Arc::from("k"),
                backend: backend.clone(),
                epoch: 0,
                route: Class::Org.route(),
                scope: Class::Org.scope(),
                include_raw: false,
                org: None,
            })
        };
        let record = |e: &Arc<Entry>| record_of(e, &backend);
        let per = FrontIndex::weight("/v1/orgs/o-000");
        let index = FrontIndex::new(per * 10, Duration::ZERO);
        // A live record, then records of entries already gone or expired: past its bytes,
        // the index drops those and keeps the one it could still answer from.
        let live = entry(Duration::from_secs(60));
        index.insert(Arc::from("/v1/orgs/o-000"), record(&live));
        let expired = entry(Duration::ZERO);
        for i in 1..=10 {
            let gone = entry(Duration::from_secs(60));
            let e = if i % 2 == 0 { &expired } else { &gone };
            index.insert(Arc::from(format!("/v1/orgs/o-{i:03}")), record(e));
        }
        assert!(index.get("/v1/orgs/o-000").is_some());
        assert_eq!(index.bytes(), per, "only the live record is left");
        // A record from before its backend was written is unusable too.
        let stale = Arc::new(BackendState::detached("w".into(), Duration::from_secs(60)));
        let written = entry(Duration::from_secs(60));
        for i in 1..=10 {
            index.insert(
                Arc::from(format!("/v1/orgs/w-{i:03}")),
                record_of(&written, &stale),
            );
            if i == 1 {
                stale.epoch.fetch_add(1, Ordering::Release);
            }
        }
        assert!(index.get("/v1/orgs/o-000").is_some(), "the live one kept");
        assert_eq!(index.bytes(), per, "and only it");
        // Records that are all usable: any of them go, down to three quarters.
        let mut kept = Vec::new();
        for i in 0..100 {
            let e = entry(Duration::from_secs(60));
            index.insert(Arc::from(format!("/v1/orgs/x-{i:03}")), record(&e));
            kept.push(e);
            assert!(index.bytes() <= per * 10);
        }
        let map = index.map.read().unwrap();
        assert_eq!(
            map.bytes,
            map.records
                .keys()
                .map(|k| FrontIndex::weight(k))
                .sum::<u64>()
        );
        // The same target again replaces its record, and counts once.
        drop(map);
        let before = index.bytes();
        let any = index
            .map
            .read()
            .unwrap()
            .records
            .keys()
            .next()
            .unwrap()
            .clone();
        index.insert(any, record(&kept[0]));
        assert_eq!(index.bytes(), before);
    }

    #[test]
    fn the_stale_body_is_the_hit_body_with_its_cache_value_changed_and_nothing_else() {
        let entry = |hit: &str, stale: &str| {
            let s = Stale::of(hit.as_bytes(), stale.as_bytes().to_vec());
            Entry::new(
                Bytes::copy_from_slice(hit.as_bytes()),
                s,
                HeaderValue::from_static("\"0\""),
                Duration::from_secs(1),
                0,
            )
        };
        let hit = r#"{"name":"hit","meta":{"cache":"hit","at":1}}"#;
        let stale = r#"{"name":"hit","meta":{"cache":"stale","at":1}}"#;
        let e = entry(hit, stale);
        assert!(matches!(e.stale, Stale::At(_)), "kept once");
        assert_eq!(e.stale_body(), stale.as_bytes());
        // Any other difference: the stale body is kept as rendered.
        let other = r#"{"name":"hit","meta":{"cache":"stale","at":2}}"#;
        let e = entry(hit, other);
        assert!(matches!(e.stale, Stale::Own(_)));
        assert_eq!(e.stale_body(), other.as_bytes());
        let e = entry(hit, r#"{"name":"stale","meta":{"cache":"hit","at":1}}"#);
        assert_eq!(
            e.stale_body(),
            r#"{"name":"stale","meta":{"cache":"hit","at":1}}"#.as_bytes()
        );
    }

    /// A fill's bodies as rendering each gives them.
    fn rendered_each(render: &mut RenderFn, now: Timestamp) -> (Vec<u8>, Vec<u8>, Vec<u8>, String) {
        let etag = etag_of(&render("", Timestamp::EPOCH).unwrap());
        (
            render("miss", now).unwrap(),
            render("hit", now).unwrap(),
            render("stale", now).unwrap(),
            etag.to_str().unwrap().to_owned(),
        )
    }

    #[test]
    fn a_fill_rendered_once_has_the_bodies_rendering_each_would_give() {
        let now = Timestamp::parse_rfc3339("2026-12-02T06:00:00.123Z").unwrap();
        fn meta(cache: &'static str, at: Timestamp) -> Meta {
            Meta {
                backend: "iot \"eu\"".into(),
                kind: "losant",
                fetched_at: at,
                cache,
            }
        }
        fn json(cache: &'static str, at: Timestamp) -> String {
            String::from_utf8(meta_json(&meta(cache, at)).unwrap()).unwrap()
        }
        let renders = Arc::new(AtomicU64::new(0));
        // An org: `meta` its last member. A list page: each item's `meta` too. A record whose
        // vendor part holds what the `meta` of a miss reads.
        // Each body with `META` where the answer's `meta` goes.
        let bodies = [
            (
                "org",
                r#"{"id":"a","hits":"hit","meta":META}"#.to_owned(),
                1,
            ),
            ("no other member", r#"{"meta":META}"#.to_owned(), 1),
            (
                "page",
                r#"{"items":[{"id":"a","meta":META}],"meta":META}"#.to_owned(),
                4,
            ),
            (
                "look-alike",
                format!(r#"{{"raw":{{"x":{}}},"meta":META}}"#, json("miss", now)),
                4,
            ),
        ];
        for (what, body, expected_renders) in bodies {
            let n = renders.clone();
            let mut render: Box<RenderFn> = Box::new(move |cache, at| {
                n.fetch_add(1, Ordering::Relaxed);
                Ok(body.replace("META", &json(cache, at)).into_bytes())
            });
            let (miss, hit, stale, etag) = rendered_each(&mut *render, now);
            renders.store(0, Ordering::Relaxed);
            let b = Bodies::of(&mut *render, meta, now).unwrap();
            assert_eq!(renders.load(Ordering::Relaxed), expected_renders, "{what}");
            assert_eq!(b.miss, miss, "{what}");
            assert_eq!(b.hit, hit, "{what}");
            assert_eq!(b.etag.to_str().unwrap(), etag, "{what}");
            let weight = b.stale.len();
            let e = Entry::new(b.hit, b.stale, b.etag, Duration::from_secs(1), 0);
            assert_eq!(e.stale_body(), stale, "{what}");
            // Kept once, but where the page's items differ too.
            assert_eq!(weight == 0, what != "page", "{what}");
        }
    }

    /// What the handlers render: a body built once, stamped before each render (a page stamps
    /// its items), gives the bodies a page built anew for each answer gives.
    #[test]
    fn a_stamped_page_gives_the_bodies_of_a_page_built_for_each_answer() {
        use crate::http::render::{PageBody, PlanBody, Stamped};
        let now = Timestamp::parse_rfc3339("2026-12-03T07:00:00.5Z").unwrap();
        fn meta(cache: &'static str, at: Timestamp) -> Meta {
            Meta {
                backend: "backup".into(),
                kind: "commvault",
                fetched_at: at,
                cache,
            }
        }
        fn page(meta: Meta) -> PageBody<PlanBody> {
            let plan = |i: usize| PlanBody {
                id: format!("plan-{i}"),
                name: Some(format!("hit {i}")),
                description: None,
                is_default: Some(i == 0),
                quotas: Vec::new(),
                assignees: None,
                raw: Some(serde_json::json!({ "cache": "miss", "meta": { "cache": "stale" } })),
                meta: meta.clone(),
            };
            PageBody {
                items: (0..3).map(plan).collect(),
                next_cursor: Some("next".into()),
                total: Some(7),
                meta,
            }
        }
        let mut fresh: Box<RenderFn> =
            Box::new(|cache, at| Ok(serde_json::to_vec(&page(meta(cache, at))).unwrap()));
        let (miss, hit, stale, etag) = rendered_each(&mut *fresh, now);
        let mut body = page(meta("", Timestamp::EPOCH));
        let mut stamped: Box<RenderFn> = Box::new(move |cache, at| {
            body.stamp(cache, at);
            Ok(serde_json::to_vec(&body).unwrap())
        });
        let text = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
        let b = Bodies::of(&mut *stamped, meta, now).unwrap();
        assert_eq!(text(&b.miss), text(&miss));
        assert_eq!(text(&b.hit), text(&hit));
        assert_eq!(b.etag.to_str().unwrap(), etag);
        let e = Entry::new(b.hit, b.stale, b.etag, Duration::from_secs(1), 0);
        assert_eq!(text(&e.stale_body()), text(&stale));
        // And again, in another order: a render leaves nothing of itself to the next.
        assert_eq!(text(&stamped("stale", now).unwrap()), text(&stale));
        assert_eq!(text(&stamped("miss", now).unwrap()), text(&miss));
    }

    #[test]
    fn a_class_is_its_place_in_all() {
        for (i, c) in Class::ALL.iter().enumerate() {
            assert_eq!(*c as usize, i, "{c:?}");
        }
    }

    #[test]
    fn no_cache_and_if_none_match_are_read_as_http_says() {
        let mut h = HeaderMap::new();
        assert!(!no_cache(&h));
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("max-age=0, No-Cache"),
        );
        assert!(no_cache(&h));
        let tag = etag_of(b"{\"a\":1}");
        assert_eq!(tag, etag_of(b"{\"a\":1}"));
        assert_ne!(tag, etag_of(b"{\"a\":2}"));
        assert_eq!(tag.len(), 34);
        let mut h = HeaderMap::new();
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_str(&format!("\"x\", W/{}", tag.to_str().unwrap())).unwrap(),
        );
        assert!(none_match(&h, &tag));
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(none_match(&h, &tag));
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"other\""));
        assert!(!none_match(&h, &tag));
    }
}
