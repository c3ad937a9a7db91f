//! CircleCI: jobs that use a context get `CIRCLE_OIDC_TOKEN` (and the richer
//! `CIRCLE_OIDC_TOKEN_V2`, whose `sub` names the VCS ref), with the
//! organization id as audience. Another audience needs the `circleci` CLI.

use serde::Deserialize;

use super::{Ci, Context, Provider, TokenFuture, mint_with, token_from_variable};
use crate::env::Env;
use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::trust::{Scope, Subject};

#[derive(Debug, Default, Deserialize)]
pub struct CircleCi {
    circleci: Option<String>,
    circle_oidc_token_v2: Option<Secret>,
    circle_oidc_token: Option<Secret>,
    circle_build_num: Option<String>,
    circle_project_reponame: Option<String>,
}

impl CircleCi {
    pub fn from_env(env: &Env) -> Self {
        env.deserialize()
    }

    fn env_token(&self) -> Option<(&Secret, &'static str)> {
        let set = |t: &Option<Secret>| t.as_ref().filter(|t| !t.expose().is_empty()).is_some();
        if set(&self.circle_oidc_token_v2) {
            self.circle_oidc_token_v2
                .as_ref()
                .map(|t| (t, "CIRCLE_OIDC_TOKEN_V2"))
        } else if set(&self.circle_oidc_token) {
            self.circle_oidc_token
                .as_ref()
                .map(|t| (t, "CIRCLE_OIDC_TOKEN"))
        } else {
            None
        }
    }
}

impl Provider for CircleCi {
    fn ci(&self) -> Ci {
        Ci::Circleci
    }

    fn title(&self) -> &'static str {
        "CircleCI"
    }

    fn marker(&self) -> &'static str {
        "CIRCLECI=true"
    }

    fn detected(&self) -> bool {
        self.circleci.as_deref() == Some("true")
    }

    fn has_token(&self) -> bool {
        self.env_token().is_some()
    }

    fn missing_token(&self) -> Error {
        Error::identity(
            "this CircleCI job has no OIDC token (CIRCLE_OIDC_TOKEN_V2 / CIRCLE_OIDC_TOKEN are not set)",
        )
        .with_hint(
            "hint: CircleCI issues OIDC tokens only to jobs that use a context; add one to the job:\n\
             workflows:\n  deploy:\n    jobs:\n      - deploy:\n          context: aws",
        )
    }

    /// `circleci-<repo>-<build number>`.
    fn session_name(&self) -> Option<String> {
        let build = self.circle_build_num.as_deref()?;
        Some(match self.circle_project_reponame.as_deref() {
            Some(repo) => format!("circleci-{repo}-{build}"),
            None => format!("circleci-{build}"),
        })
    }

    /// Only through the `circleci` CLI, which is used for an explicit --audience.
    fn mints_fresh_tokens(&self, ctx: &Context<'_>) -> bool {
        ctx.audience.is_some()
    }

    fn token<'a>(&'a self, ctx: &'a Context<'a>) -> TokenFuture<'a> {
        Box::pin(async move {
            // The token in the environment carries the organization id as audience;
            // only an explicit --audience asks for another one.
            match ctx.audience {
                None => {
                    let (token, variable) = self.env_token().ok_or_else(|| self.missing_token())?;
                    token_from_variable(token.expose(), variable, ctx, "")
                }
                Some(audience) => {
                    let claims = serde_json::json!({ "aud": audience }).to_string();
                    mint_with(
                        "circleci",
                        &["run", "oidc", "get", "--claims", &claims],
                        "CircleCI tokens with a custom audience",
                    )
                    .await
                }
            }
        })
    }
}

/// `org/<org id>/project/<project id>/user/<user id>`, which
/// CIRCLE_OIDC_TOKEN_V2 extends with `/vcs-origin/<repo>/vcs-ref/<ref>`.
pub fn trust_subject(scope: &Scope) -> Result<Subject> {
    scope.unsupported("CircleCI", &["--branch", "--tag"])?;
    let org = scope.required(&scope.org_id, "--org-id UUID", "circleci")?;
    let project = scope.project_id.as_deref().unwrap_or("*");
    let tail = match (&scope.branch, &scope.tag) {
        (Some(branch), _) => format!("/user/*/vcs-origin/*/vcs-ref/refs/heads/{branch}"),
        (_, Some(tag)) => format!("/user/*/vcs-origin/*/vcs-ref/refs/tags/{tag}"),
        _ => "/user/*".to_string(),
    };
    Ok(Subject {
        issuer: scope.issuer(&format!("oidc.circleci.com/org/{org}")),
        audience: scope.audience(org),
        subject: format!("org/{org}/project/{project}{tail}"),
    })
}
