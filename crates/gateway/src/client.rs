//! The outbound HTTP client every adapter shares: hyper-util's pooled client over rustls
//! (Mozilla's roots, the `webpki-roots` set built into the binary), HTTP/1.1, keep-alive. It
//! implements core's `Transport`, reads whole answers up to a size limit, and classifies
//! failures (unreachable, certificate not trusted, broken connection, too large, too slow)
//! without ever formatting a header.
//!
//! A backend may need more than the defaults ([`ClientSettings`], from its `ca_file` and
//! `connect_to` keys): a private CA to trust besides the built-in roots, or a fixed address to
//! connect to whatever host its URLs name, the URL's host still being sent as `Host` and as the
//! TLS server name (how a test reaches `abc123.internetofthings.ibmcloud.com` on 127.0.0.1, and
//! how a private deployment is reached by address). The gateway builds one client per distinct
//! setting, each with its own pool, and hands every backend the client of its setting. Nothing
//! can make a client accept a certificate it cannot verify.
//!
//! Each request may carry core's `RequestLimits` (the backend's `timeout_ms` and
//! `max_response_bytes`): the whole exchange, answer headers and body, is then bounded by that
//! time and size. A request without them gets [`DEFAULT_EXCHANGE_TIMEOUT`] and
//! [`MAX_RESPONSE_BYTES`], so no exchange can hang forever.

use std::path::Path;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::Uri;
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use orgway_core::{BoxFuture, RequestLimits, Transport, TransportError};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// The largest answer read from a backend when the backend sets no `max_response_bytes`:
/// 4 MiB. A larger one is a bad response.
pub const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// How long an exchange may take when the request carries no limits.
pub const DEFAULT_EXCHANGE_TIMEOUT: Duration = Duration::from_secs(30);

/// How one backend's connections are made, beyond the defaults. Backends with equal settings
/// share one client, and so one connection pool.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ClientSettings {
    /// Certificates trusted besides the built-in roots (the backend's `ca_file`), each already
    /// checked to be usable as a trust anchor (see [`load_ca_file`]).
    pub extra_roots: Vec<CertificateDer<'static>>,
    /// Connect here (`host:port`), whatever host a URL names (the backend's `connect_to`). The
    /// URL's host is still the `Host` header, the TLS server name the certificate must match,
    /// and the key connections are pooled by.
    pub connect_to: Option<ConnectTo>,
}

/// A fixed `host:port` to connect to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConnectTo(Uri);

impl ConnectTo {
    /// Reads `host:port` (a name, an IPv4 address or a bracketed IPv6 address, and a port).
    pub fn parse(s: &str) -> Result<ConnectTo, String> {
        let authority: http::uri::Authority = s
            .parse()
            .map_err(|_| format!("`{s}` is not host:port (e.g. 10.0.0.5:443)"))?;
        if authority.port_u16().is_none_or(|p| p == 0)
            || authority.host().is_empty()
            || s.contains('@')
        {
            return Err(format!("`{s}` is not host:port (e.g. 10.0.0.5:443)"));
        }
        let uri = Uri::builder()
            .scheme("http")
            .authority(authority)
            .path_and_query("/")
            .build()
            .map_err(|e| format!("`{s}`: {e}"))?;
        Ok(ConnectTo(uri))
    }

    /// The host it names.
    pub fn host(&self) -> &str {
        self.0.host().unwrap_or("")
    }
}

impl std::fmt::Display for ConnectTo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.authority() {
            Some(a) => f.write_str(a.as_str()),
            None => Ok(()),
        }
    }
}

