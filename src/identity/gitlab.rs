//! GitLab CI: a job gets OIDC tokens only through `id_tokens:`, each in a
//! variable the job definition names, with the audience set there too.

use super::{Ci, Context, Provider, TokenFuture, token_from_variable};
use super::{Scope, Subject};
use crate::env::Env;
use crate::error::{Error, Result};
use crate::token::Token;

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
    /// The variable holding the token, and its value.
    variable: Option<(String, String)>,
    pipeline_id: Option<String>,
    job_id: Option<String>,
}

impl Gitlab {
    pub fn from_env(env: &Env, token_env: Option<String>) -> Self {
        let variable = match &token_env {
            Some(name) => env.get(name).map(|v| (name.clone(), v.to_string())),
            None => env
                .first(CONVENTIONAL)
                .map(|(name, v)| (name.to_string(), v.to_string())),
        };
        Gitlab {
            running: env.is_true("GITLAB_CI"),
            named: token_env,
            variable,
            pipeline_id: env.get("CI_PIPELINE_ID").map(str::to_string),
            job_id: env.get("CI_JOB_ID").map(str::to_string),
        }
    }

    fn read(&self, ctx: &Context<'_>) -> Result<Token> {
        let (name, value) = self.variable.as_ref().ok_or_else(|| self.missing_token())?;
        token_from_variable(
            value,
            name,
            ctx,
            "set that `aud:` under `id_tokens:` in .gitlab-ci.yml",
        )
    }
}

impl Provider for Gitlab {
    fn ci(&self) -> Ci {
        Ci::Gitlab
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
        self.variable.is_some()
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

/// `project_path:<group>/<project>:ref_type:<branch|tag>:ref:<name>`, from
/// gitlab.com or the instance's own issuer (`--issuer`).
pub fn trust_subject(scope: &Scope) -> Result<Subject> {
    scope.unsupported("GitLab", &["--branch", "--tag"])?;
    let path = scope.required(
        &scope.project_path,
        "--project-path GROUP/PROJECT",
        "gitlab",
    )?;
    let context = match (&scope.branch, &scope.tag) {
        (Some(branch), _) => format!("ref_type:branch:ref:{branch}"),
        (_, Some(tag)) => format!("ref_type:tag:ref:{tag}"),
        _ => "*".to_string(),
    };
    Ok(Subject {
        issuer: scope.issuer("gitlab.com"),
        audience: scope.audience(super::DEFAULT_AUDIENCE),
        subject: format!("project_path:{path}:{context}"),
    })
}
