//! `Idempotency-Key` on writes (docs/API.md §4).
//!
//! A write (`PATCH`, `PUT`, `POST`, `DELETE` of a `/v1` route) that carries a key is looked up,
//! scoped to its caller (the token's subject; one shared scope when auth is off), with a
//! fingerprint of its method, target, content type and body, once the caller is found still
//! granted what the path names (`403` otherwise, as without a key: a token's grants can change
//! within a record's 24 hours):
//! - a key never seen: the write runs as a task of its own (so it completes, and its outcome is
//!   recorded, even when the caller goes away) and its outcome is recorded;
//! - the same key and fingerprint, answered: the first answer (status, body, `Content-Type`,
//!   `Location`, `ETag`) with `Idempotent-Replayed: true`, and no backend call;
//! - the same key with another fingerprint: `422 idempotency_key_reused`;
//! - the same key while the first is running: `409 conflict` with `Retry-After`;
//! - the same key after an outcome nobody knows (the write's answer says `details.outcome`
//!   `unknown` or `partial`: the backend timed out or the connection broke after the write was
//!   sent, or a step of it was made; or the gateway failed, `500`): `409 conflict` with
//!   `details.outcome: "unknown"`, never sent again.
//!
//! Only answers that say what happened are recorded: 2xx, 4xx but `408` and `429` (nothing was
//! sent), and a failure after the backend made the change (`details.outcome: "applied"`). A
//! write the backend was never asked to make, or refused before making it (`501`,
//! `backend_auth_failed`, a `503`: the gateway draining or shedding load, the backend
//! unavailable, its circuit open; any `502` or `504` without `details.outcome`: a login that
//! failed, a deadline met waiting for a slot) leaves nothing: its record is dropped and a
//! retry runs.
//!
//! Records live 24 hours. The store is [`Store`]; [`MemoryStore`] keeps them in this process,
//! bounded in bytes. Over its bound, the oldest recorded answers are let go first, their
//! records kept (a few hundred bytes each): a retry is then `409 conflict` with
//! `details.outcome: "applied"`, never run again. Only when the records alone are over the
//! bound are the oldest finished ones dropped (a retry of those runs again; the log warns). A
//! record of a write still running is never dropped. A shared store (Redis) would implement the
//! same trait.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use http_body_util::BodyExt;

use crate::error::{ApiError, ErrorCode};

/// The header.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// How long a record is kept.
pub const RETENTION: Duration = Duration::from_secs(24 * 3600);

/// A recorded answer.
#[derive(Debug, Clone)]
pub enum Stored {
    /// A success: status, the headers that describe it, the body.
    Answer {
        status: StatusCode,
        headers: Vec<(header::HeaderName, HeaderValue)>,
        body: Bytes,
    },
    /// An error the gateway or the backend answered (rendered anew, with the retry's id).
    Error(Arc<ApiError>),
}

impl Stored {
    fn bytes(&self) -> usize {
        match self {
            Stored::Answer { body, headers, .. } => {
                body.len()
                    + headers
                        .iter()
                        .map(|(n, v)| n.as_str().len() + v.len())
                        .sum::<usize>()
            }
            Stored::Error(e) => {
                e.message.len()
                    + 256
                    + e.details
                        .iter()
                        .map(|(k, v)| k.len() + v.to_string().len())
                        .sum::<usize>()
            }
        }
    }
}

/// What a write's key says.
#[derive(Debug)]
pub enum Begin {
    /// Never seen: this request runs the write, and must [`Store::finish`] it.
    Run,
    Replay(Stored),
    /// Seen with another fingerprint.
    Reused,
    InFlight,
    Unknown,
    /// Made, its answer let go to keep the store within its bound.
    Applied,
}

/// How a write ended.
#[derive(Debug)]
pub enum Finish {
    Answered(Stored),
    /// Sent; what happened is not known.
    Unknown,
    /// Nothing was sent: forget the key.
    NotSent,
}

/// Where records live.
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Looks a key up, recording it as running when it is new.
    fn begin(&self, scope: &str, key: &str, fingerprint: u128) -> Begin;
    /// Records how the write that [`Begin::Run`] started ended.
    fn finish(&self, scope: &str, key: &str, fingerprint: u128, how: Finish);
}

#[derive(Debug)]
enum State {
    Running,
    Done(Stored),
    Unknown,
    /// Done, its answer let go (see the module doc).
    Applied,
}

#[derive(Debug)]
struct Record {
    fingerprint: u128,
    state: State,
    at: Instant,
    bytes: usize,
    /// Which finish of the key this is (its place in `order`).
    seq: u64,
}