/// Reads a PEM file of CA certificates to trust: at least one, each usable as a trust anchor.
pub fn load_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut certs = Vec::new();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| format!("{} is not PEM: {e}", path.display()))?;
        rustls::RootCertStore::empty()
            .add(cert.clone())
            .map_err(|e| {
                format!(
                    "{} holds a certificate that cannot be trusted as a CA: {e}",
                    path.display()
                )
            })?;
        certs.push(cert);
    }
    if certs.is_empty() {
        return Err(format!(
            "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        ));
    }
    Ok(certs)
}

/// The TCP connector: hyper-util's, sent to the fixed address when there is one. It sits
/// under the TLS connector, which takes the server name from the URL before this sees it.
#[derive(Debug, Clone)]
pub struct Connector {
    http: HttpConnector,
    connect_to: Option<Uri>,
}

impl tower::Service<Uri> for Connector {
    type Response = <HttpConnector as tower::Service<Uri>>::Response;
    type Error = <HttpConnector as tower::Service<Uri>>::Error;
    type Future = <HttpConnector as tower::Service<Uri>>::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.http.poll_ready(cx)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let target = self.connect_to.clone().unwrap_or(dst);
        self.http.call(target)
    }
}

/// The pooled client.
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: Client<HttpsConnector<Connector>, Full<Bytes>>,
    max_body: usize,
}

impl HttpClient {
    /// A client trusting the Mozilla root certificates.
    pub fn new() -> Self {
        Self::with_settings(&ClientSettings::default())
    }

    /// A client trusting the Mozilla root certificates and `settings.extra_roots`, connecting
    /// to `settings.connect_to` when set.
    pub fn with_settings(settings: &ClientSettings) -> Self {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(Duration::from_secs(10)));
        let connector = Connector {
            http,
            connect_to: settings.connect_to.as_ref().map(|c| c.0.clone()),
        };
        let mut roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        // Each was checked when the configuration was loaded.
        roots.add_parsable_certificates(settings.extra_roots.iter().cloned());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports the default TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(connector);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(64)
            .build(https);
        HttpClient {
            client,
            max_body: MAX_RESPONSE_BYTES,
        }
    }
}

impl Default for HttpClient {
    fn default() -> Self {
        Self::new()
    }
}

/// The TLS failure behind a connect error, if it is one. TLS errors travel inside
/// `io::Error`s, whose `source()` skips the error they wrap, so each is opened with `get_ref`.
fn tls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    if let Some(tls) = e.downcast_ref::<rustls::Error>() {
        return Some(tls);
    }
    if let Some(inner) = e
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
        && let Some(tls) = tls_error(inner)
    {
        return Some(tls);
    }
    e.source().and_then(tls_error)
}

/// A connect failure, classified: a certificate the client does not trust, another TLS
/// failure, or no connection at all.
fn connect_error(e: &hyper_util::client::legacy::Error) -> TransportError {
    match tls_error(e) {
        Some(tls @ rustls::Error::InvalidCertificate(_)) => {
            TransportError::Tls(format!("the backend's certificate is not trusted: {tls}"))
        }
        Some(tls) => TransportError::Tls(format!("the TLS handshake failed: {tls}")),
        None => TransportError::Connect(root_cause(e)),
    }
}

/// The innermost cause of an error, which is where hyper puts the useful words
/// ("Connection refused"). Causes never contain headers or bodies.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

impl Transport for HttpClient {
    fn send(
        &self,
        req: http::Request<Bytes>,
    ) -> BoxFuture<'static, Result<http::Response<Bytes>, TransportError>> {
        let (timeout, max) = match req.extensions().get::<RequestLimits>() {
            Some(l) => (l.timeout, l.max_response_bytes),
            None => (DEFAULT_EXCHANGE_TIMEOUT, self.max_body),
        };
        let fut = self.client.request(req.map(Full::new));
        let exchange = async move {
            let resp = fut.await.map_err(|e| {
                if e.is_connect() {
                    connect_error(&e)
                } else {
                    TransportError::Io(root_cause(&e))
                }
            })?;
            let (parts, body) = resp.into_parts();
            let bytes = Limited::new(body, max)
                .collect()
                .await
                .map_err(|e| {
                    if e.downcast_ref::<http_body_util::LengthLimitError>()
                        .is_some()
                    {
                        TransportError::TooLarge(max)
                    } else {
                        TransportError::Io(root_cause(e.as_ref()))
                    }
                })?
                .to_bytes();
            Ok(http::Response::from_parts(parts, bytes))
        };
        Box::pin(async move {
            tokio::time::timeout(timeout, exchange)
                .await
                .unwrap_or(Err(TransportError::Timeout))
        })
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use orgway_sim::watson_iot::{DEMO_ORG_2, DEMO_ORG_ID, WatsonIotSim, demo_key, demo_token};

