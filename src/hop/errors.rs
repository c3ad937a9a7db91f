//! STS's answers that are not credentials, turned into errors a user can act
//! on: one table of STS error codes, each with what it means (which decides
//! whether it is retried) and the fix. Network failures are classified by the
//! error's type, not its text.

use std::time::Duration;

use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

use super::Sts;
use crate::arn::RoleArn;
use crate::error::{Error, Peer, error_chain};

/// What an STS error code means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Meaning {
    /// Who we are was refused: worth the trust-policy hint on a web-identity hop.
    Denied,
    /// Who we are was refused, for a reason the hint names.
    DeniedOther,
    /// What we asked for was refused.
    Rejected,
    /// The server or what it depends on failed; try again.
    Transient,
    /// Too many requests; try again later.
    Throttled,
}

/// Every STS error code vault-ci knows, what it means and the fix. `{role}` and
/// `{region}` in a hint are filled in.
const CODES: &[(&[&str], Meaning, &str)] = &[
    (
        &["AccessDenied", "IDPRejectedClaim"],
        Meaning::Denied,
        "hint: the caller needs `sts:AssumeRole` on {role} in its own policy, and \
         the trust policy of {role_name} must name the caller as Principal",
    ),
    (&["InvalidIdentityToken"], Meaning::Denied, ""),
    (&["IDPCommunicationError"], Meaning::Transient, ""),
    (
        &["ExpiredToken", "ExpiredTokenException"],
        Meaning::DeniedOther,
        "hint: the token or session used for this hop expired before STS saw it; \
         check the runner's clock, and run vault-ci right before the credentials are needed",
    ),
    (
        &["InvalidClientTokenId", "SignatureDoesNotMatch"],
        Meaning::DeniedOther,
        "hint: the static keys are wrong or were rotated; check AWS_ACCESS_KEY_ID \
         and AWS_SECRET_ACCESS_KEY",
    ),
    (
        &["MalformedPolicyDocument"],
        Meaning::Rejected,
        "hint: --session-policy must be a valid IAM policy; check its actions and resources",
    ),
    (
        &["PackedPolicyTooLarge"],
        Meaning::Rejected,
        "hint: the session policy, --managed-policy ARNs and --tag values together are \
         too large: trim the policy, use fewer or shorter tags, or attach the policy to the role",
    ),
    (
        &["RegionDisabledException"],
        Meaning::Rejected,
        "hint: STS is not activated in {region}: activate it under IAM → Account settings, \
         or pass --region with an active region",
    ),
    (&["ValidationError"], Meaning::Rejected, ""),
    (
        &[
            "Throttling",
            "ThrottlingException",
            "RequestLimitExceeded",
            "TooManyRequestsException",
        ],
        Meaning::Throttled,
        "",
    ),
];

fn lookup(code: &str) -> Option<(Meaning, &'static str)> {
    CODES
        .iter()
        .find(|(codes, _, _)| codes.contains(&code))
        .map(|(_, meaning, hint)| (*meaning, *hint))
}

/// InvalidIdentityToken has two causes: a bad token (final) and STS failing to
/// fetch the issuer's JWKS (worth another try). Only the message tells them apart.
fn jwks_unreachable(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    [
        "couldn't retrieve verification key",
        "unable to retrieve",
        "jwks",
        "timed out",
    ]
    .iter()
    .any(|m| message.contains(m))
}

/// One call that failed: what it was, for the message.
pub struct Call<'a> {
    pub operation: &'static str,
    pub role: Option<&'a RoleArn>,
    /// The trust-policy hint for a denied web-identity hop, from STS's message.
    pub denial_hint: Option<&'a dyn Fn(&str) -> String>,
}

impl Call<'_> {
    fn what(&self) -> String {
        match self.role {
            Some(role) => format!("{} on {role}", self.operation),
            None => self.operation.to_string(),
        }
    }
}

