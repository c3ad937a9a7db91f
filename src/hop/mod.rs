//! The hops: each [`Step`] turns what it is given (a token, or the previous
//! hop's credentials) into the next role's session through the real STS SDK,
//! one file per STS call. Hop 1 with a token is AssumeRoleWithWebIdentity
//! (unsigned); every other hop is AssumeRole signed with the credentials before it.

mod assume_role;
pub mod caller_identity;
mod errors;
mod web_identity;

use std::cell::RefCell;
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_sts::config::retry::RetryConfig;
use aws_sdk_sts::config::timeout::TimeoutConfig;
use aws_sdk_sts::config::{BehaviorVersion, Region};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use tracing::debug;

use crate::arn::RoleArn;
use crate::error::{Error, Result};
use crate::identity::TokenFuture;
use crate::retry::{RetryPolicy, retry};
use crate::secret::{Credentials, Secret};
use crate::token::Token;
use crate::validate::MAX_DURATION;

/// A token with less life than this left is fetched anew before a retry.
const TOKEN_FRESHNESS: i64 = 60;

/// Session tags, key and value, in the order they are sent.
pub type Tags = Vec<(String, String)>;

/// One role to assume, with everything its request carries, validated before
/// the first request.
#[derive(Debug, Clone)]
pub struct Step {
    pub role: RoleArn,
    /// The name the user gave it (`deploy` in `--chain deploy,cfn`), or the ARN.
    pub label: String,
    pub session_name: String,
    pub duration: u32,
    pub external_id: Option<String>,
    pub tags: Tags,
    /// Tag keys to drop, and try once more, if STS finds the tags too large.
    pub droppable_tags: Vec<String>,
    pub transitive_tag_keys: Vec<String>,
    pub source_identity: Option<String>,
    pub policy: Option<String>,
    pub policy_arns: Vec<String>,
    /// MFA device and code, for a person's first AssumeRole.
    pub mfa: Option<(String, Secret)>,
    /// Ask again until the keys have no special characters (configure-aws-credentials'
    /// special-characters-workaround, for tools that mangle them).
    pub plain_keys: bool,
}

/// A hop's result: the role session and who it is.
#[derive(Debug, Clone)]
pub struct Session {
    pub credentials: Credentials,
    pub assumed_role_arn: String,
}

/// What the first hop starts from.
pub enum Start<'a> {
    /// An OIDC token, and how to get a fresh one if it nears expiry while retrying.
    Token {
        token: Box<Token>,
        renew: &'a dyn Fn() -> TokenFuture<'a>,
        /// A copy of the first role's trust policy, to explain a denial.
        trust_policy: Option<&'a serde_json::Value>,
    },
    Keys(Credentials),
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
    /// STS in `region`, or at `endpoint`, through the network set-up's client.
    pub fn new(region: String, endpoint: Option<String>, net: &crate::net::NetConfig) -> Sts {
        Sts {
            region,
            endpoint,
            http: net.sts_http_client(),
            retry: net.retry.clone(),
            attempt_timeout: net.attempt_timeout,
        }
    }

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
}

/// Walks the whole chain from `start`, retrying each hop on transient
/// failures; returns the last hop's session.
pub async fn run(sts: &Sts, start: Start<'_>, steps: &[Step]) -> Result<Session> {
    let plain_keys = steps.last().is_some_and(|step| step.plain_keys);
    let mut session = run_once(sts, &start, steps).await?;
    if !plain_keys {
        return Ok(session);
    }
    for _ in 1..PLAIN_KEY_TRIES {
        if !has_special_characters(&session.credentials) {
            return Ok(session);
        }
        debug!("the keys have special characters; asking again");
        session = run_once(sts, &start, steps).await?;
    }
    if has_special_characters(&session.credentials) {
        return Err(Error::rejected(format!(
            "--special-characters-workaround: {PLAIN_KEY_TRIES} sets of keys in a row had special \
             characters; the tool that needs plain keys should quote them instead"
        )));
    }
    Ok(session)
}

