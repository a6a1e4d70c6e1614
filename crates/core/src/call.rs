//! The plumbing every adapter needs for one vendor request: a [`Call`] (method, path, query,
//! headers, body), [`send`] to put it on the wire through the gateway's shared client and get an
//! [`Answer`] back, and [`decode_json`] / [`from_value`] to read an answer into wire types with
//! a classified error when it does not parse.
//!
//! What is a vendor's own stays in its adapter: which headers it wants (authentication, API
//! versions), fixed query parameters, and how a non-2xx status or an error body is classified.
//! Nothing here retries, caches or needs an async runtime: [`send`] only awaits the
//! [`Transport`](crate::Transport) behind the [`CallContext`].

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue, IntoHeaderName};
use http::{Method, Request};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::de::DeserializeOwned;

use crate::backend::{BaseUrl, CallContext};
use crate::error::BackendError;

/// Characters escaped in a path segment: everything but unreserved characters (RFC 3986 §2.3).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes one path segment: everything but ASCII letters, digits and `-._~`, so a `/`,
/// `?`, `#` or `%` in an id can never change the path it is put in.
pub fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_segment(&mut out, s);
    out
}

/// Appends `s` to `out` as `application/x-www-form-urlencoded` writes it, byte for byte what
/// the `form_urlencoded` crate's serializer writes: ASCII letters, digits and `*-._` as they
/// are, a space as `+`, every other byte as `%XX`. (Written here because that serializer
/// hands out one piece per run of plain bytes, which for a comma list such as Losant's
/// `summaryInclude` cost more than the rest of building the request.)
fn push_form(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let bytes = s.as_bytes();
    // Runs of plain bytes are copied whole.
    let mut plain_from = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if matches!(b, b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_') {
            continue;
        }
        out.extend_from_slice(&bytes[plain_from..i]);
        if b == b' ' {
            out.push(b'+');
        } else {
            out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]]);
        }
        plain_from = i + 1;
    }
    out.extend_from_slice(&bytes[plain_from..]);
}

/// Appends one path segment to `out`, percent-encoded as by [`segment`].
pub fn push_segment(out: &mut String, s: &str) {
    out.extend(utf8_percent_encode(s, SEGMENT));
}

/// One request to a vendor API, before it is sent.
///
/// Its `Debug` never shows the body (a login body carries a password), only its content type and
/// length, and shows headers marked sensitive (see [`Call::sensitive_header`]) as `Sensitive`.
#[derive(Clone)]
pub struct Call {
    method: Method,
    path: String,
    query: Vec<(Cow<'static, str>, String)>,
    headers: HeaderMap,
    body: Option<(HeaderValue, Bytes)>,
    credential_exchange: bool,
}

impl fmt::Debug for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &self.query)
            // `HeaderValue`'s own `Debug` prints a sensitive value as `Sensitive`.
            .field("headers", &self.headers)
            .field("content_type", &self.body.as_ref().map(|(ct, _)| ct))
            .field("body_bytes", &self.body.as_ref().map(|(_, b)| b.len()))
            .finish()
    }
}

