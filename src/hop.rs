//! The hops: each turns what it is given (a token, or the previous hop's
//! credentials) into the next role's session through the real STS SDK.
//! Hop 1 with a token is AssumeRoleWithWebIdentity (unsigned); every other hop
//! is AssumeRole signed with the credentials before it.

use std::time::{Duration, SystemTime};

use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_sts::config::retry::RetryConfig;
use aws_sdk_sts::config::timeout::TimeoutConfig;
use aws_sdk_sts::config::{BehaviorVersion, Region};
use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sts::types::{PolicyDescriptorType, Tag};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use tracing::{debug, info};

use crate::arn::RoleArn;
use crate::error::{Error, Result};
use crate::identity::token::Token;
use crate::identity::{Context, Identity, Source};
use crate::retry::{RetryPolicy, retry};
use crate::secret::{Credentials, Secret};
use crate::trust;
use crate::validate::MIN_DURATION;

/// A token with less life than this left is fetched anew before a retry.
const TOKEN_FRESHNESS: i64 = 60;

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
    pub retry: RetryPolicy,
    pub attempt_timeout: Duration,
}

impl Sts {
    fn client(&self, credentials: Option<&Credentials>) -> aws_sdk_sts::Client {
        let mut config = aws_sdk_sts::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(self.region.clone()))
            .http_client(self.http.clone())
            // Retries are ours (crate::retry): explicit about what is transient.
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(self.attempt_timeout)
                    .operation_attempt_timeout(self.attempt_timeout)
                    .build(),
            );
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

    /// The partition and account of static keys (GetCallerIdentity).
    pub async fn caller_account(&self, keys: &Credentials) -> Result<(String, String)> {
        let arn = retry(&self.retry, |_| async {
            let output = self
                .client(Some(keys))
                .get_caller_identity()
                .send()
                .await
                .map_err(|e| self.sts_error("GetCallerIdentity", None, e, None))?;
            Ok(output.arn().unwrap_or_default().to_string())
        })
        .await?;
        let parts: Vec<&str> = arn.split(':').collect();
        match (parts.get(1), parts.get(4)) {
            (Some(partition), Some(account)) if !account.is_empty() => {
                Ok((partition.to_string(), account.to_string()))
            }
            _ => Err(Error::rejected(format!(
                "GetCallerIdentity answered `{arn}`, which names no account; give --role-arn as a whole ARN"
            ))),
        }
    }

    /// Gets the identity from `source` and walks the whole chain, retrying each
    /// hop on transient failures; returns the last hop's session.
    pub async fn run_chain(
        &self,
        source: &Source,
        ctx: &Context<'_>,
        hops: &[Hop],
        options: &HopOptions,
    ) -> Result<Session> {
        let (first, rest) = hops.split_first().ok_or_else(|| {
            Error::usage("no role to assume: pass --role-arn ARN or --chain NAME,...")
        })?;
        let duration_of = |index: usize| {
            if index + 1 == hops.len() {
                options.duration
            } else {
                MIN_DURATION
            }
        };
        let mut session = match source.identity(ctx).await? {
            Identity::WebIdentity(token) => {
                self.first_web_identity(
                    source,
                    ctx,
                    token,
                    first,
                    options,
                    duration_of(0),
                    rest.is_empty(),
                )
                .await?
            }
            Identity::Static(keys) => {
                retry(&self.retry, |_| {
                    self.assume_role(&keys, first, options, duration_of(0), rest.is_empty(), true)
                })
                .await?
            }
        };
        for (index, hop) in rest.iter().enumerate() {
            let last = index + 1 == rest.len();
            session = retry(&self.retry, |_| {
                self.assume_role(
                    &session.credentials,
                    hop,
                    options,
                    duration_of(index + 1),
                    last,
                    false,
                )
            })
            .await?;
        }
        Ok(session)
    }

    /// The web-identity hop, retried like any other, except that a token close
    /// to its expiry is fetched anew before trying again.
    #[allow(clippy::too_many_arguments)]
    async fn first_web_identity(
        &self,
        source: &Source,
        ctx: &Context<'_>,
        mut token: Token,
        hop: &Hop,
        options: &HopOptions,
        duration: u32,
        last: bool,
    ) -> Result<Session> {
        let mut attempt = 1;
        loop {
            match self
                .web_identity(&token, hop, options, duration, last)
                .await
            {
                Ok(session) => return Ok(session),
                Err(err) => {
                    if !self.retry.pause(&err, attempt).await {
                        return Err(self.retry.give_up(err, attempt));
                    }
                    attempt += 1;
                    if token.expires_within(TOKEN_FRESHNESS) {
                        debug!("the token is about to expire; fetching a fresh one");
                        token = source.token(ctx).await?;
                    }
                }
            }
        }
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
                Some(&hop.role),
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
            .map_err(|e| self.sts_error("AssumeRole", Some(&hop.role), e, None))?;
        session_from(
            output.credentials(),
            output.assumed_role_user().map(|u| u.arn()),
            hop,
        )
    }

    /// Turns an SDK error into one a user can act on, classified so that only
    /// transient failures are retried.
    fn sts_error<E>(
        &self,
        operation: &str,
        role: Option<&RoleArn>,
        err: SdkError<E, HttpResponse>,
        token: Option<(&Token, Option<&serde_json::Value>)>,
    ) -> Error
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let what = match role {
            Some(role) => format!("{operation} on {role}"),
            None => operation.to_string(),
        };
        let endpoint = self.endpoint_shown();
        match &err {
            SdkError::ServiceError(service) => {
                let inner = service.err();
                let status = service.raw().status().as_u16();
                let Some(code) = inner.code() else {
                    // Not STS's error format: an STS-compatible server or a proxy answered.
                    let text = format!(
                        "{what} failed with HTTP {status} and a reply that is not \
                         an STS error; is {endpoint} really STS?"
                    );
                    return if status >= 500 || status == 429 {
                        Error::unavailable(text)
                    } else {
                        Error::rejected(text)
                    };
                };
                let message = inner.message().unwrap_or("no message");
                let refused = format!("STS refused {what}: {code}: {message}");
                let trust_hint = || {
                    token
                        .zip(role)
                        .map(|((token, policy), role)| trust_policy_hint(role, token, policy))
                };
                match code {
                    "AccessDenied" | "IDPRejectedClaim" => {
                        let error = Error::denied(refused);
                        match (trust_hint(), role) {
                            (Some(hint), _) => error.with_hint(hint),
                            (None, Some(role)) => error.with_hint(format!(
                                "hint: the caller needs `sts:AssumeRole` on {role} in its own policy, and \
                                 the trust policy of {} must name the caller as Principal",
                                role.name()
                            )),
                            (None, None) => error,
                        }
                    }
                    // STS could not fetch the issuer's signing keys: the IdP's problem, for now.
                    "InvalidIdentityToken" if jwks_unreachable(message) => Error::unavailable(format!(
                        "STS could not fetch the token issuer's signing keys for {what}: {message}"
                    )),
                    "InvalidIdentityToken" => {
                        let error = Error::denied(format!(
                            "{refused}; the token is malformed, or its issuer is not an IAM OIDC provider of the account"
                        ));
                        match trust_hint() {
                            Some(hint) => error.with_hint(hint),
                            None => error,
                        }
                    }
                    "IDPCommunicationError" => Error::unavailable(format!(
                        "STS could not reach the token's issuer for {what}: {message}"
                    )),
                    "ExpiredToken" | "ExpiredTokenException" => Error::denied(refused).with_hint(
                        "hint: the token or session used for this hop expired before STS saw it; \
                         check the runner's clock, and run vault-ci right before the credentials are needed",
                    ),
                    "InvalidClientTokenId" | "SignatureDoesNotMatch" => Error::denied(refused).with_hint(
                        "hint: the static keys are wrong or were rotated; check AWS_ACCESS_KEY_ID \
                         and AWS_SECRET_ACCESS_KEY",
                    ),
                    "MalformedPolicyDocument" => Error::rejected(refused).with_hint(
                        "hint: --session-policy must be a valid IAM policy; check its actions and resources",
                    ),
                    "PackedPolicyTooLarge" => Error::rejected(refused).with_hint(
                        "hint: the session policy, --managed-policy ARNs and --tag values together are \
                         too large: trim the policy, use fewer or shorter tags, or attach the policy to the role",
                    ),
                    "RegionDisabledException" => Error::rejected(refused).with_hint(format!(
                        "hint: STS is not activated in {}: activate it under IAM → Account settings, \
                         or pass --region with an active region",
                        self.region
                    )),
                    "ValidationError" => Error::rejected(refused),
                    "Throttling" | "ThrottlingException" | "RequestLimitExceeded"
                    | "TooManyRequestsException" => Error::unavailable(format!(
                        "STS throttled {what} ({code})"
                    )),
                    _ if status >= 500 => Error::unavailable(format!(
                        "STS failed {what}: HTTP {status} {code}: {message}"
                    )),
                    _ => Error::rejected(refused),
                }
            }
            SdkError::DispatchFailure(failure) => {
                let text = format!(
                    "cannot reach STS at {endpoint} for {what}: {}",
                    error_chain(&err)
                );
                if text.contains("certificate") {
                    // A TLS verdict does not change on retry.
                    return Error::rejected(text).with_hint(
                        "hint: the server's certificate is not trusted: if a corporate proxy or CA \
                         signs it, pass its CA as --ca-bundle PEM (or AWS_CA_BUNDLE)",
                    );
                }
                let error = if failure.is_io() || failure.is_timeout() {
                    Error::unavailable(text)
                } else {
                    Error::rejected(text)
                };
                error.with_hint(
                    "hint: check --sts-endpoint / AWS_ENDPOINT_URL_STS, --region, the proxy \
                     (HTTPS_PROXY, NO_PROXY) and --ca-bundle",
                )
            }
            SdkError::TimeoutError(_) => Error::unavailable(format!(
                "STS at {endpoint} did not answer {what} within {} s (--attempt-timeout)",
                self.attempt_timeout.as_secs()
            )),
            SdkError::ResponseError(_) => Error::rejected(format!(
                "STS at {endpoint} sent a reply to {what} that is not STS XML: {}",
                error_chain(&err)
            )),
            _ => Error::rejected(format!("{what} failed: {}", error_chain(&err))),
        }
    }
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
        Error::rejected(format!(
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