async fn run_once(sts: &Sts, start: &Start<'_>, steps: &[Step]) -> Result<Session> {
    let (first, rest) = steps.split_first().ok_or_else(|| {
        Error::usage("no role to assume: pass --role-arn ARN or --chain NAME,...")
    })?;
    let mut session = match start {
        Start::Token {
            token,
            renew,
            trust_policy,
        } => {
            let token = RefCell::new(token.as_ref().clone());
            retry(&sts.retry, |attempt| {
                let token = &token;
                async move {
                    if attempt > 1 && token.borrow().expires_within(TOKEN_FRESHNESS) {
                        debug!("the token is about to expire; fetching a fresh one");
                        let fresh = renew().await?;
                        *token.borrow_mut() = fresh;
                    }
                    let current = token.borrow().clone();
                    web_identity::call(sts, &current, first, *trust_policy).await
                }
            })
            .await?
        }
        Start::Keys(keys) => {
            retry(&sts.retry, |_| assume_role::call(sts, keys, first, true)).await?
        }
    };
    debug!("hop {} gave {}", first.label, session.assumed_role_arn);
    for step in rest {
        let signer = session.credentials;
        session = retry(&sts.retry, |_| assume_role::call(sts, &signer, step, false)).await?;
        debug!("hop {} gave {}", step.label, session.assumed_role_arn);
    }
    Ok(session)
}

fn policy_arns(arns: &[String]) -> Option<Vec<aws_sdk_sts::types::PolicyDescriptorType>> {
    if arns.is_empty() {
        return None;
    }
    Some(
        arns.iter()
            .map(|arn| {
                aws_sdk_sts::types::PolicyDescriptorType::builder()
                    .arn(arn)
                    .build()
            })
            .collect(),
    )
}

/// How often the final hop is asked again for keys without special characters.
/// About one AWS secret key in four has none of them.
const PLAIN_KEY_TRIES: usize = 32;

/// configure-aws-credentials' test: anything but letters and digits, in either key.
fn has_special_characters(creds: &Credentials) -> bool {
    let special = |s: &str| !s.chars().all(|c| c.is_ascii_alphanumeric());
    special(&creds.access_key_id) || special(creds.secret_access_key.expose())
}

/// STS's answer as credentials, checked before anything is delivered: an
/// answer without keys, already expired or with a lifetime STS never gives is
/// not from a working STS.
fn session_from(
    credentials: Option<&aws_sdk_sts::types::Credentials>,
    assumed_role_arn: Option<&str>,
    role: &RoleArn,
    endpoint: &str,
) -> Result<Session> {
    let bad = |why: &str| {
        Error::rejected(format!(
            "STS at {endpoint} answered for {role} with {why}; is it really STS?"
        ))
    };
    let creds = credentials.ok_or_else(|| bad("no credentials"))?;
    for (a, name, value) in [
        ("an", "AccessKeyId", creds.access_key_id()),
        ("a", "SecretAccessKey", creds.secret_access_key()),
        ("a", "SessionToken", creds.session_token()),
    ] {
        if value.trim().is_empty() {
            return Err(bad(&format!("an empty {name}")));
        }
        // STS's keys and tokens are base64 and the like. A line break would end
        // the line it is printed on (`--format env` in a job log) and start
        // another that the runner reads as a workflow command.
        if value.contains(char::is_control) {
            return Err(bad(&format!(
                "{a} {name} holding a line break or another control character"
            )));
        }
    }
    // The SDK's parser takes a document cut short for what it holds, and puts
    // the epoch in place of an Expiration that never came.
    if creds.expiration().secs() == 0 {
        return Err(bad("no Expiration (an answer cut short?)"));
    }
    let expiration =
        SystemTime::try_from(*creds.expiration()).map_err(|_| bad("an Expiration out of range"))?;
    let now = SystemTime::now();
    if expiration <= now {
        return Err(bad(&format!(
            "credentials that expired at {}",
            crate::time::rfc3339(crate::time::unix(expiration)).unwrap_or_default()
        )));
    }
    // STS gives at most 12 hours; a minute of slack for clocks.
    if expiration > now + Duration::from_secs(u64::from(MAX_DURATION) + 60) {
        return Err(bad("credentials that outlive the 12 hours STS ever grants"));
    }
    let assumed_role_arn = match assumed_role_arn {
        Some(arn) if crate::arn::session_account(arn).is_some() => arn.to_string(),
        Some(arn) => {
            return Err(bad(&format!(
                "the assumed-role ARN `{}`, which is not one",
                crate::text::one_line(arn)
            )));
        }
        None => return Err(bad("no AssumedRoleUser")),
    };
    Ok(Session {
        credentials: Credentials {
            access_key_id: creds.access_key_id().to_string(),
            secret_access_key: Secret::new(creds.secret_access_key()),
            session_token: Some(Secret::new(creds.session_token())),
            expiration: Some(expiration),
        },
        assumed_role_arn,
    })
}

#[cfg(test)]
pub mod replay;
#[cfg(test)]
mod tests;