/// Bytes counted for a record besides its answer.
const RECORD_OVERHEAD: usize = 160;

/// The in-process store.
#[derive(Debug)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
    max_bytes: usize,
}

/// A record's key: the caller's scope and the key.
type Scoped = (Arc<str>, Arc<str>);

#[derive(Debug, Default)]
struct Inner {
    records: HashMap<Scoped, Record>,
    /// Keys in the order they were finished, oldest first (for eviction and expiry), with
    /// the finish they stand for.
    order: VecDeque<(Scoped, u64)>,
    bytes: usize,
    seq: u64,
    /// How many of `order`'s first entries have had their answers let go (or need not).
    let_go: usize,
    /// Answers let go and records dropped before their 24 hours since the last warning, and
    /// when it was given.
    let_go_early: u64,
    forgotten_early: u64,
    warned: Option<Instant>,
}

/// The least time between two warnings of records forgotten early.
const WARN_EVERY: Duration = Duration::from_secs(60);

impl MemoryStore {
    pub fn new(max_bytes: usize) -> MemoryStore {
        MemoryStore {
            inner: Mutex::new(Inner::default()),
            max_bytes,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }
}

impl Inner {
    /// Drops the first entry of `order`, and its record if it is still the entry's and not
    /// running again; the record's answer, if it was dropped before its time.
    fn pop_front(&mut self) -> Option<bool> {
        let (k, seq) = self.order.pop_front()?;
        self.let_go = self.let_go.saturating_sub(1);
        let current = self.records.get(&k).filter(|r| r.seq == seq);
        // A record finished again since, or running again, is not this entry's to drop.
        if let Some(r) = current
            && !matches!(r.state, State::Running)
        {
            let early = r.at.elapsed() <= RETENTION;
            self.bytes -= r.bytes;
            self.records.remove(&k);
            return Some(early);
        }
        Some(false)
    }

    /// Drops expired records; then, while over `max`, lets the oldest answers go; then drops
    /// the oldest finished records.
    fn trim(&mut self, max: usize) {
        while let Some((k, seq)) = self.order.front() {
            let expired = self
                .records
                .get(k)
                .filter(|r| r.seq == *seq)
                .is_none_or(|r| r.at.elapsed() > RETENTION);
            if !expired {
                break;
            }
            self.pop_front();
        }
        while self.bytes > max && self.let_go < self.order.len() {
            let (k, seq) = &self.order[self.let_go];
            self.let_go += 1;
            if let Some(r) = self.records.get_mut(k).filter(|r| r.seq == *seq)
                && matches!(r.state, State::Done(Stored::Answer { .. }))
            {
                let kept = RECORD_OVERHEAD + k.0.len() + k.1.len();
                self.let_go_early += 1;
                self.bytes -= r.bytes - kept;
                r.bytes = kept;
                r.state = State::Applied;
            }
        }
        while self.bytes > max {
            match self.pop_front() {
                Some(early) => self.forgotten_early += u64::from(early),
                None => break,
            }
        }
        // A retry of a write forgotten early would run it again, and one whose answer was let
        // go gets a 409 in its place: the operator should know, in a warning a minute at most.
        let early = self.let_go_early + self.forgotten_early;
        if early > 0 && self.warned.is_none_or(|w| w.elapsed() >= WARN_EVERY) {
            tracing::warn!(
                answers_let_go = self.let_go_early,
                records_forgotten = self.forgotten_early,
                "the Idempotency-Key store is full (server.idempotency_max_bytes): answers were \
                 let go before 24 hours (a retry is answered 409, outcome applied), and records \
                 forgotten (a retry runs again)"
            );
            self.let_go_early = 0;
            self.forgotten_early = 0;
            self.warned = Some(Instant::now());
        }
    }
}

impl Store for MemoryStore {
    fn begin(&self, scope: &str, key: &str, fingerprint: u128) -> Begin {
        let mut inner = self.lock();
        inner.trim(self.max_bytes);
        let k: Scoped = (Arc::from(scope), Arc::from(key));
        match inner.records.get(&k) {
            Some(r) if r.at.elapsed() <= RETENTION || matches!(r.state, State::Running) => {
                if r.fingerprint != fingerprint {
                    return Begin::Reused;
                }
                return match &r.state {
                    State::Running => Begin::InFlight,
                    State::Done(s) => Begin::Replay(s.clone()),
                    State::Unknown => Begin::Unknown,
                    State::Applied => Begin::Applied,
                };
            }
            _ => {}
        }
        let bytes = RECORD_OVERHEAD + scope.len() + key.len();
        if let Some(old) = inner.records.insert(
            k,
            Record {
                fingerprint,
                state: State::Running,
                at: Instant::now(),
                bytes,
                seq: 0,
            },
        ) {
            inner.bytes -= old.bytes;
        }
        inner.bytes += bytes;
        Begin::Run
    }

