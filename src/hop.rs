//! The hops: each turns what it is given (a token, or the previous hop's
//! credentials) into the next role's session through the real STS SDK.
//! Hop 1 with a token is AssumeRoleWithWebIdentity (unsigned); every other hop
//! is AssumeRole signed with the credentials before it.

use std::time::SystemTime;

use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_sts::config::{BehaviorVersion, Region};
use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sts::types::{PolicyDescriptorType, Tag};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use tracing::{debug, info};

use crate::arn::RoleArn;
use crate::error::{Error, Result};
use crate::identity::Identity;
use crate::identity::token::Token;
use crate::secret::{Credentials, Secret};
use crate::trust;
use crate::validate::MIN_DURATION;

/// One role to assume. `label` is the name the user gave it (`deploy` in
/// `--chain deploy,cfn`), or the ARN itself.
#[derive(Debug, Clone)]
pub struct Hop {
    pub role: RoleArn,
    pub label: String,
}

/// Per-run options, validated before the first request.
#[derive(Debug, Default)]
pub struct HopOptions {
    pub session_name: String,
    /// Lifetime of the final credentials; intermediate hops ask for the minimum.
    pub duration: u32,
    pub external_id: Option<String>,
    pub session_policy: Option<String>,
    pub managed_policies: Vec<String>,
    pub tags: Vec<(String, String)>,
    pub source_identity: Option<String>,
    pub mfa: Option<(String, Secret)>,
    /// A copy of the first role's trust policy, to explain a denial.
    pub trust_policy: Option<serde_json::Value>,
}

/// A hop's result: the role session and who it is.
#[derive(Debug, Clone)]
pub struct Session {
    pub credentials: Credentials,
    pub assumed_role_arn: String,
}

/// Where STS is and how to reach it; shared by every hop so a chain reuses
/// one connection.
pub struct Sts {
    pub region: String,
    pub endpoint: Option<String>,
    pub http: SharedHttpClient,
}

impl Sts {
    fn client(&self, credentials: Option<&Credentials>) -> aws_sdk_sts::Client {
        let mut config = aws_sdk_sts::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(self.region.clone()))
            .http_client(self.http.clone());
        if let Some(endpoint) = &self.endpoint {
            config = config.endpoint_url(endpoint);
        }
        if let Some(creds) = credentials {
            config = config.credentials_provider(SharedCredentialsProvider::new(
                aws_credential_types::Credentials::new(
                    creds.access_key_id.clone(),
                    creds.secret_access_key.expose().to_string(),
                    creds.session_token.as_ref().map(|t| t.expose().to_string()),
                    creds.expiration,
                    "vault-ci",
                ),
            ));
        }
        aws_sdk_sts::Client::from_conf(config.build())
    }

    fn endpoint_shown(&self) -> String {
        self.endpoint
            .clone()
            .unwrap_or_else(|| format!("the {} regional STS endpoint", self.region))
    }

    /// Walks the whole chain and returns the last hop's session.
    pub async fn run_chain(
        &self,
        identity: Identity,
        hops: &[Hop],
        options: &HopOptions,
    ) -> Result<Session> {
        let mut previous: Option<Session> = None;
        let mut identity = Some(identity);
        for (index, hop) in hops.iter().enumerate() {
            let last = index + 1 == hops.len();
            let duration = if last { options.duration } else { MIN_DURATION };
            let session = match (previous.take(), identity.take()) {
                (Some(prev), _) => {
                    self.assume_role(&prev.credentials, hop, options, duration, last, false)
                        .await?
                }
                (None, Some(Identity::WebIdentity(token))) => {
                    self.web_identity(&token, hop, options, duration, last)
                        .await?
                }
                (None, Some(Identity::Static(keys))) => {
                    self.assume_role(&keys, hop, options, duration, last, true)
                        .await?
                }
                (None, None) => unreachable!("the identity is used by the first hop only"),
            };
            previous = Some(session);
        }
        previous.ok_or_else(|| {
            Error::usage("no role to assume: pass --role-arn ARN or --chain NAME,...")
        })
    }

    async fn web_identity(
        &self,
        token: &Token,
        hop: &Hop,
        options: &HopOptions,
        duration: u32,
        last: bool,
    ) -> Result<Session> {
        info!(
            "AssumeRoleWithWebIdentity {} as session {} ({})",
            hop.role,
            options.session_name,
            token.claims.summary()
        );
        let mut request = self
            .client(None)
            .assume_role_with_web_identity()
            .role_arn(hop.role.as_str())
            .role_session_name(&options.session_name)
            .web_identity_token(token.jwt.expose())
            .duration_seconds(duration as i32);
        if last {
            request = request
                .set_policy(options.session_policy.clone())
                .set_policy_arns(policy_arns(&options.managed_policies));
        }
        let output = request.send().await.map_err(|e| {
            self.sts_error(
                "AssumeRoleWithWebIdentity",
                hop,
                e,
                Some((token, options.trust_policy.as_ref())),
            )
        })?;
        session_from(
            output.credentials(),
            output.assumed_role_user().map(|u| u.arn()),
            hop,
        )
    }

    async fn assume_role(
        &self,
        base: &Credentials,
        hop: &Hop,
        options: &HopOptions,
        duration: u32,
        last: bool,
        from_keys: bool,
    ) -> Result<Session> {
        info!(
            "AssumeRole {} as session {} (signed by {})",
            hop.role,
            options.session_name,
            base.masked_key_id()
        );
        let mut request = self
            .client(Some(base))
            .assume_role()
            .role_arn(hop.role.as_str())
            .role_session_name(&options.session_name)
            .duration_seconds(duration as i32)
            .set_external_id(options.external_id.clone())
            .set_source_identity(options.source_identity.clone());
        for (key, value) in &options.tags {
            request = request.tags(
                Tag::builder()
                    .key(key)
                    .value(value)
                    .build()
                    .expect("key and value are set"),
            );
        }
        if from_keys && let Some((serial, code)) = &options.mfa {
            request = request.serial_number(serial).token_code(code.expose());
        }
        if last {
            request = request
                .set_policy(options.session_policy.clone())
                .set_policy_arns(policy_arns(&options.managed_policies));
        }
        let output = request
            .send()
            .await
            .map_err(|e| self.sts_error("AssumeRole", hop, e, None))?;
        session_from(
            output.credentials(),
            output.assumed_role_user().map(|u| u.arn()),
            hop,
        )
    }

    fn sts_error<E>(
        &self,
        operation: &str,
        hop: &Hop,
        err: SdkError<E, HttpResponse>,
        token: Option<(&Token, Option<&serde_json::Value>)>,
    ) -> Error
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let role = &hop.role;
        match &err {
            SdkError::ServiceError(service) => {
                let inner = service.err();
                let status = service.raw().status().as_u16();
                let Some(code) = inner.code() else {
                    // Not STS's error format: an STS-compatible server or a proxy answered.
                    return Error::sts(format!(
                        "{operation} on {role} failed with HTTP {status} and a reply that is not \
                         an STS error; is {} really STS?",
                        self.endpoint_shown()
                    ));
                };
                let message = inner.message().unwrap_or("no message");
                let error = Error::sts(format!(
                    "STS refused {operation} on {role}: {code}: {message}"
                ));
                match (code, token) {
                    (
                        "AccessDenied" | "InvalidIdentityToken" | "IDPRejectedClaim",
                        Some((token, policy)),
                    ) => error.with_hint(trust_policy_hint(role, token, policy)),
                    ("AccessDenied", None) => error.with_hint(format!(
                        "hint: the caller needs `sts:AssumeRole` on {role} in its own policy, and \
                         the trust policy of {} must name the caller as Principal",
                        role.name()
                    )),
                    ("ExpiredToken" | "ExpiredTokenException", _) => error.with_hint(
                        "hint: the credentials or token used for this hop had expired; fetch fresh ones",
                    ),
                    ("InvalidClientTokenId" | "SignatureDoesNotMatch", _) => error.with_hint(
                        "hint: the static keys are wrong or were rotated; check AWS_ACCESS_KEY_ID \
                         and AWS_SECRET_ACCESS_KEY",
                    ),
                    _ => error,
                }
            }
            SdkError::DispatchFailure(_) => Error::sts(format!(
                "cannot reach STS at {} for {operation} on {role}: {}",
                self.endpoint_shown(),
                error_chain(&err)
            ))
            .with_hint(
                "hint: check --sts-endpoint / AWS_ENDPOINT_URL_STS, --region, the proxy \
                 (HTTPS_PROXY, NO_PROXY) and --ca-bundle",
            ),
            SdkError::TimeoutError(_) => Error::sts(format!(
                "STS at {} did not answer {operation} on {role} in time",
                self.endpoint_shown()
            )),
            _ => Error::sts(format!(
                "{operation} on {role} failed: {}",
                error_chain(&err)
            )),
        }
    }
}

