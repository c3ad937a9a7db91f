//! GitLab CI: a job gets OIDC tokens only through `id_tokens:`, each in a
//! variable the job definition names, with the audience set there too.

use super::{Context, Provider, TokenFuture, env_nonempty, token_from_variable};
use crate::error::{Error, Result};
use crate::identity::token::Token;

/// Variables tried, in order, when --token-env does not name one.
pub const CONVENTIONAL: &[&str] = &[
    "VAULT_CI_ID_TOKEN",
    "GITLAB_OIDC_TOKEN",
    "AWS_WEB_IDENTITY_TOKEN",
];

const ID_TOKENS_HINT: &str = "hint: declare the token in the job (the audience must match the IAM OIDC provider's client ID):\n\
    deploy:\n  id_tokens:\n    VAULT_CI_ID_TOKEN:\n      aud: sts.amazonaws.com";

pub struct Gitlab {
    running: bool,
    /// The variable named by --token-env, if any.
    named: Option<String>,
    pipeline_id: Option<String>,
    job_id: Option<String>,
}

impl Gitlab {
    pub fn from_env(token_env: Option<String>) -> Self {
        Gitlab {
            running: env_nonempty("GITLAB_CI").as_deref() == Some("true"),
            named: token_env,
            pipeline_id: env_nonempty("CI_PIPELINE_ID"),
            job_id: env_nonempty("CI_JOB_ID"),
        }
    }

    /// The variable holding the token, and its value.
    fn variable(&self) -> Option<(String, String)> {
        match &self.named {
            Some(name) => env_nonempty(name).map(|v| (name.clone(), v)),
            None => CONVENTIONAL
                .iter()
                .find_map(|name| env_nonempty(name).map(|v| (name.to_string(), v))),
        }
    }

    fn read(&self, ctx: &Context<'_>) -> Result<Token> {
        let (name, value) = self.variable().ok_or_else(|| self.missing_token())?;
        token_from_variable(
            &value,
            &name,
            ctx,
            "set that `aud:` under `id_tokens:` in .gitlab-ci.yml",
        )
    }
}

impl Provider for Gitlab {
    fn name(&self) -> &'static str {
        "gitlab"
    }

    fn title(&self) -> &'static str {
        "GitLab CI"
    }

    fn marker(&self) -> &'static str {
        "GITLAB_CI=true"
    }

    fn detected(&self) -> bool {
        self.running
    }

    fn has_token(&self) -> bool {
        self.variable().is_some()
    }

    fn missing_token(&self) -> Error {
        let looked = match &self.named {
            Some(name) => format!("${name} (from --token-env) is not set"),
            None => format!("none of ${} is set", CONVENTIONAL.join(", $")),
        };
        Error::identity(format!("this GitLab job has no OIDC token: {looked}"))
            .with_hint(ID_TOKENS_HINT)
    }

    /// `gitlab-<pipeline id>-<job id>`.
    fn session_name(&self) -> Option<String> {
        let pipeline = self.pipeline_id.as_deref()?;
        Some(match self.job_id.as_deref() {
            Some(job) => format!("gitlab-{pipeline}-{job}"),
            None => format!("gitlab-{pipeline}"),
        })
    }

    fn token<'a>(&'a self, ctx: &'a Context<'a>) -> TokenFuture<'a> {
        Box::pin(async move { self.read(ctx) })
    }
}
