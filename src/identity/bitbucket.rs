//! Bitbucket Pipelines: a step with `oidc: true` gets its token in
//! `BITBUCKET_STEP_OIDC_TOKEN`; the audience is fixed by Bitbucket.

use serde::Deserialize;

use super::{Ci, Context, Provider, TokenFuture, token_from_variable};
use super::{Scope, Subject};
use crate::env::Env;
use crate::error::{Error, Result};
use crate::secret::Secret;

#[derive(Debug, Default, Deserialize)]
pub struct Bitbucket {
    bitbucket_build_number: Option<String>,
    bitbucket_step_oidc_token: Option<Secret>,
}

impl Bitbucket {
    pub fn from_env(env: &Env) -> Self {
        env.deserialize()
    }

    fn env_token(&self) -> Option<&Secret> {
        self.bitbucket_step_oidc_token
            .as_ref()
            .filter(|t| !t.expose().is_empty())
    }
}

impl Provider for Bitbucket {
    fn ci(&self) -> Ci {
        Ci::Bitbucket
    }

    fn title(&self) -> &'static str {
        "Bitbucket Pipelines"
    }

    fn marker(&self) -> &'static str {
        "BITBUCKET_BUILD_NUMBER"
    }

    fn detected(&self) -> bool {
        self.bitbucket_build_number.is_some() || self.env_token().is_some()
    }

    fn has_token(&self) -> bool {
        self.env_token().is_some()
    }

    fn missing_token(&self) -> Error {
        Error::identity(
            "this Bitbucket Pipelines step has no OIDC token (BITBUCKET_STEP_OIDC_TOKEN is not set)",
        )
        .with_hint("hint: enable OIDC on the step:\n- step:\n    oidc: true\n    script:\n      - vault-ci assume …")
    }

    /// `bitbucket-<build number>`.
    fn session_name(&self) -> Option<String> {
        Some(format!(
            "bitbucket-{}",
            self.bitbucket_build_number.as_deref()?
        ))
    }

    fn token<'a>(&'a self, ctx: &'a Context<'a>) -> TokenFuture<'a> {
        Box::pin(async move {
            let token = self.env_token().ok_or_else(|| self.missing_token())?;
            token_from_variable(
                token.expose(),
                "BITBUCKET_STEP_OIDC_TOKEN",
                ctx,
                "Bitbucket sets the audience itself (ari:cloud:bitbucket::workspace/<uuid>); drop --audience",
            )
        })
    }
}

/// `{<repository uuid>}:{<environment uuid>}:{<step uuid>}`; the issuer names the workspace.
pub fn trust_subject(scope: &Scope) -> Result<Subject> {
    scope.unsupported("Bitbucket", &["--environment"])?;
    let workspace = scope.required(&scope.workspace, "--workspace NAME", "bitbucket")?;
    let workspace_uuid =
        scope.required(&scope.workspace_uuid, "--workspace-uuid UUID", "bitbucket")?;
    let braced = |uuid: &str| format!("{{{}}}", uuid.trim_matches(['{', '}']));
    let repo = scope
        .repo_uuid
        .as_deref()
        .map(braced)
        .unwrap_or_else(|| "*".into());
    let subject = match &scope.environment {
        Some(environment) => format!("{repo}:{}:*", braced(environment)),
        None => format!("{repo}:*"),
    };
    Ok(Subject {
        issuer: scope.issuer(&format!(
            "api.bitbucket.org/2.0/workspaces/{workspace}/pipelines-config/identity/oidc"
        )),
        audience: scope.audience(&format!(
            "ari:cloud:bitbucket::workspace/{}",
            workspace_uuid.trim_matches(['{', '}'])
        )),
        subject,
    })
}