fn policy_arns(arns: &[String]) -> Option<Vec<PolicyDescriptorType>> {
    if arns.is_empty() {
        return None;
    }
    Some(
        arns.iter()
            .map(|arn| PolicyDescriptorType::builder().arn(arn).build())
            .collect(),
    )
}

fn session_from(
    credentials: Option<&aws_sdk_sts::types::Credentials>,
    assumed_role_arn: Option<&str>,
    hop: &Hop,
) -> Result<Session> {
    let creds = credentials.ok_or_else(|| {
        Error::sts(format!(
            "STS answered for {} without credentials; is the STS endpoint really STS?",
            hop.role
        ))
    })?;
    let expiration = SystemTime::try_from(*creds.expiration()).ok();
    let assumed_role_arn = assumed_role_arn.unwrap_or(hop.role.as_str()).to_string();
    debug!("hop {} gave {}", hop.label, assumed_role_arn);
    Ok(Session {
        credentials: Credentials {
            access_key_id: creds.access_key_id().to_string(),
            secret_access_key: Secret::new(creds.secret_access_key()),
            session_token: Some(Secret::new(creds.session_token())),
            expiration,
        },
        assumed_role_arn,
    })
}

/// What a denied web-identity exchange most often needs: the claims STS saw,
/// the trust-policy statement that would admit exactly this token (the text
/// `vault-ci trust-policy` prints), and, given a copy of the role's policy,
/// the condition in it that fails.
fn trust_policy_hint(role: &RoleArn, token: &Token, policy: Option<&serde_json::Value>) -> String {
    let subject = trust::Subject::of_token(token);
    let statement = trust::render(&subject.statement(role.partition(), role.account()));
    let mut hint = format!(
        "hint: STS judged the token from {origin}: {summary}\n\
         the trust policy of {name} must admit it, for example with this statement:\n\
         {statement}\n\
         and the account needs an IAM OIDC provider for {issuer} with client ID {aud}",
        origin = token.origin,
        summary = token.claims.summary(),
        name = role.name(),
        issuer = subject.issuer,
        aud = subject.audience,
    );
    if let Some(policy) = policy {
        match trust::evaluate::evaluate(policy, token) {
            Ok(verdict) => {
                hint.push_str("\nchecked against --trust-policy:");
                for reason in verdict.reasons {
                    hint.push_str(&format!("\n  {reason}"));
                }
            }
            Err(why) => hint.push_str(&format!("\n--trust-policy could not be checked: {why}")),
        }
    }
    hint
}

/// An error and its causes on one line: "dispatch failure: io error: connection refused".
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.last().is_some_and(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}