    fn finish(&self, scope: &str, key: &str, fingerprint: u128, how: Finish) {
        let mut inner = self.lock();
        let k: Scoped = (Arc::from(scope), Arc::from(key));
        let Some(r) = inner.records.get_mut(&k) else {
            return;
        };
        if r.fingerprint != fingerprint || !matches!(r.state, State::Running) {
            return;
        }
        let before = r.bytes;
        match how {
            Finish::NotSent => {
                inner.records.remove(&k);
                inner.bytes -= before;
                return;
            }
            Finish::Unknown => r.state = State::Unknown,
            Finish::Answered(s) => {
                r.bytes = before + s.bytes();
                r.state = State::Done(s);
            }
        }
        r.at = Instant::now();
        let after = r.bytes;
        inner.seq += 1;
        let seq = inner.seq;
        if let Some(r) = inner.records.get_mut(&k) {
            r.seq = seq;
        }
        inner.bytes = inner.bytes - before + after;
        inner.order.push_back((k, seq));
        inner.trim(self.max_bytes);
    }
}

/// A request's key: `None` without one; `400` for one that is not 1–255 visible ASCII, or for
/// more than one (which would be the write's key is not for the gateway to guess).
pub fn key_of(headers: &HeaderMap) -> Option<Result<String, ApiError>> {
    let mut all = headers.get_all(IDEMPOTENCY_KEY).iter();
    let v = all.next()?;
    if all.next().is_some() {
        return Some(Err(ApiError::bad_request(
            "a request carries one `Idempotency-Key`, not several",
        )));
    }
    let b = v.as_bytes();
    if (1..=255).contains(&b.len()) && b.iter().all(|c| (0x21..=0x7e).contains(c)) {
        Some(Ok(String::from_utf8_lossy(b).into_owned()))
    } else {
        Some(Err(ApiError::bad_request(
            "`Idempotency-Key` must be 1–255 visible ASCII characters",
        )))
    }
}

/// 128 bits identifying a write: its method, target, content type and body.
fn fingerprint(parts: &http::request::Parts, body: &[u8]) -> u128 {
    crate::cache::digest128((0x6964_656d, 0x706f_7465), |h| {
        parts.method.as_str().hash(h);
        parts.uri.path().hash(h);
        parts.uri.query().unwrap_or("").hash(h);
        parts
            .headers
            .get(header::CONTENT_TYPE)
            .map(|v| v.as_bytes())
            .unwrap_or(b"")
            .hash(h);
        body.hash(h);
    })
}

/// Runs a write with a key (see the module doc). `scope` is the caller's subject.
pub async fn run(
    app: &Arc<crate::http::App>,
    scope: Arc<str>,
    key: String,
    req: Request,
    next: Next,
) -> Response {
    let store = app.idempotency.clone();
    let (mut parts, body) = req.into_parts();
    if let Err(e) = crate::http::extract::path_granted(app, &mut parts).await {
        return e.into_response();
    }
    let body = match crate::http::body::read_body(body, app.body_limit, app.body_timeout).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let fp = fingerprint(&parts, &body);
    match store.begin(&scope, &key, fp) {
        Begin::Run => {}
        Begin::Replay(s) => return replay(s),
        Begin::Reused => {
            return ApiError::new(
                ErrorCode::IdempotencyKeyReused,
                "this Idempotency-Key was used with another request",
            )
            .into_response();
        }
        Begin::InFlight => {
            return ApiError::new(
                ErrorCode::Conflict,
                "the first request with this Idempotency-Key is still running",
            )
            .with_detail("outcome", "in_flight")
            .with_retry_after(1)
            .into_response();
        }
        Begin::Unknown => {
            return ApiError::new(
                ErrorCode::Conflict,
                "the first request with this Idempotency-Key was sent and its outcome is \
                 unknown; it is not sent again",
            )
            .with_detail("outcome", "unknown")
            .into_response();
        }
        Begin::Applied => {
            return ApiError::new(
                ErrorCode::Conflict,
                "the first request with this Idempotency-Key was made; its answer is no longer \
                 held (the gateway's Idempotency-Key store is full); it is not sent again",
            )
            .with_detail("outcome", "applied")
            .into_response();
        }
    }
    let req = Request::from_parts(parts, Body::from(body));
    // A task of its own: the write completes, and its outcome is recorded, whatever becomes of
    // this caller's connection.
    let task = app.writes.spawn(async move {
        let resp = next.run(req).await;
        let (how, resp) = outcome(resp).await;
        store.finish(&scope, &key, fp, how);
        resp
    });
    task.await
        .unwrap_or_else(|_| ApiError::internal().into_response())
}

/// What a write's answer says happened, and the answer to send.
async fn outcome(resp: Response) -> (Finish, Response) {
    let status = resp.status();
    if let Some(err) = resp.extensions().get::<Arc<ApiError>>().cloned() {
        let how = match (err.details.get("outcome").and_then(|o| o.as_str()), status) {
            // The change was made and the answer says so: it is the answer, every time.
            (Some("applied"), _) => Finish::Answered(Stored::Error(err)),
            (Some(_), _) => Finish::Unknown,
            // Nothing was sent: the body too slow, the caller over its rate.
            (None, s) if matches!(s.as_u16(), 408 | 429) => Finish::NotSent,
            (None, s) if s.is_client_error() => Finish::Answered(Stored::Error(err)),
            // A gateway failure (500) may have come after the backend was asked.
            (None, StatusCode::INTERNAL_SERVER_ERROR) => Finish::Unknown,
            // A failure that says no outcome, the write's request never put on its way or
            // refused (the handlers mark any other `unknown`): the backend has no such
            // operation (501), refused the gateway's credentials or a login failed (502), was
            // full, open or unavailable (503), or a deadline met waiting for a slot (504).
            (None, _) => Finish::NotSent,
        };
        return (how, resp);
    }
    if !status.is_success() {
        return (Finish::Unknown, resp);
    }
    let (parts, body) = resp.into_parts();
    let Ok(collected) = body.collect().await else {
        return (Finish::Unknown, ApiError::internal().into_response());
    };
    let bytes = collected.to_bytes();
    let headers = [header::CONTENT_TYPE, header::LOCATION, header::ETAG]
        .into_iter()
        .filter_map(|n| parts.headers.get(&n).map(|v| (n, v.clone())))
        .collect();
    let stored = Stored::Answer {
        status,
        headers,
        body: bytes.clone(),
    };
    (
        Finish::Answered(stored),
        Response::from_parts(parts, Body::from(bytes)),
    )
}

/// The recorded answer again, marked replayed.
fn replay(s: Stored) -> Response {
    let mut resp = match s {
        Stored::Answer {
            status,
            headers,
            body,
        } => {
            let mut r = Response::new(Body::from(body));
            *r.status_mut() = status;
            for (n, v) in headers {
                r.headers_mut().insert(n, v);
            }
            r
        }
        Stored::Error(e) => (*e).clone().into_response(),
    };
    resp.headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(body: &str) -> Finish {
        Finish::Answered(Stored::Answer {
            status: StatusCode::CREATED,
            headers: Vec::new(),
            body: Bytes::from(body.to_owned()),
        })
    }

    #[test]
    fn the_states_of_a_key() {
        let s = MemoryStore::new(1 << 20);
        assert!(matches!(s.begin("alice", "k1", 1), Begin::Run));
        assert!(matches!(s.begin("alice", "k1", 1), Begin::InFlight));
        assert!(matches!(s.begin("alice", "k1", 2), Begin::Reused));
        // Scoped per caller.
        assert!(matches!(s.begin("bob", "k1", 2), Begin::Run));
        s.finish("alice", "k1", 1, answer("first"));
        match s.begin("alice", "k1", 1) {
            Begin::Replay(Stored::Answer { body, .. }) => assert_eq!(body, "first"),
            other => panic!("{other:?}"),
        }
        s.finish("bob", "k1", 2, Finish::Unknown);
        assert!(matches!(s.begin("bob", "k1", 2), Begin::Unknown));
        assert!(matches!(s.begin("alice", "k2", 3), Begin::Run));
        s.finish("alice", "k2", 3, Finish::NotSent);
        assert!(matches!(s.begin("alice", "k2", 3), Begin::Run));
    }

    #[tokio::test]
    async fn a_failed_write_is_replayed_forgotten_or_remembered_as_unknown() {
        use orgway_core::BackendError;
        let from = |e: BackendError| ApiError::from_backend("b", e);
        let cases = [
            // The change was made: its answer is the answer.
            (
                from(BackendError::unavailable("x").after_change("b")),
                "answered",
            ),
            // Nothing was asked of the backend, or it said no.
            (from(BackendError::unavailable("x")), "not sent"),
            (from(BackendError::auth_rejected("x")), "not sent"),
            (ApiError::unsupported("x", vec![]), "not sent"),
            (from(BackendError::rate_limited("x", None)), "not sent"),
            (from(BackendError::not_found("x")), "answered"),
            // A backend failure without an outcome: the handlers found the write's request
            // never left (a login failed, a deadline met waiting for a slot).
            (from(BackendError::timeout("x")), "not sent"),
            (from(BackendError::upstream("x")), "not sent"),
            // It may have reached the backend, unanswered.
            (
                from(BackendError::timeout("x")).with_detail("outcome", "unknown"),
                "unknown",
            ),
            (ApiError::internal(), "unknown"),
        ];
        for (e, expected) in cases {
            let what = format!("{} {:?}", e.code.as_str(), e.details);
            let (how, _) = outcome(e.into_response()).await;
            let got = match how {
                Finish::Answered(Stored::Error(_)) => "answered",
                Finish::Answered(_) => "answered with a body",
                Finish::NotSent => "not sent",
                Finish::Unknown => "unknown",
            };
            assert_eq!(got, expected, "{what}");
        }
    }

    #[test]
    fn the_store_is_bounded_and_never_drops_a_running_write() {
        let s = MemoryStore::new(64 * 1024);
        assert!(matches!(s.begin("c", "running", 9), Begin::Run));
        // 200 answers of 1 KiB, about four times the store.
        for i in 0..200 {
            let k = format!("k{i}");
            assert!(matches!(s.begin("c", &k, i), Begin::Run));
            s.finish("c", &k, i, answer(&"x".repeat(1024)));
        }
        assert!(s.bytes() <= 64 * 1024, "{}", s.bytes());
        assert!(matches!(s.begin("c", "running", 9), Begin::InFlight));
        // The newest answers are still there.
        assert!(matches!(s.begin("c", "k199", 199), Begin::Replay(_)));
        // The oldest answers were let go, their records kept: never run again.
        assert!(matches!(s.begin("c", "k0", 0), Begin::Applied));
        assert!(matches!(s.begin("c", "k0", 1), Begin::Reused));
        {
            let inner = s.lock();
            assert!(inner.let_go_early > 150, "{}", inner.let_go_early);
            assert_eq!(inner.forgotten_early, 0, "no record forgotten");
        }
        // One answer larger than the whole store: its record stays.
        assert!(matches!(s.begin("c", "huge", 7), Begin::Run));
        s.finish("c", "huge", 7, answer(&"x".repeat(128 * 1024)));
        assert!(s.bytes() <= 64 * 1024, "{}", s.bytes());
        assert!(matches!(s.begin("c", "huge", 7), Begin::Applied));
        // Records alone over the bound: the oldest are forgotten before their time, a warning
        // says so at the first, and the rest are counted for the next, a minute later.
        for i in 0..1000 {
            let k = format!("{i:0>200}");
            assert!(matches!(s.begin("c", &k, i), Begin::Run));
            s.finish("c", &k, i, Finish::Unknown);
        }
        assert!(s.bytes() <= 64 * 1024, "{}", s.bytes());
        assert!(matches!(s.begin("c", "k0", 0), Begin::Run));
        assert!(matches!(s.begin("c", "running", 9), Begin::InFlight));
        let inner = s.lock();
        assert!(inner.warned.is_some());
        assert!(inner.forgotten_early > 700, "{}", inner.forgotten_early);
    }

    #[test]
    fn keys_are_visible_ascii_up_to_255() {
        let mut h = HeaderMap::new();
        assert!(key_of(&h).is_none());
        h.insert(IDEMPOTENCY_KEY, HeaderValue::from_static("order-42"));
        assert_eq!(key_of(&h).unwrap().unwrap(), "order-42");
        h.append(IDEMPOTENCY_KEY, HeaderValue::from_static("order-43"));
        assert!(
            key_of(&h)
                .unwrap()
                .unwrap_err()
                .message
                .contains("not several")
        );
        h.insert(IDEMPOTENCY_KEY, HeaderValue::from_static("has space"));
        assert!(key_of(&h).unwrap().is_err());
        h.insert(
            IDEMPOTENCY_KEY,
            HeaderValue::from_str(&"k".repeat(256)).unwrap(),
        );
        assert!(key_of(&h).unwrap().is_err());
    }
}