    use super::*;

    fn view_org(sim: &WatsonIotSim, org: &str) -> http::Request<Bytes> {
        let auth = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            demo_key(org),
            demo_token(org)
        ));
        http::Request::get(format!("https://{}/api/v0002/", sim.host(org)))
            .header(http::header::AUTHORIZATION, format!("Basic {auth}"))
            .body(Bytes::new())
            .unwrap()
    }

    fn settings(sim: &WatsonIotSim, trust: bool) -> ClientSettings {
        ClientSettings {
            extra_roots: if trust {
                load_ca_file(sim.ca_file()).unwrap()
            } else {
                Vec::new()
            },
            connect_to: Some(ConnectTo::parse(&sim.addr().to_string()).unwrap()),
        }
    }

    #[tokio::test]
    async fn a_fixed_address_keeps_the_urls_host_name_and_certificate_check() {
        let sim = WatsonIotSim::start(Default::default()).await.unwrap();
        let client = HttpClient::with_settings(&settings(&sim, true));
        for org in [DEMO_ORG_ID, DEMO_ORG_2, DEMO_ORG_ID] {
            let resp = client.send(view_org(&sim, org)).await.unwrap();
            assert_eq!(resp.status(), 200);
            let body: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
            assert_eq!(body["id"], org, "the host name chose the org");
        }
        let seen = sim.server().requests();
        assert_eq!(seen[1].header("host"), Some(sim.host(DEMO_ORG_2).as_str()));
        // Pooled per host name: the first org's connection served it twice.
        assert_eq!(sim.server().tls_connections(), 2);
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn a_certificate_not_trusted_is_a_tls_failure_saying_so() {
        let sim = WatsonIotSim::start(Default::default()).await.unwrap();
        let client = HttpClient::with_settings(&settings(&sim, false));
        let e = client.send(view_org(&sim, DEMO_ORG_ID)).await.unwrap_err();
        match &e {
            TransportError::Tls(m) => assert!(
                m.starts_with("the backend's certificate is not trusted: ")
                    && m.contains("UnknownIssuer"),
                "{m}"
            ),
            other => panic!("not a TLS failure: {other:?}"),
        }
        // Trusting the CA does not make another host name acceptable.
        let client = HttpClient::with_settings(&settings(&sim, true));
        let mut req = view_org(&sim, DEMO_ORG_ID);
        *req.uri_mut() = "https://abc123.example.com/api/v0002/".parse().unwrap();
        match client.send(req).await.unwrap_err() {
            TransportError::Tls(m) => assert!(m.contains("not trusted"), "{m}"),
            other => panic!("not a TLS failure: {other:?}"),
        }
        assert_eq!(sim.server().request_count(), 0);
        // Nothing listening is still "could not connect".
        let closed = ClientSettings {
            connect_to: Some(ConnectTo::parse("127.0.0.1:1").unwrap()),
            ..ClientSettings::default()
        };
        let e = HttpClient::with_settings(&closed)
            .send(view_org(&sim, DEMO_ORG_ID))
            .await
            .unwrap_err();
        assert!(matches!(e, TransportError::Connect(_)), "{e:?}");
        sim.shutdown().await;
    }

    #[test]
    fn ca_files_are_checked() {
        let dir = std::env::temp_dir().join(format!("orgway-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        assert!(
            load_ca_file(&empty)
                .unwrap_err()
                .contains("no PEM certificate")
        );
        let junk = dir.join("junk.pem");
        std::fs::write(
            &junk,
            "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        assert!(
            load_ca_file(&junk)
                .unwrap_err()
                .contains("cannot be trusted as a CA"),
        );
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(ConnectTo::parse("[::1]:443").is_ok());
        assert_eq!(
            ConnectTo::parse("[::1]:443").unwrap().to_string(),
            "[::1]:443"
        );
    }
}