pub fn classify<E>(sts: &Sts, call: &Call<'_>, err: SdkError<E, HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let what = call.what();
    let endpoint = sts.endpoint_shown();
    match &err {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let Some(code) = service.err().code() else {
                // Not STS's error format: an STS-compatible server or a proxy answered.
                let text = format!(
                    "{what} failed with HTTP {status} and a reply that is not an STS error; \
                     is {endpoint} really STS?"
                );
                return if status >= 500 || status == 429 {
                    Error::unavailable(Peer::Sts, text)
                } else {
                    Error::rejected(text)
                };
            };
            let message = service.err().message().unwrap_or("no message");
            let retry_after = service
                .raw()
                .headers()
                .get("retry-after")
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            service_error(sts, call, status, code, message, retry_after)
        }
        SdkError::DispatchFailure(failure) if failure.is_timeout() => timed_out(sts, &what),
        SdkError::DispatchFailure(_) if crate::net::too_large(&err) => Error::rejected(format!(
            "STS at {endpoint} answered {what} with more than {} bytes, where STS's answers \
             are a few kilobytes: is it really STS? check --sts-endpoint / AWS_ENDPOINT_URL_STS",
            crate::net::MAX_BODY
        )),
        SdkError::DispatchFailure(failure) => {
            let text = format!(
                "cannot reach STS at {endpoint} for {what}: {}",
                error_chain(&err)
            );
            if crate::net::tls_failure(&err).is_some() {
                // A TLS verdict does not change on retry.
                return Error::rejected(text).with_hint(
                    "hint: the server's certificate is not trusted: if a corporate proxy or CA \
                     signs it, pass its CA as --ca-bundle PEM (or AWS_CA_BUNDLE)",
                );
            }
            let error = if failure.is_io() || failure.is_timeout() {
                Error::unavailable(Peer::Sts, text)
            } else {
                Error::rejected(text)
            };
            error.with_hint(
                "hint: check --sts-endpoint / AWS_ENDPOINT_URL_STS, --region, the proxy \
                 (HTTPS_PROXY, NO_PROXY) and --ca-bundle",
            )
        }
        SdkError::TimeoutError(_) => timed_out(sts, &what),
        SdkError::ResponseError(_) => Error::rejected(format!(
            "STS at {endpoint} sent a reply to {what} that is not STS XML: {}",
            error_chain(&err)
        )),
        _ => Error::rejected(format!("{what} failed: {}", error_chain(&err))),
    }
}

fn timed_out(sts: &Sts, what: &str) -> Error {
    Error::unavailable(
        Peer::Sts,
        format!(
            "STS at {} did not answer {what} within {} s (--attempt-timeout)",
            sts.endpoint_shown(),
            sts.attempt_timeout.as_secs()
        ),
    )
}

