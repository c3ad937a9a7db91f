//! One network configuration for both peers vault-ci talks to — STS and the CI's
//! token endpoint — so a corporate CA or a proxy set once applies to both.
//! Both clients use rustls with the ring provider: one TLS stack in the binary.

use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::Duration;

use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
use aws_smithy_http_client::{Builder as HttpClientBuilder, Connector};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

use crate::error::{Error, Result};
use crate::retry::RetryPolicy;

#[derive(Clone)]
pub struct NetConfig {
    /// Extra trusted certificates (PEM), on top of the system's roots.
    ca_pem: Option<Vec<u8>>,
    /// An explicit proxy; without one, HTTPS_PROXY / HTTP_PROXY / NO_PROXY apply.
    proxy: Option<String>,
    pub retry: RetryPolicy,
    /// How long one attempt may take, connection included.
    pub attempt_timeout: Duration,
    /// How long the whole exchange may take, retries included.
    pub total_timeout: Duration,
}

impl NetConfig {
    pub fn new(
        ca_bundle: Option<&Path>,
        proxy: Option<&str>,
        retry: RetryPolicy,
        attempt_timeout: Duration,
        total_timeout: Duration,
    ) -> Result<Self> {
        install_crypto_provider();
        let ca_pem = match ca_bundle {
            Some(path) => Some(read_ca_bundle(path)?),
            None => None,
        };
        let proxy = match proxy {
            Some(raw) => {
                let url = url::Url::parse(raw).map_err(|e| {
                    Error::usage(format!(
                        "--http-proxy is not a URL ({e}); expected e.g. http://proxy.internal:3128"
                    ))
                })?;
                if !matches!(url.scheme(), "http" | "https") {
                    return Err(Error::usage(format!(
                        "--http-proxy `{}`: the proxy must be an http:// or https:// URL",
                        without_password(&url)
                    )));
                }
                Some(raw.to_string())
            }
            None => None,
        };
        Ok(NetConfig {
            ca_pem,
            proxy,
            retry,
            attempt_timeout,
            total_timeout,
        })
    }

    /// The HTTP client the STS SDK uses. It is shared by every hop of a chain,
    /// so a chain reuses one connection. An `http://` endpoint (a local STS) gets a
    /// client without TLS: loading the system's trust roots would be a third of
    /// the run for nothing (BENCHMARKS.md).
    pub fn sts_http_client(&self, endpoint: Option<&str>) -> SharedHttpClient {
        let plain = endpoint.is_some_and(|e| e.starts_with("http://")) && !self.proxy_is_https();
        let mut trust = TrustStore::empty().with_native_roots(true);
        if let Some(pem) = &self.ca_pem {
            trust = trust.with_pem_certificate(pem.clone());
        }
        let tls_context = TlsContext::builder()
            .with_trust_store(trust)
            .build()
            .expect("a trust store of native roots and validated PEM is a valid TLS context");
        let proxy = match &self.proxy {
            Some(url) => ProxyConfig::all(url.as_str())
                .expect("proxy URL was validated in NetConfig::new")
                .no_proxy(
                    std::env::var("NO_PROXY")
                        .or_else(|_| std::env::var("no_proxy"))
                        .unwrap_or_default(),
                ),
            None => ProxyConfig::from_env(),
        };
        let timeout = self.attempt_timeout;
        HttpClientBuilder::new().build_with_connector_fn(move |settings, components| {
            let mut builder = Connector::builder()
                .proxy_config(proxy.clone())
                .connector_settings(settings.cloned().unwrap_or_else(|| {
                    aws_smithy_runtime_api::client::http::HttpConnectorSettings::builder()
                        .connect_timeout(timeout)
                        .read_timeout(timeout)
                        .build()
                }));
            if let Some(components) = components {
                builder.set_sleep_impl(components.sleep_impl());
            }
            if plain {
                return builder.build_http();
            }
            builder
                .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
                .tls_context(tls_context.clone())
                .build()
        })
    }

    /// A proxy reached over TLS needs the TLS client even for an `http://` target.
    fn proxy_is_https(&self) -> bool {
        let configured = self.proxy.clone().into_iter().chain(
            ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
                .iter()
                .filter_map(|var| std::env::var(var).ok()),
        );
        configured
            .into_iter()
            .any(|url| url.trim().to_ascii_lowercase().starts_with("https://"))
    }

    /// The HTTP client for CI token endpoints.
    pub fn token_http_client(&self) -> Result<reqwest::Client> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(self.attempt_timeout)
            .timeout(self.attempt_timeout)
            .user_agent(concat!("vault-ci/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = &self.ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .expect("the CA bundle was validated in NetConfig::new");
            builder = builder.tls_certs_merge(certs);
        }
        if let Some(url) = &self.proxy {
            let proxy = reqwest::Proxy::all(url.as_str())
                .map_err(|e| {
                    Error::usage(format!(
                        "--http-proxy `{}`: {}",
                        url::Url::parse(url)
                            .map(|u| without_password(&u))
                            .unwrap_or_default(),
                        crate::hop::error_chain(&e.without_url())
                    ))
                })?
                .no_proxy(reqwest::NoProxy::from_env());
            builder = builder.proxy(proxy);
        }
        builder.build().map_err(|e| {
            Error::identity(format!("cannot set up HTTPS for the token endpoint: {e}"))
        })
    }
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
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Fails only if another provider is installed already, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

fn read_ca_bundle(path: &Path) -> Result<Vec<u8>> {
    let shown = PathBuf::from(path);
    let pem = std::fs::read(path).map_err(|e| {
        Error::usage(format!(
            "CA bundle {}: cannot read it ({e}); point --ca-bundle or AWS_CA_BUNDLE at a PEM file",
            shown.display()
        ))
    })?;
    match reqwest::Certificate::from_pem_bundle(&pem) {
        Ok(certs) if !certs.is_empty() => Ok(pem),
        Ok(_) | Err(_) => Err(Error::usage(format!(
            "CA bundle {} holds no PEM certificate (-----BEGIN CERTIFICATE-----); \
             export the CA as PEM, not DER",
            shown.display()
        ))),
    }
}
