//! A planned job, ready to run: the plan and its steps, every role a full
//! ARN. It runs the whole chain, identity → hops, for the first credentials
//! and again for every refresh of `--refresh` and `--serve`.

use std::time::SystemTime;

use tracing::{info, warn};

use crate::error::{Error, Result};
use crate::hop::{self, Start, Step, caller_identity};
use crate::identity::{Context, Identity, Source, TokenFuture};
use crate::net::within_timeout;
use crate::plan::{Plan, check_account};
use crate::secret::Credentials;
use crate::sink::Output;
use crate::time::{human_duration, rfc3339};
use crate::token::Token;

pub struct Job {
    pub plan: Plan,
    steps: Vec<Step>,
}

impl Job {
    /// The plan's steps, within --timeout (a bare role name costs one request).
    pub async fn ready(plan: Plan) -> Result<Job> {
        let steps = within_timeout(&plan.net, plan.steps()).await?;
        Ok(Job { plan, steps })
    }

    fn context(&self) -> Context<'_> {
        Context {
            audience: self.plan.audience.as_deref(),
            net: &self.plan.net,
        }
    }

    /// The whole chain once more, within `--timeout`: the first credentials and
    /// every refresh.
    pub async fn credentials(&self) -> Result<Output> {
        let ctx = self.context();
        // Boxed: the chain's future is deep, and nested in the server's it
        // overflows rustc's layout depth on some targets.
        let out = Box::pin(within_timeout(&self.plan.net, self.chain(&ctx))).await?;
        log_expiry(&out);
        Ok(out)
    }

    /// The identity, then every hop: the final session as the sinks want it.
    async fn chain(&self, ctx: &Context<'_>) -> Result<Output> {
        let plan = &self.plan;
        let renew = || -> TokenFuture<'_> {
            Box::pin(async {
                let token = plan.source.token(ctx).await?;
                plan.workflow.mask(token.jwt.expose());
                Ok(token)
            })
        };
        let start = match plan.source.identity(ctx).await? {
            Identity::WebIdentity(token) => {
                // The runner hides the token in all later log output once it has seen this.
                plan.workflow.mask(token.jwt.expose());
                self.admissible(&token)?;
                Start::Token {
                    token: Box::new(token),
                    renew: &renew,
                    trust_policy: plan.trust_policy.as_ref(),
                }
            }
            Identity::Keys(keys) if self.steps.is_empty() => return self.as_they_are(keys).await,
            Identity::Keys(keys) => Start::Keys(keys),
        };
        let session = hop::run(&plan.sts, start, &self.steps).await?;
        let account_id = crate::arn::session_account(&session.assumed_role_arn);
        if let Some(account) = &account_id {
            check_account(&plan.allowed_accounts, account, "the credentials")?;
        }
        Ok(Output {
            account_id,
            assumed_role_arn: session.assumed_role_arn,
            credentials: session.credentials,
            region: plan.region.clone(),
        })
    }

    /// What can be known of a token before STS judges it: that it is for the
    /// audience asked for, and that the role's trust policy, when a copy was
    /// given, admits it.
    fn admissible(&self, token: &Token) -> Result<()> {
        let plan = &self.plan;
        if let Some(wanted) = plan.audience.as_deref()
            && !token.claims.has_audience(wanted)
        {
            let had = token.claims.aud.as_ref().map(|a| a.to_string());
            return Err(Error::identity(format!(
                "the token from {} is for audience {}, not the --audience {wanted} asked for: \
                 request it for {wanted} where the job gets it (GitLab: `aud:` under \
                 `id_tokens:`), or drop --audience",
                token.origin,
                crate::text::one_line(had.as_deref().unwrap_or("(none)")),
            )));
        }
        let (Some(policy), Some(first)) = (&plan.trust_policy, self.steps.first()) else {
            return Ok(());
        };
        let Ok(verdict) = crate::trust::evaluate::evaluate(policy, token) else {
            return Ok(());
        };
        if verdict.admitted != Some(false) {
            return Ok(());
        }
        let subject = crate::trust::Subject::of_token(token);
        let statement = crate::trust::render(
            &subject.statement(first.role.partition(), first.role.account().as_str()),
        );
        Err(Error::denied(format!(
            "--trust-policy: the trust policy of {} does not admit the token from {}: {}",
            first.role,
            token.origin,
            crate::text::one_line(&verdict.reasons.join("; "))
        ))
        .with_hint(format!(
            "hint: give the job a token that meets the condition, or let the role admit this \
             token ({}), e.g. with this statement:\n{statement}",
            token.claims.summary()
        )))
    }

    /// `--no-role`: the source's own credentials, checked to work first.
    async fn as_they_are(&self, keys: Credentials) -> Result<Output> {
        let plan = &self.plan;
        let caller = caller_identity::call(&plan.sts, &keys).await?;
        check_account(&plan.allowed_accounts, &caller.account, "the credentials")?;
        info!("credentials of {} (no role assumed)", caller.arn);
        if matches!(plan.source, Source::Keys(_)) && !keys.is_session() {
            plan.workflow.notice(
                "These are long-lived access keys. With OIDC the job needs none: \
                 `vault-ci trust-policy` prints the role's trust policy to set up.",
            );
        }
        Ok(Output {
            account_id: Some(caller.account),
            assumed_role_arn: caller.arn,
            credentials: keys,
            region: plan.region.clone(),
        })
    }

    /// Where the CI cannot mint a new token, warns until when `who` can keep the
    /// credentials fresh: the expiry of the one token the CI handed over.
    pub async fn warn_refresh_limit(&self, who: &str) {
        if let Some((exp, title)) = self.plan.source.refresh_limit(&self.context()).await {
            warn!(
                "{who} can keep the credentials fresh only until {}, when the {title} token \
                 expires: {title} cannot mint a new one here",
                rfc3339(exp).unwrap_or_default()
            );
        }
    }
}

fn log_expiry(out: &Output) {
    match out.expiration() {
        Some(at) => {
            let left = out
                .credentials
                .expiration
                .and_then(|t| t.duration_since(SystemTime::now()).ok())
                .map(|d| human_duration(d.as_secs()))
                .unwrap_or_else(|| "0s".into());
            info!(
                "credentials for {} expire at {at} (in {left})",
                out.assumed_role_arn
            )
        }
        None => info!("credentials for {}", out.assumed_role_arn),
    }
}
