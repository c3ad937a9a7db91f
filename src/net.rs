//! One network configuration for every peer vault-ci talks to — STS, the CI's
//! token endpoint, the machine's credentials endpoints — and one HTTP client
//! stack: reqwest over rustls (ring). The STS SDK is handed the same client
//! through its `HttpConnector` trait, so a corporate CA, a proxy and NO_PROXY
//! are decided once and apply to all, and the binary carries one TLS stack.

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpConnector, HttpConnectorFuture, SharedHttpClient, SharedHttpConnector, http_client_fn,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_types::body::SdkBody;
use bytes::Bytes;

use crate::env::Env;
use crate::error::{Error, Result, error_chain};
use crate::retry::RetryPolicy;

/// The most vault-ci reads of any answer. STS answers are a few kB and tokens
/// about one; anything near this is not an answer but an attack or a mistake.
pub const MAX_BODY: usize = 1 << 20;

/// What the user chose: flags, or the environment's conventions.
#[derive(Debug, Default, Clone)]
pub struct NetOptions<'a> {
    /// Extra trusted certificates (PEM), on top of the system's roots.
    pub ca_bundle: Option<&'a Path>,
    /// An explicit proxy for everything; otherwise HTTPS_PROXY / HTTP_PROXY / ALL_PROXY.
    pub proxy: Option<&'a str>,
    /// Hosts reached directly; otherwise NO_PROXY.
    pub no_proxy: Option<&'a str>,
    pub retry: RetryPolicy,
    pub attempt_timeout: Duration,
    pub total_timeout: Duration,
}

pub struct NetConfig {
    client: reqwest::Client,
    pub retry: RetryPolicy,
    /// How long one attempt may take, connection included.
    pub attempt_timeout: Duration,
    /// How long the whole exchange may take, retries included.
    pub total_timeout: Duration,
}