impl Call {
    /// A request of `method` to `path`, below the backend's base URL: `/orgs/{id}`, its
    /// segments already encoded (see [`segment`]). A missing leading `/` is supplied.
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Call {
            method,
            path: path.into(),
            query: Vec::new(),
            headers: HeaderMap::new(),
            body: None,
            credential_exchange: false,
        }
    }

    /// Marks a request that obtains or renews the gateway's own credentials (a login, a token
    /// grant): whatever its method, it is not the change a write asks for (see
    /// [`CallContext::change_sent`]).
    pub fn credential_exchange(mut self) -> Self {
        self.credential_exchange = true;
        self
    }

    /// A `GET` of `path`.
    pub fn get(path: impl Into<String>) -> Self {
        Self::new(Method::GET, path)
    }

    /// Adds a query parameter; parameters are sent in the order they were added.
    pub fn param(mut self, name: impl Into<Cow<'static, str>>, value: impl Into<String>) -> Self {
        self.query.push((name.into(), value.into()));
        self
    }

    /// Adds query parameters, in order.
    pub fn params<K, V>(mut self, pairs: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<Cow<'static, str>>,
        V: Into<String>,
    {
        self.query
            .extend(pairs.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// Adds a header. Headers are sent in the order they were added, before `content-type`.
    pub fn header(mut self, name: impl IntoHeaderName, value: HeaderValue) -> Self {
        self.headers.append(name, value);
        self
    }

    /// Adds a header that carries a credential (`authorization`, `authtoken`): it is marked
    /// sensitive, so neither this call's `Debug` nor the `http` types print it, and HTTP/2
    /// encoders never index it.
    pub fn sensitive_header(self, name: impl IntoHeaderName, mut value: HeaderValue) -> Self {
        value.set_sensitive(true);
        self.header(name, value)
    }

    /// Sets the body and its content type, sent as the last header.
    pub fn body(mut self, content_type: HeaderValue, body: impl Into<Bytes>) -> Self {
        self.body = Some((content_type, body.into()));
        self
    }

    /// Sets a JSON body (`content-type: application/json`).
    pub fn json(self, body: impl Into<Bytes>) -> Self {
        self.body(HeaderValue::from_static("application/json"), body)
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The path below the base URL, as given.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The query parameters, in order.
    pub fn query(&self) -> &[(Cow<'static, str>, String)] {
        &self.query
    }

    /// The headers added so far (without `content-type`, which comes with the body).
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The content type and bytes of the body, if there is one.
    pub fn body_bytes(&self) -> Option<(&HeaderValue, &Bytes)> {
        self.body.as_ref().map(|(ct, b)| (ct, b))
    }

    /// The full URL: the base URL, the path, and `?` with the query form-urlencoded (see
    /// [`push_form`]) when there is a query.
    pub fn url(&self, base: &BaseUrl) -> String {
        let url = if self.path.starts_with('/') {
            base.join(&self.path)
        } else {
            let mut u = base.join("/");
            u.push_str(&self.path);
            u
        };
        let mut url = url.into_bytes();
        // Room for the whole query at its longest (each byte as `%XX`), made once.
        url.reserve(
            self.query
                .iter()
                .map(|(k, v)| 2 + 3 * (k.len() + v.len()))
                .sum(),
        );
        let mut sep = b'?';
        for (k, v) in &self.query {
            url.push(sep);
            push_form(&mut url, k);
            url.push(b'=');
            push_form(&mut url, v);
            sep = b'&';
        }
        // Only ASCII was added to what was a `String`: this is never lossy.
        match String::from_utf8(url) {
            Ok(url) => url,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        }
    }

    /// The `http::Request` of this call below `base`; `backend` names the backend in the error
    /// when the request cannot be built (a non-retryable upstream failure).
    pub fn into_request(
        self,
        backend: &str,
        base: &BaseUrl,
    ) -> Result<Request<Bytes>, BackendError> {
        let url = self.url(base);
        let (content_type, body) = match self.body {
            Some((ct, b)) => (Some(ct), b),
            None => (None, Bytes::new()),
        };
        let mut req = Request::builder()
            .method(self.method)
            .uri(url)
            .body(body)
            .map_err(|e| {
                BackendError::upstream(format!("{backend}: could not build the request: {e}"))
                    .retryable(false)
            })?;
        *req.headers_mut() = self.headers;
        if let Some(ct) = content_type {
            req.headers_mut().append(header::CONTENT_TYPE, ct);
        }
        if self.credential_exchange {
            req.extensions_mut()
                .insert(crate::backend::CredentialExchange);
        }
        Ok(req)
    }
}

/// A vendor's answer, whatever its status: status, content type, headers, whole body.
///
/// Its `Debug` leaves the body out and shows only the headers' names: a login answer carries a
/// token, in its body or in a `Set-Cookie`.
#[derive(Clone)]
pub struct Answer {
    pub status: u16,
    /// Every header of the answer (its content type, a session cookie's `Set-Cookie`, …).
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl fmt::Debug for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.keys().map(|k| k.as_str()).collect();
        f.debug_struct("Answer")
            .field("status", &self.status)
            .field("headers", &names)
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

/// A cookie a vendor set (`Set-Cookie`), as a session flow needs it.
#[derive(Clone, PartialEq, Eq)]
pub struct SetCookie {
    pub value: String,
    /// How long it lasts, from `Max-Age` or else `Expires` (RFC 6265 §5.2); `None` for a cookie
    /// that states neither.
    pub lifetime: Option<std::time::Duration>,
}

impl fmt::Debug for SetCookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SetCookie")
            .field("value", &"***")
            .field("lifetime", &self.lifetime)
            .finish()
    }
}

impl Answer {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The `Content-Type` header, when it is text.
    pub fn content_type(&self) -> Option<&str> {
        self.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
    }

    /// The `Retry-After` header, read as seconds or as an HTTP date measured from `now`.
    pub fn retry_after(&self, now: crate::Timestamp) -> Option<std::time::Duration> {
        self.headers
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| retry_after(v, now))
    }

    /// The cookie called `name` that this answer sets, if any (the last one, when it is set
    /// twice). `now` measures an `Expires` date.
    pub fn set_cookie(&self, name: &str, now: crate::Timestamp) -> Option<SetCookie> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| {
                let mut parts = v.split(';');
                let (n, value) = parts.next()?.trim().split_once('=')?;
                if n.trim() != name {
                    return None;
                }
                let (mut max_age, mut expires) = (None, None);
                for attr in parts {
                    let (k, v) = attr.trim().split_once('=').unwrap_or((attr.trim(), ""));
                    if k.eq_ignore_ascii_case("max-age") {
                        max_age = v.trim().parse::<i64>().ok();
                    } else if k.eq_ignore_ascii_case("expires") {
                        expires = retry_after(v, now);
                    }
                }
                let lifetime = match max_age {
                    Some(secs) => Some(std::time::Duration::from_secs(secs.max(0) as u64)),
                    None => expires,
                };
                Some(SetCookie {
                    value: value.trim().trim_matches('"').to_owned(),
                    lifetime,
                })
            })
            .next_back()
    }
}

