//! Token endpoints over HTTP, for the CIs that hand tokens out that way (Azure
//! Pipelines, Forgejo Actions, Google's metadata server): each attempt is one
//! request through the run's client (its CA bundle, proxy and timeouts), tried
//! again as transient failures are, its answer capped at [`MAX_BODY`], and every
//! failure told by the endpoint's name with what to check. Nothing secret goes
//! into a message: not the bearer, not the answer's body.
//!
//! GitHub's endpoint predates this and keeps its own (github.rs).

use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use super::Context;
use crate::error::{Error, Peer, Result, error_chain};
use crate::net::{BodyError, MAX_BODY, read_body};
use crate::retry::retry;

/// How an endpoint is named and repaired in messages.
pub(crate) struct Endpoint<'a> {
    /// "Azure DevOps' OIDC token endpoint".
    pub name: &'a str,
    /// What to check when it answers something no such endpoint answers:
    /// "is SYSTEM_OIDCREQUESTURI right?".
    pub check: &'a str,
    /// The cause and the fix when it refuses the request (401, 403).
    pub refused: &'a str,
}

/// A successful answer.
pub(crate) struct Answer {
    pub headers: HeaderMap,
    pub body: Bytes,
}

const TLS_HINT: &str = "hint: the endpoint's certificate is not trusted: if a corporate proxy or CA \
    signs it, pass its CA as --ca-bundle PEM (or AWS_CA_BUNDLE)";

/// Sends `request` until it is answered with success, fails for good, or no
/// attempt is left. `explain` may tell a status better than the generic message
/// (Azure's 404 for a service connection no task references).
pub(crate) async fn fetch(
    ctx: &Context<'_>,
    endpoint: &Endpoint<'_>,
    explain: impl Fn(StatusCode) -> Option<Error>,
    request: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
) -> Result<Answer> {
    let client = ctx.net.client();
    retry(&ctx.net.retry, |_| {
        once(endpoint, &explain, request(client))
    })
    .await
}

async fn once(
    endpoint: &Endpoint<'_>,
    explain: &impl Fn(StatusCode) -> Option<Error>,
    request: reqwest::RequestBuilder,
) -> Result<Answer> {
    let name = endpoint.name;
    let response = request.send().await.map_err(|e| {
        let e = e.without_url();
        match crate::net::tls_failure(&e) {
            // A TLS verdict does not change on retry.
            Some(verdict) => {
                Error::identity(format!("cannot reach {name}: TLS: {verdict}")).with_hint(TLS_HINT)
            }
            None => Error::unavailable(
                Peer::TokenEndpoint,
                format!("cannot reach {name}: {}", error_chain(&e)),
            ),
        }
    })?;
    let status = response.status();
    if !status.is_success() {
        if let Some(explained) = explain(status) {
            return Err(explained);
        }
        return Err(match status.as_u16() {
            401 | 403 => Error::identity(format!(
                "{name} answered HTTP {status}: {}",
                endpoint.refused
            )),
            code if code >= 500 || code == 429 => Error::unavailable(
                Peer::TokenEndpoint,
                format!("{name} answered HTTP {status}"),
            ),
            _ => Error::identity(format!("{name} answered HTTP {status}; {}", endpoint.check)),
        });
    }
    let headers = response.headers().clone();
    let body = read_body(response, MAX_BODY).await.map_err(|e| match e {
        BodyError::TooLarge => Error::identity(format!(
            "{name} sent an unexpected reply: {e}; {}",
            endpoint.check
        )),
        BodyError::Read(_) => Error::unavailable(Peer::TokenEndpoint, format!("{name}: {e}")),
    })?;
    // Azure DevOps answers a token it does not take with 203 and its sign-in page.
    if status == StatusCode::NON_AUTHORITATIVE_INFORMATION || looks_like_html(&body) {
        return Err(Error::identity(format!(
            "{name} answered HTTP {status} with an HTML page, not a token: {}",
            endpoint.refused
        )));
    }
    Ok(Answer { headers, body })
}

/// An HTML page (a sign-in page, a proxy's error page) where JSON or a JWT belongs.
pub(crate) fn looks_like_html(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(&body[..body.len().min(512)]);
    let start = text.trim_start().to_ascii_lowercase();
    start.starts_with("<!doctype html") || start.starts_with("<html")
}

/// The JSON answer's string field `field`, the token.
pub(crate) fn json_field(endpoint: &Endpoint<'_>, body: &[u8], field: &str) -> Result<String> {
    let unexpected = |why: String| {
        Error::identity(format!(
            "{} sent an unexpected reply ({why}); expected {{\"{field}\": \"<jwt>\"}}; {}",
            endpoint.name, endpoint.check
        ))
    };
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| unexpected(e.to_string()))?;
    match value.get(field) {
        Some(serde_json::Value::String(token)) => Ok(token.clone()),
        Some(_) => Err(unexpected(format!("`{field}` is not a string"))),
        None => Err(unexpected(format!("no `{field}`"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_pages_are_told_from_answers() {
        assert!(looks_like_html(b"\r\n  <!DOCTYPE html><html>sign in"));
        assert!(looks_like_html(b"<HTML><body>502</body>"));
        assert!(!looks_like_html(br#"{"oidcToken": "e30.e30.c2ln"}"#));
        assert!(!looks_like_html(b"eyJhbGciOiJSUzI1NiJ9.e30.c2ln"));
    }

    #[test]
    fn the_token_field_is_read_and_anything_else_named() {
        let endpoint = Endpoint {
            name: "the endpoint",
            check: "is URL right?",
            refused: "",
        };
        assert_eq!(
            json_field(&endpoint, br#"{"oidcToken": "a.b.c"}"#, "oidcToken").unwrap(),
            "a.b.c"
        );
        let err = json_field(&endpoint, br#"{"oidcToken": null}"#, "oidcToken").unwrap_err();
        assert_eq!(
            err.message(),
            "the endpoint sent an unexpected reply (`oidcToken` is not a string); expected \
             {\"oidcToken\": \"<jwt>\"}; is URL right?"
        );
        let err = json_field(&endpoint, b"{}", "value").unwrap_err();
        assert!(err.message().contains("(no `value`)"), "{}", err.message());
    }
}