impl NetConfig {
    /// `urls` are the peers this run will reach: when none is `https://` (a
    /// local STS, the machine's metadata endpoints, no network at all) and no
    /// proxy is reached over TLS, no trust roots are loaded — a third of a local
    /// run's time otherwise (BENCHMARKS.md).
    pub fn new(options: NetOptions<'_>, env: &Env, urls: &[&str]) -> Result<NetConfig> {
        install_crypto_provider();
        let proxies = Proxies::decide(options.proxy, options.no_proxy, env)?;
        let tls_needed = urls.iter().any(|u| !is_plain_http(u)) || proxies.any_over_tls();
        let mut builder = reqwest::Client::builder()
            .connect_timeout(options.attempt_timeout)
            .timeout(options.attempt_timeout)
            .user_agent(concat!("vault-ci/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            // Proxies come from `Proxies` alone: reqwest reads no variable itself.
            .no_proxy();
        for proxy in proxies.into_reqwest()? {
            builder = builder.proxy(proxy);
        }
        builder = match (options.ca_bundle, tls_needed) {
            (Some(path), true) => builder.tls_certs_merge(read_ca_bundle(path)?),
            (None, true) => builder,
            // No roots at all: any https:// attempt fails verification, loudly.
            // A CA bundle (AWS_CA_BUNDLE is set machine-wide on many runners)
            // is checked but not handed to TLS, nor the system's roots loaded,
            // for plain http.
            (bundle, false) => {
                if let Some(path) = bundle {
                    read_ca_bundle(path)?;
                }
                builder.tls_certs_only(Vec::new())
            }
        };
        let client = builder.build().map_err(|e| {
            Error::usage(format!(
                "cannot set up HTTPS: {}; check --ca-bundle / AWS_CA_BUNDLE and the system's CA certificates",
                error_chain(&e)
            ))
        })?;
        Ok(NetConfig {
            client,
            retry: options.retry,
            attempt_timeout: options.attempt_timeout,
            total_timeout: options.total_timeout,
        })
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// The same client, for the STS SDK. Timeouts are the SDK's own (set per
    /// operation), as the `HttpClient` contract wants.
    pub fn sts_http_client(&self) -> SharedHttpClient {
        let client = self.client.clone();
        http_client_fn(move |_settings, _components| {
            SharedHttpConnector::new(Connector {
                client: client.clone(),
            })
        })
    }
}

fn is_plain_http(url: &str) -> bool {
    url.get(..7)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("http://"))
}

/// The proxy decision, made once: an explicit `--http-proxy` for every URL, or
/// the environment's (`HTTPS_PROXY` for https://, `HTTP_PROXY` for http://,
/// `ALL_PROXY` for both, lower case too), except for hosts in NO_PROXY.
struct Proxies {
    /// (applies to https://, applies to http://, URL, where it came from)
    chosen: Vec<(bool, bool, url::Url, String)>,
    no_proxy: Option<String>,
}

impl Proxies {
    fn decide(explicit: Option<&str>, no_proxy: Option<&str>, env: &Env) -> Result<Proxies> {
        let no_proxy = no_proxy
            .or_else(|| env.first(&["NO_PROXY", "no_proxy"]).map(|(_, v)| v))
            .map(str::to_string);
        let mut chosen = Vec::new();
        // `*`: nothing goes through a proxy (reqwest applies `*` to names, not addresses).
        if no_proxy.as_deref().map(str::trim) == Some("*") {
            return Ok(Proxies { chosen, no_proxy });
        }
        if let Some(raw) = explicit {
            chosen.push((
                true,
                true,
                parse_proxy(raw, "--http-proxy")?,
                "--http-proxy".into(),
            ));
            return Ok(Proxies { chosen, no_proxy });
        }
        for (https, http, names) in [
            (true, false, &["HTTPS_PROXY", "https_proxy"][..]),
            (false, true, &["HTTP_PROXY", "http_proxy"][..]),
            (true, true, &["ALL_PROXY", "all_proxy"][..]),
        ] {
            if let Some((name, raw)) = env.first(names) {
                chosen.push((https, http, parse_proxy(raw, name)?, name.to_string()));
            }
        }
        Ok(Proxies { chosen, no_proxy })
    }

    fn any_over_tls(&self) -> bool {
        self.chosen
            .iter()
            .any(|(_, _, url, _)| url.scheme() == "https")
    }

    fn into_reqwest(self) -> Result<Vec<reqwest::Proxy>> {
        let no_proxy = || {
            self.no_proxy
                .as_deref()
                .and_then(reqwest::NoProxy::from_string)
        };
        self.chosen
            .iter()
            .map(|(https, http, url, origin)| {
                let made = match (https, http) {
                    (true, true) => reqwest::Proxy::all(url.as_str()),
                    (true, false) => reqwest::Proxy::https(url.as_str()),
                    _ => reqwest::Proxy::http(url.as_str()),
                };
                made.map(|p| p.no_proxy(no_proxy())).map_err(|e| {
                    Error::usage(format!(
                        "{origin} `{}`: {}",
                        without_password(url),
                        error_chain(&e)
                    ))
                })
            })
            .collect()
    }
}

fn parse_proxy(raw: &str, origin: &str) -> Result<url::Url> {
    // `proxy.internal:3128`, as curl takes it.
    let with_scheme = if raw.contains("://") {
        raw.to_string()
    } else {
        format!("http://{raw}")
    };
    let url = url::Url::parse(&with_scheme).map_err(|e| {
        Error::usage(format!(
            "{origin} is not a URL ({e}); expected e.g. http://proxy.internal:3128"
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(Error::usage(format!(
            "{origin} `{}`: the proxy must be an http:// or https:// URL with a host",
            without_password(&url)
        )));
    }
    Ok(url)
}

/// A proxy URL may carry `user:password@`; messages show it without the password.
fn without_password(url: &url::Url) -> String {
    let mut shown = url.clone();
    if shown.password().is_some() {
        let _ = shown.set_password(Some("****"));
    }
    shown.to_string()
}

fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Fails only if another provider is installed already, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// The certificates of a PEM bundle, each parsed, so a bad one is named now
/// and not when the first TLS handshake needs it.
fn read_ca_bundle(path: &Path) -> Result<Vec<reqwest::Certificate>> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let shown = path.display();
    let pem = crate::files::read_capped(path, MAX_BODY).map_err(|e| {
        Error::usage(format!(
            "CA bundle {shown}: cannot read it ({e}); point --ca-bundle or AWS_CA_BUNDLE at a PEM file"
        ))
    })?;
    let mut certs = Vec::new();
    for (index, der) in CertificateDer::pem_slice_iter(&pem).enumerate() {
        let der = der.map_err(|e| {
            Error::usage(format!(
                "CA bundle {shown}: PEM block {} cannot be read ({e}); export the CA as PEM",
                index + 1
            ))
        })?;
        if webpki_accepts(&der).is_err() {
            return Err(Error::usage(format!(
                "CA bundle {shown}: certificate {} is not a valid X.509 certificate; \
                 export the CA again as PEM",
                index + 1
            )));
        }
        certs.push(reqwest::Certificate::from_der(&der).map_err(|e| {
            Error::usage(format!(
                "CA bundle {shown}: certificate {}: {}",
                index + 1,
                error_chain(&e)
            ))
        })?);
    }
    if certs.is_empty() {
        return Err(Error::usage(format!(
            "CA bundle {shown} holds no PEM certificate (-----BEGIN CERTIFICATE-----); \
             export the CA as PEM, not DER"
        )));
    }
    Ok(certs)
}

/// Whether rustls would take `der` as a trust anchor.
fn webpki_accepts(der: &rustls::pki_types::CertificateDer<'_>) -> Result<(), rustls::Error> {
    rustls::RootCertStore::empty().add(der.clone())
}

/// Reads a response body, refusing more than `limit` bytes.
pub async fn read_body(mut response: reqwest::Response, limit: usize) -> Result<Bytes, BodyError> {
    if response
        .content_length()
        .is_some_and(|length| length > limit as u64)
    {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Read)? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.into())
}

#[derive(Debug)]
pub enum BodyError {
    TooLarge,
    Read(reqwest::Error),
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::TooLarge => write!(f, "the answer is larger than {} bytes", MAX_BODY),
            BodyError::Read(e) => write!(f, "the answer broke off: {}", error_chain(e)),
        }
    }
}

impl std::error::Error for BodyError {}

/// The TLS verdict among an error's causes, if it is one: a certificate that
/// is not trusted, a name that does not match. Such a verdict does not change
/// on retry.
pub fn tls_failure(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    crate::error::causes(err).into_iter().find_map(|cause| {
        cause
            .downcast_ref::<rustls::Error>()
            .map(|tls| tls.to_string())
    })
}

/// Whether `err` is, or was caused by, an answer over [`MAX_BODY`].
pub fn too_large(err: &(dyn std::error::Error + 'static)) -> bool {
    crate::error::causes(err)
        .into_iter()
        .any(|cause| matches!(cause.downcast_ref::<BodyError>(), Some(BodyError::TooLarge)))
}

/// reqwest, as the STS SDK's HTTP connector.
#[derive(Debug)]
struct Connector {
    client: reqwest::Client,
}

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = self.client.clone();
        HttpConnectorFuture::new(async move {
            let request = request
                .try_into_http1x()
                .map_err(|e| ConnectorError::user(e.into()))?;
            let (parts, body) = request.into_parts();
            // STS requests are small forms, held in memory.
            let body = body
                .bytes()
                .map(Bytes::copy_from_slice)
                .ok_or_else(|| ConnectorError::user("a streaming request body".into()))?;
            let request = reqwest::Request::try_from(http::Request::from_parts(parts, body))
                .map_err(|e| ConnectorError::user(e.into()))?;
            let response = client
                .execute(request)
                .await
                .map_err(|e| connector_error(e.without_url()))?;
            let mut answer = http::Response::builder().status(response.status());
            if let Some(headers) = answer.headers_mut() {
                headers.extend(response.headers().clone());
            }
            let body = read_body(response, MAX_BODY).await.map_err(|e| match e {
                BodyError::Read(e) => connector_error(e),
                too_large => ConnectorError::other(too_large.into(), None),
            })?;
            // A streaming body, though it is all in memory: the SDK traces the
            // response before it reads the body, and an in-memory body's trace
            // would show the credentials in it.
            let answer = answer
                .body(SdkBody::from_body_1_x(http_body_util::Full::new(body)))
                .map_err(|e| ConnectorError::other(e.into(), None))?;
            HttpResponse::try_from(answer).map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}

/// Timeouts and I/O failures are what the SDK (and vault-ci's error table)
/// may call transient; anything else, a TLS verdict among them, is not.
fn connector_error(err: reqwest::Error) -> ConnectorError {
    if err.is_timeout() {
        ConnectorError::timeout(err.into())
    } else if tls_failure(&err).is_some() || err.is_builder() {
        ConnectorError::other(err.into(), None)
    } else if err.is_connect() || err.is_request() || err.is_body() {
        ConnectorError::io(err.into())
    } else {
        ConnectorError::other(err.into(), None)
    }
}

/// `work`, or an error once --timeout has passed. The retry loops inside stop
/// short of the deadline rather than start an attempt that cannot finish.
pub async fn within_timeout<T>(
    net: &NetConfig,
    work: impl Future<Output = Result<T>>,
) -> Result<T> {
    let total = net.total_timeout;
    if total.is_zero() {
        // --timeout 0: no limit.
        return work.await;
    }
    let deadline = tokio::time::Instant::now() + total;
    let work = crate::retry::with_deadline(deadline, work);
    tokio::time::timeout_at(deadline, work)
        .await
        .unwrap_or_else(|_| {
            Err(Error::timeout(format!(
                "gave up after {} s (--timeout): STS or the token endpoint kept failing or did not answer",
                total.as_secs()
            )))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> NetOptions<'static> {
        NetOptions {
            attempt_timeout: Duration::from_secs(1),
            total_timeout: Duration::from_secs(1),
            ..NetOptions::default()
        }
    }

    #[test]
    fn odd_proxy_urls_are_taken_or_refused_never_a_panic() {
        for raw in [
            "http://user:pa^ss word@proxy.internal:3128",
            "http://prøxy.example:3128",
            "proxy.internal:3128",
            "http://[::1]:3128",
            "http://user:%ZZ@proxy:1",
            "socks5://proxy:1080",
            "http://",
            "://",
            "",
        ] {
            let proxy = Some(raw);
            let _ = NetConfig::new(NetOptions { proxy, ..options() }, &Env::default(), &[]);
        }
        let err = NetConfig::new(
            NetOptions {
                proxy: Some("socks5://u:secret@proxy:1080"),
                ..options()
            },
            &Env::default(),
            &[],
        )
        .err()
        .unwrap();
        assert_eq!(
            err.message(),
            "--http-proxy `socks5://u:****@proxy:1080`: the proxy must be an http:// or https:// URL with a host"
        );
    }

    #[test]
    fn the_environment_chooses_proxies_only_when_no_flag_does() {
        let env = Env::of([
            ("HTTPS_PROXY", "https://tls-proxy:443"),
            ("http_proxy", "http://plain:3128"),
            ("NO_PROXY", "127.0.0.1"),
        ]);
        let from_env = Proxies::decide(None, None, &env).unwrap();
        let shown: Vec<_> = from_env
            .chosen
            .iter()
            .map(|(s, p, url, origin)| (*s, *p, url.as_str().to_string(), origin.clone()))
            .collect();
        assert_eq!(
            shown,
            [
                (
                    true,
                    false,
                    "https://tls-proxy/".to_string(),
                    "HTTPS_PROXY".to_string()
                ),
                (
                    false,
                    true,
                    "http://plain:3128/".to_string(),
                    "http_proxy".to_string()
                ),
            ]
        );
        assert!(from_env.any_over_tls());
        let explicit = Proxies::decide(Some("http://flag:8080"), None, &env).unwrap();
        assert_eq!(explicit.chosen.len(), 1);
        assert!(!explicit.any_over_tls());
        assert_eq!(explicit.no_proxy.as_deref(), Some("127.0.0.1"));
        let none = Proxies::decide(Some("http://flag:8080"), Some("*"), &env).unwrap();
        assert!(none.chosen.is_empty());
    }

    #[test]
    fn a_ca_bundle_with_a_broken_certificate_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(
            &path,
            "-----BEGIN CERTIFICATE-----\nTUlJQm5vdGFjZXJ0aWZpY2F0ZQ==\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let err = NetConfig::new(
            NetOptions {
                ca_bundle: Some(&path),
                ..options()
            },
            &Env::default(),
            &["https://sts.amazonaws.com"],
        )
        .err()
        .unwrap();
        assert!(
            err.message().ends_with(
                "certificate 1 is not a valid X.509 certificate; export the CA again as PEM"
            ),
            "{err}"
        );
        std::fs::write(&path, "not pem").unwrap();
        let err = NetConfig::new(
            NetOptions {
                ca_bundle: Some(&path),
                ..options()
            },
            &Env::default(),
            &["https://sts.amazonaws.com"],
        )
        .err()
        .unwrap();
        assert!(err.message().contains("holds no PEM certificate"), "{err}");
        // Only https uses it; for plain http it is checked all the same.
        assert!(
            NetConfig::new(
                NetOptions {
                    ca_bundle: Some(&path),
                    ..options()
                },
                &Env::default(),
                &["http://127.0.0.1:5000"],
            )
            .is_err()
        );
    }

    #[test]
    fn plain_http_is_told_apart_from_https() {
        assert!(is_plain_http("http://127.0.0.1:5000"));
        assert!(is_plain_http("HTTP://x"));
        assert!(!is_plain_http("https://sts.amazonaws.com"));
        assert!(!is_plain_http("http"));
    }
}