/// Sends `call` to the backend named `backend` at `base` through the gateway's shared client.
///
/// Every HTTP status is an `Ok` answer, for the adapter to classify. Only a request that cannot
/// be built (a non-retryable upstream error) and a transport failure
/// ([`TransportError::into_backend_error`](crate::TransportError::into_backend_error)) are
/// errors.
pub async fn send(
    cx: &CallContext,
    backend: &str,
    base: &BaseUrl,
    call: Call,
) -> Result<Answer, BackendError> {
    let req = call.into_request(backend, base)?;
    let resp = cx
        .send(req)
        .await
        .map_err(|e| e.into_backend_error(backend))?;
    let (parts, body) = resp.into_parts();
    let answer = Answer {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body,
    };
    // Every dialect answers in JSON or XML: a 2xx HTML page is a web server's (a proxy's
    // maintenance page, a login portal), not the vendor's answer, and says nothing of what
    // the vendor did. Read as a success, a write would be acknowledged that may not have been
    // made.
    if answer.is_success() && looks_like_html(answer.content_type(), &answer.body) {
        let title = html_title(&answer.body)
            .map(|t| format!(" ({t})"))
            .unwrap_or_default();
        return Err(BackendError::bad_response(format!(
            "{backend} sent an HTML page instead of an answer{title}"
        ))
        .with_status(answer.status));
    }
    Ok(answer)
}

/// The `<title>` of an HTML page, which is where web servers put the error's name.
pub fn html_title(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    // ASCII case folding keeps byte offsets, so they index `text` too.
    let lower = text.to_ascii_lowercase();
    let start = lower.find("<title>")? + "<title>".len();
    let end = start + lower[start..].find("</title>")?;
    Some(crate::text::excerpt(&text[start..end], 300))
}