fn service_error(
    sts: &Sts,
    call: &Call<'_>,
    status: u16,
    code: &str,
    message: &str,
    retry_after: Option<Duration>,
) -> Error {
    let what = call.what();
    let refused = format!("STS refused {what}: {code}: {message}");
    let fill = |hint: &str| {
        let role = call.role.map(|r| r.to_string()).unwrap_or_default();
        let role_name = call.role.map(|r| r.name().to_string()).unwrap_or_default();
        hint.replace("{role_name}", &role_name)
            .replace("{role}", &role)
            .replace("{region}", &sts.region)
    };
    let Some((meaning, hint)) = lookup(code) else {
        return if status >= 500 {
            Error::unavailable(
                Peer::Sts,
                format!("STS failed {what}: HTTP {status} {code}: {message}"),
            )
        } else {
            Error::rejected(refused)
        };
    };
    let with_hint = |error: Error, hint: &str| {
        if hint.is_empty() {
            error
        } else {
            error.with_hint(fill(hint))
        }
    };
    match meaning {
        Meaning::Denied if code == "InvalidIdentityToken" && jwks_unreachable(message) => {
            Error::unavailable(
                Peer::Sts,
                format!(
                    "STS could not fetch the token issuer's signing keys for {what}: {message}"
                ),
            )
        }
        Meaning::Denied => {
            let message = if code == "InvalidIdentityToken" {
                format!(
                    "{refused}; the token is malformed, or its issuer is not an IAM OIDC provider of the account"
                )
            } else {
                refused
            };
            match call.denial_hint {
                Some(denial_hint) => {
                    let hint = denial_hint(&message);
                    Error::denied(message).with_hint(hint)
                }
                None if call.role.is_some() => with_hint(Error::denied(message), hint),
                None => Error::denied(message),
            }
        }
        Meaning::DeniedOther => with_hint(Error::denied(refused), hint),
        Meaning::Rejected => with_hint(Error::rejected(refused), hint),
        Meaning::Transient if code == "IDPCommunicationError" => Error::unavailable(
            Peer::Sts,
            format!("STS could not reach the token's issuer for {what}: {message}"),
        ),
        Meaning::Transient => Error::unavailable(Peer::Sts, refused),
        Meaning::Throttled => {
            Error::throttled(format!("STS throttled {what} ({code})"), retry_after)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Kind, Retry};

    fn sts() -> Sts {
        Sts {
            region: "eu-south-2".into(),
            endpoint: None,
            http: crate::net::NetConfig::new(
                crate::net::NetOptions {
                    attempt_timeout: Duration::from_secs(1),
                    total_timeout: Duration::from_secs(1),
                    ..Default::default()
                },
                &crate::env::Env::default(),
                &["http://x"],
            )
            .unwrap()
            .sts_http_client(),
            retry: Default::default(),
            attempt_timeout: Duration::from_secs(1),
        }
    }

    fn classify_code(code: &str, message: &str) -> Error {
        let role: RoleArn = "arn:aws:iam::123456789012:role/deploy".parse().unwrap();
        let call = Call {
            operation: "AssumeRole",
            role: Some(&role),
            denial_hint: None,
        };
        service_error(&sts(), &call, 400, code, message, None)
    }

    #[test]
    fn every_code_in_the_table_has_one_meaning_and_a_message_naming_the_call() {
        let mut seen = std::collections::HashSet::new();
        for (codes, _, _) in CODES {
            for code in *codes {
                assert!(seen.insert(code), "{code} is in the table twice");
                let err = classify_code(code, "because");
                assert!(
                    err.message()
                        .contains("AssumeRole on arn:aws:iam::123456789012:role/deploy"),
                    "{code}: {err}"
                );
            }
        }
    }

    #[test]
    fn refusals_are_final_and_the_rest_retried_each_as_its_kind() {
        let cases = [
            ("AccessDenied", Kind::Denied, Retry::Never),
            ("InvalidClientTokenId", Kind::Denied, Retry::Never),
            ("MalformedPolicyDocument", Kind::Rejected, Retry::Never),
            (
                "IDPCommunicationError",
                Kind::Unavailable(Peer::Sts),
                Retry::Transient,
            ),
            (
                "Throttling",
                Kind::Unavailable(Peer::Sts),
                Retry::Throttled { after: None },
            ),
            ("SomethingNew", Kind::Rejected, Retry::Never),
        ];
        for (code, kind, retry) in cases {
            let err = classify_code(code, "m");
            assert_eq!((err.kind(), err.retry()), (kind, retry), "{code}");
        }
        let jwks = classify_code(
            "InvalidIdentityToken",
            "Couldn't retrieve verification key from your identity provider",
        );
        assert_eq!(jwks.retry(), Retry::Transient);
        let bad = classify_code("InvalidIdentityToken", "Incorrect token audience");
        assert_eq!(bad.retry(), Retry::Never);
    }

    #[test]
    fn hints_name_the_role_and_the_region() {
        let err = classify_code("RegionDisabledException", "STS is not activated");
        assert!(
            err.to_string().ends_with(
                "hint: STS is not activated in eu-south-2: activate it under IAM → Account settings, \
                 or pass --region with an active region"
            ),
            "{err}"
        );
        let err = classify_code("AccessDenied", "not authorized");
        assert_eq!(
            err.to_string(),
            "STS refused AssumeRole on arn:aws:iam::123456789012:role/deploy: AccessDenied: not authorized\n  \
             hint: the caller needs `sts:AssumeRole` on arn:aws:iam::123456789012:role/deploy in its own policy, \
             and the trust policy of deploy must name the caller as Principal"
        );
    }

    #[test]
    fn an_issuer_sts_cannot_reach_is_named_and_tried_again() {
        let err = classify_code("IDPCommunicationError", "Couldn't connect to the issuer");
        assert_eq!(
            err.message(),
            "STS could not reach the token's issuer for AssumeRole on \
             arn:aws:iam::123456789012:role/deploy: Couldn't connect to the issuer"
        );
        assert_eq!(err.retry(), Retry::Transient);
    }

    #[test]
    fn a_denial_of_a_call_that_names_no_role_carries_no_hint_about_one() {
        let call = Call {
            operation: "GetCallerIdentity",
            role: None,
            denial_hint: None,
        };
        let err = service_error(&sts(), &call, 403, "AccessDenied", "Not authorized", None);
        assert_eq!(
            err.message(),
            "STS refused GetCallerIdentity: AccessDenied: Not authorized"
        );
        assert_eq!((err.kind(), err.hint()), (Kind::Denied, None));
    }
}