/// Whether a body is an HTML page (a web server's error page) rather than an API answer.
///
/// Read on every answer, so it allocates nothing.
pub fn looks_like_html(content_type: Option<&str>, body: &[u8]) -> bool {
    if content_type.is_some_and(|c| {
        c.as_bytes()
            .windows(4)
            .any(|w| w.eq_ignore_ascii_case(b"html"))
    }) {
        return true;
    }
    let start = body.trim_ascii_start();
    let starts = |p: &[u8]| {
        start
            .get(..p.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(p))
    };
    starts(b"<!doctype html") || starts(b"<html")
}

/// Reads a `Retry-After` value (RFC 9110 §10.2.3): a number of seconds, or an HTTP date
/// (`Sun, 06 Nov 1994 08:49:37 GMT`) measured from `now`. A date in the past is zero.
pub fn retry_after(value: &str, now: crate::Timestamp) -> Option<std::time::Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(std::time::Duration::from_secs(
            value.parse().unwrap_or(u64::MAX),
        ));
    }
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let at = time::PrimitiveDateTime::parse(value, format)
        .ok()?
        .assume_utc();
    let ms = (at.unix_timestamp_nanos() / 1_000_000) as i64 - now.unix_millis();
    Some(std::time::Duration::from_millis(ms.max(0) as u64))
}

impl Answer {
    /// A 429 as the rate limit it is (`ErrorKind::RateLimited` with the vendor's
    /// `Retry-After`), for every dialect alike; `None` for any other answer.
    pub fn rate_limit(&self, backend: &str) -> Option<BackendError> {
        self.rate_limit_at(backend, crate::Timestamp::now())
    }

    /// [`Answer::rate_limit`], an HTTP-date `Retry-After` measured from `now`.
    pub fn rate_limit_at(&self, backend: &str, now: crate::Timestamp) -> Option<BackendError> {
        (self.status == 429).then(|| {
            BackendError::rate_limited(
                format!("{backend} is rate limiting the gateway"),
                self.retry_after(now),
            )
            .with_status(429)
        })
    }

    /// The error of an answer that is not a 2xx, for every dialect alike around its own
    /// reading: a 429 is the rate limit it is ([`Answer::rate_limit`]); any other is what
    /// `classify` (the dialect's reading of the status and body) makes of it, with the
    /// `Retry-After` of a 503 it reads as the backend unavailable (a vendor down for
    /// maintenance says when to come back: a retry sooner is not made, and callers are told).
    pub fn failure(&self, backend: &str, classify: impl FnOnce() -> BackendError) -> BackendError {
        match self.rate_limit(backend) {
            Some(limited) => limited,
            None => self.unavailable_until_at(classify(), crate::Timestamp::now()),
        }
    }

    /// `e` with the `Retry-After` of this answer when it is a 503 that `e` reads as the backend
    /// unavailable, an HTTP date measured from `now`.
    fn unavailable_until_at(&self, mut e: BackendError, now: crate::Timestamp) -> BackendError {
        if self.status == 503 && e.kind == crate::error::ErrorKind::Unavailable {
            // At most an hour, as callers are told.
            let hour = std::time::Duration::from_secs(3600);
            e.retry_after = self.retry_after(now).map(|d| d.min(hour)).or(e.retry_after);
        }
        e
    }
}

fn unparseable(backend: &str, what: &str, e: serde_json::Error) -> BackendError {
    BackendError::bad_response(format!("{backend} sent {what} that does not parse: {e}"))
}

/// Parses a JSON body into its wire type and, when `include_raw`, also into a raw value (the
/// backend's own record for `include=raw`).
///
/// `what` names the thing with its article, as the message says it: `backend` "sent `what`
/// that does not parse" (`an organization`, `a device count`).
pub fn decode_json<T: DeserializeOwned>(
    backend: &str,
    what: &str,
    body: &[u8],
    include_raw: bool,
) -> Result<(T, Option<serde_json::Value>), BackendError> {
    // The body is checked to be UTF-8 once, as a whole, and parsed as text: parsing bytes
    // would check each of its strings (every key included) on its own, which costs a vendor
    // record of a few kB more than the check of all of it at once.
    let text = std::str::from_utf8(body).map_err(|e| {
        BackendError::bad_response(format!(
            "{backend} sent {what} that does not parse: it is not UTF-8 (byte {})",
            e.valid_up_to()
        ))
    })?;
    let parse_typed = || serde_json::from_str::<T>(text).map_err(|e| unparseable(backend, what, e));
    if !include_raw {
        return Ok((parse_typed()?, None));
    }
    // The text is parsed once, into the raw value, and the wire type read from that value:
    // about a third less work than parsing the text twice. Should the value not read, the text
    // is parsed as well, for the error with its line and column (or the wire type, where only
    // the text reads). A key given twice is read as the value holds it: its last.
    let raw: serde_json::Value =
        serde_json::from_str(text).map_err(|e| unparseable(backend, what, e))?;
    let typed = match T::deserialize(&raw) {
        Ok(typed) => typed,
        Err(_) => parse_typed()?,
    };
    Ok((typed, Some(raw)))
}

/// Reads an already parsed JSON value into a wire type; `what` as in [`decode_json`].
pub fn from_value<T: DeserializeOwned>(
    backend: &str,
    what: &str,
    v: &serde_json::Value,
) -> Result<T, BackendError> {
    T::deserialize(v).map_err(|e| unparseable(backend, what, e))
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[test]
    fn html_pages_are_told_from_api_answers() {
        let html = |ct: Option<&str>, body: &str| looks_like_html(ct, body.as_bytes());
        assert!(html(Some("text/html; charset=utf-8"), "{}"));
        assert!(html(Some("application/xhtml+xml"), ""));
        assert!(html(None, "\n  <!DOCTYPE HTML PUBLIC>"));
        assert!(html(None, "<Html><title>x</title></html>"));
        assert!(!html(Some("application/json"), "{\"html\": true}"));
        assert!(!html(None, "<?xml version=\"1.0\"?><App_GetResponse/>"));
        assert!(!html(None, "<htm"));
        assert!(!html(None, ""));
        assert_eq!(
            html_title(b"<html><head><TITLE>502 Bad Gateway</TITLE></head></html>").as_deref(),
            Some("502 Bad Gateway")
        );
    }
    use crate::error::ErrorKind;
    use crate::transport::{BoxFuture, Transport, TransportError};

    fn base() -> BaseUrl {
        BaseUrl::parse("http://vendor.test/api/").unwrap()
    }

    #[test]
    fn segments() {
        assert_eq!(segment("abc-_.~09"), "abc-_.~09");
        assert_eq!(segment("a/b?c#d%e f"), "a%2Fb%3Fc%23d%25e%20f");
        assert_eq!(segment("é"), "%C3%A9");
        let mut p = String::from("/orgs/");
        push_segment(&mut p, "a/b c");
        assert_eq!(p, "/orgs/a%2Fb%20c");
    }

    #[test]
    fn queries_are_written_as_form_urlencoded_writes_them() {
        let values = [
            "",
            "plain",
            "apiTokenCount,appCount,deviceCount",
            "x y&z=1+2",
            "*-._~!$'()/?:@#[]%",
            "é ü 日本",
            "\u{0}\t\n\u{7f}",
        ];
        for v in values {
            let mut ours = Vec::new();
            push_form(&mut ours, v);
            let theirs: String = form_urlencoded::byte_serialize(v.as_bytes()).collect();
            assert_eq!(ours, theirs.as_bytes(), "{v:?}");
        }
        // Every character of one or two bytes, and some of three and four.
        let wide = ['\u{800}', '€', '\u{ffff}', '\u{10000}', '😀', '\u{10ffff}'];
        for c in (0u32..0x800).filter_map(char::from_u32).chain(wide) {
            let v = c.to_string();
            let mut ours = Vec::new();
            push_form(&mut ours, &v);
            let theirs: String = form_urlencoded::byte_serialize(v.as_bytes()).collect();
            assert_eq!(ours, theirs.as_bytes(), "{c:?}");
        }
    }

    #[test]
    fn urls() {
        let c = Call::get("/orgs/7");
        assert_eq!(c.url(&base()), "http://vendor.test/api/orgs/7");
        let c = Call::get("Organization")
            .param("z", "1")
            .params([("a", "x y"), ("b", "&=")]);
        // The `&` right after the `?` is what the adapters have always sent (see `Call::url`).
        assert_eq!(
            c.url(&base()),
            "http://vendor.test/api/Organization?z=1&a=x+y&b=%26%3D",
            "a missing slash supplied, parameters in order"
        );
    }

    #[test]
    fn requests() {
        let token = HeaderValue::from_static("Bearer t0ken");
        let req = Call::new(Method::POST, "/login")
            .header(header::ACCEPT, HeaderValue::from_static("application/json"))
            .sensitive_header(header::AUTHORIZATION, token)
            .header("x-extra", HeaderValue::from_static("1"))
            .json(b"{\"password\":\"hunter2\"}".to_vec())
            .into_request("vendor", &base())
            .unwrap();
        assert_eq!(req.method(), Method::POST);
        assert_eq!(req.uri(), "http://vendor.test/api/login");
        let names: Vec<&str> = req.headers().keys().map(|k| k.as_str()).collect();
        assert_eq!(
            names,
            ["accept", "authorization", "x-extra", "content-type"],
            "headers in the order added, the content type last"
        );
        assert!(req.headers()[header::AUTHORIZATION].is_sensitive());
        assert_eq!(req.headers()[header::CONTENT_TYPE], "application/json");
        assert_eq!(req.body().as_ref(), b"{\"password\":\"hunter2\"}");

        let req = Call::get("/x").into_request("vendor", &base()).unwrap();
        assert!(req.headers().is_empty() && req.body().is_empty());
    }

    #[test]
    fn a_request_that_cannot_be_built() {
        let e = Call::get("/a b")
            .into_request("vendor", &base())
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Upstream);
        assert!(!e.retryable);
        assert!(
            e.message
                .starts_with("vendor: could not build the request: "),
            "{}",
            e.message
        );
    }

    #[test]
    fn debug_hides_secrets() {
        let c = Call::new(Method::POST, "/Login")
            .sensitive_header("authtoken", HeaderValue::from_static("QSDK s3cret"))
            .json(b"{\"password\":\"hunter2\"}".to_vec());
        let d = format!("{c:?}");
        assert!(!d.contains("s3cret") && !d.contains("hunter2"), "{d}");
        assert!(d.contains("authtoken") && d.contains("body_bytes"), "{d}");
        let a = Answer {
            status: 200,
            headers: HeaderMap::new(),
            body: Bytes::from_static(b"{\"token\":\"QSDK s3cret\"}"),
        };
        let d = format!("{a:?}");
        assert!(!d.contains("s3cret"), "{d}");
        assert!(a.is_success());
        assert!(
            !Answer {
                status: 302,
                ..a.clone()
            }
            .is_success()
        );
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let now = crate::Timestamp::parse_rfc3339("1994-11-06T08:49:00Z").unwrap();
        let secs = |v: &str| retry_after(v, now).map(|d| d.as_secs());
        assert_eq!(secs("120"), Some(120));
        assert_eq!(secs(" 7 "), Some(7));
        assert_eq!(secs("Sun, 06 Nov 1994 08:49:37 GMT"), Some(37));
        assert_eq!(secs("Sun, 06 Nov 1994 08:40:00 GMT"), Some(0), "past dates");
        assert_eq!(secs("soon"), None);
        assert_eq!(secs("-5"), None);
        let limited = |after: Option<&str>| {
            let mut headers = HeaderMap::new();
            if let Some(v) = after {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_str(v).unwrap());
            }
            let a = Answer {
                status: 429,
                headers,
                body: Bytes::new(),
            };
            a.rate_limit_at("b", now)
                .unwrap()
                .retry_after
                .unwrap()
                .as_secs()
        };
        assert_eq!(limited(Some("0")), 1, "clamped to at least 1 s");
        assert_eq!(limited(Some("3600")), 60, "clamped to at most 60 s");
        assert_eq!(limited(Some("Sun, 06 Nov 1994 08:49:30 GMT")), 30);
        assert_eq!(limited(None), 5);
        // A 503's, at most an hour (a number too long to read is as long as can be).
        let down = |v: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::RETRY_AFTER, HeaderValue::from_str(v).unwrap());
            let a = Answer {
                status: 503,
                headers,
                body: Bytes::new(),
            };
            a.unavailable_until_at(BackendError::unavailable("down"), now)
                .retry_after
                .map(|d| d.as_secs())
        };
        assert_eq!(down("120"), Some(120));
        assert_eq!(down("99999999999999999999"), Some(3600));
    }

    #[test]
    fn cookies_set_by_an_answer() {
        let now = crate::Timestamp::parse_rfc3339("1994-11-06T08:49:00Z").unwrap();
        let mut headers = HeaderMap::new();
        for v in [
            "other=1; Path=/",
            "id0=old; Max-Age=5",
            "id0=\"eyJ.x.y\"; Path=/; Max-Age=3600; HttpOnly",
            "exp=z; Expires=Sun, 06 Nov 1994 08:50:00 GMT",
        ] {
            headers.append(header::SET_COOKIE, HeaderValue::from_static(v));
        }
        let a = Answer {
            status: 200,
            headers,
            body: Bytes::new(),
        };
        let c = a.set_cookie("id0", now).unwrap();
        assert_eq!(
            (c.value.as_str(), c.lifetime.map(|d| d.as_secs())),
            ("eyJ.x.y", Some(3600)),
            "the last one set, quotes removed"
        );
        assert_eq!(
            a.set_cookie("exp", now)
                .unwrap()
                .lifetime
                .unwrap()
                .as_secs(),
            60
        );
        assert_eq!(a.set_cookie("other", now).unwrap().lifetime, None);
        assert_eq!(a.set_cookie("nope", now), None);
        let d = format!("{a:?} {c:?}");
        assert!(d.contains("set-cookie") && !d.contains("eyJ"), "{d}");
    }

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Thing {
        id: u32,
    }

    #[test]
    fn decoding() {
        let (t, raw) =
            decode_json::<Thing>("vendor", "a thing", br#"{"id":1,"x":2}"#, true).unwrap();
        assert_eq!(t, Thing { id: 1 });
        assert_eq!(raw.unwrap()["x"], 2);
        let (_, raw) = decode_json::<Thing>("vendor", "a thing", br#"{"id":1}"#, false).unwrap();
        assert!(raw.is_none());
        let e = decode_json::<Thing>("vendor", "a thing", br#"{"id":"one"}"#, false).unwrap_err();
        assert_eq!(e.kind, ErrorKind::BadResponse);
        assert!(
            e.message
                .starts_with("vendor sent a thing that does not parse: "),
            "{}",
            e.message
        );
        // Bytes that are not UTF-8, inside a string, are a bad response like any other.
        let e = decode_json::<Thing>("vendor", "a thing", b"{\"id\":1,\"x\":\"a\xffb\"}", true)
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::BadResponse);
        assert_eq!(
            e.message,
            "vendor sent a thing that does not parse: it is not UTF-8 (byte 14)"
        );
        // Text that is UTF-8 beyond ASCII reads as it is written.
        let (_, raw) = decode_json::<Thing>(
            "vendor",
            "a thing",
            "{\"id\":1,\"x\":\"Zürich \\u00e9\"}".as_bytes(),
            true,
        )
        .unwrap();
        assert_eq!(raw.unwrap()["x"], "Zürich é");
        // With the raw value, a wire type that does not read says where, as the text would.
        let e = decode_json::<Thing>("vendor", "a thing", b"{\"x\":2,\n\"id\":\"one\"}", true)
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::BadResponse);
        assert!(e.message.ends_with("at line 2 column 10"), "{}", e.message);
        let v = serde_json::json!({"id": 3});
        assert_eq!(
            from_value::<Thing>("vendor", "an item", &v).unwrap(),
            Thing { id: 3 }
        );
        let e = from_value::<Thing>("vendor", "an item", &serde_json::json!([])).unwrap_err();
        assert!(
            e.message
                .starts_with("vendor sent an item that does not parse: "),
            "{}",
            e.message
        );
    }

    /// A transport that records the request and answers with a fixed response, or fails.
    #[derive(Debug)]
    struct Fixed {
        seen: Mutex<Option<http::Request<Bytes>>>,
        answer: Result<(u16, &'static str), TransportError>,
    }

    impl Transport for Fixed {
        fn send(
            &self,
            req: http::Request<Bytes>,
        ) -> BoxFuture<'static, Result<http::Response<Bytes>, TransportError>> {
            *self.seen.lock().unwrap() = Some(req);
            let out = self.answer.clone().map(|(status, ct)| {
                http::Response::builder()
                    .status(status)
                    .header(header::CONTENT_TYPE, ct)
                    .body(Bytes::from_static(b"<html/>"))
                    .unwrap()
            });
            Box::pin(std::future::ready(out))
        }
    }

    /// Polls a future that never waits (the fixed transport answers at once).
    fn now<F: std::future::Future>(f: F) -> F::Output {
        let mut f = std::pin::pin!(f);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match f.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(v) => v,
            std::task::Poll::Pending => panic!("the future waited"),
        }
    }

    #[test]
    fn a_change_counts_as_sent_once_on_its_way_unless_it_never_left() {
        let ctx = |answer| {
            let t = Arc::new(Fixed {
                seen: Mutex::new(None),
                answer,
            });
            CallContext::new("req-1".into(), false, t)
        };
        let cx = ctx(Ok((500, "text/html")));
        // Reads and logins are never the change.
        now(send(&cx, "vendor", &base(), Call::get("/x"))).unwrap();
        let login = Call::new(Method::POST, "/login").credential_exchange();
        now(send(&cx, "vendor", &base(), login)).unwrap();
        assert!(!cx.change_sent());
        // Answered, whatever the status: sent.
        now(send(&cx, "vendor", &base(), Call::new(Method::PATCH, "/x"))).unwrap();
        assert!(cx.change_sent());
        // Broken after it left, or never connected.
        let cx = ctx(Err(TransportError::Io("reset".into())));
        let _ = now(send(&cx, "vendor", &base(), Call::new(Method::POST, "/x")));
        assert!(cx.clone().change_sent(), "clones share the record");
        let cx = ctx(Err(TransportError::Connect("refused".into())));
        let _ = now(send(
            &cx,
            "vendor",
            &base(),
            Call::new(Method::DELETE, "/x"),
        ));
        assert!(!cx.change_sent());
        // On its way when the call ended (its deadline): sent, for all anyone knows.
        #[derive(Debug)]
        struct Never;
        impl Transport for Never {
            fn send(
                &self,
                _: http::Request<Bytes>,
            ) -> BoxFuture<'static, Result<http::Response<Bytes>, TransportError>> {
                Box::pin(std::future::pending())
            }
        }
        let cx = CallContext::new("req-1".into(), false, Arc::new(Never));
        let base = base();
        let mut on_its_way =
            std::pin::pin!(send(&cx, "vendor", &base, Call::new(Method::PUT, "/x")));
        let mut poll = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(on_its_way.as_mut().poll(&mut poll).is_pending());
        assert!(cx.change_sent());
    }

    #[test]
    fn sending() {
        let t = Arc::new(Fixed {
            seen: Mutex::new(None),
            answer: Ok((503, "text/html")),
        });
        let cx = CallContext::new("req-1".into(), false, t.clone());
        let a = now(send(
            &cx,
            "vendor",
            &base(),
            Call::get("/x").param("a", "1"),
        ))
        .unwrap();
        assert_eq!(a.status, 503, "every status is an answer");
        assert_eq!(a.content_type(), Some("text/html"));
        assert_eq!(a.body.as_ref(), b"<html/>");
        let seen = t.seen.lock().unwrap().take().unwrap();
        assert_eq!(seen.uri(), "http://vendor.test/api/x?a=1");
        assert_eq!(seen.headers()["x-request-id"], "req-1");

        let t = Arc::new(Fixed {
            seen: Mutex::new(None),
            answer: Err(TransportError::Timeout),
        });
        let cx = CallContext::new("req-2".into(), false, t);
        let e = now(send(&cx, "vendor", &base(), Call::get("/x"))).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Timeout);
        assert_eq!(e.message, "vendor did not answer in time");
    }
}
