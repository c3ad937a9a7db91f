//! CircleCI: jobs that use a context get `CIRCLE_OIDC_TOKEN` (and the richer
//! `CIRCLE_OIDC_TOKEN_V2`, whose `sub` names the VCS ref), with the
//! organization id as audience, valid for an hour. The `circleci` CLI in the
//! job's image mints new ones (`circleci run oidc get`): for another audience,
//! and when the job's own token is used up.

use serde::Deserialize;

use super::{Ci, Context, Provider, TokenFuture, mint_with, token_from_variable};
use super::{Scope, Subject};
use crate::env::Env;
use crate::error::{Error, Result};
use crate::secret::Secret;

#[derive(Debug, Default, Deserialize)]
pub struct CircleCi {
    circleci: Option<String>,
    circle_oidc_token_v2: Option<Secret>,
    circle_oidc_token: Option<Secret>,
    circle_build_num: Option<String>,
    circle_project_reponame: Option<String>,
    circle_organization_id: Option<String>,
    /// The `circleci` CLI is on PATH.
    #[serde(skip)]
    cli: bool,
}

/// A job's token with less life than this left is minted anew, where the CLI can.
const FRESH_ENOUGH: i64 = 60;

impl CircleCi {
    pub fn from_env(env: &Env) -> Self {
        let mut circleci: CircleCi = env.deserialize();
        circleci.cli = crate::platform::on_path("circleci", env);
        circleci
    }

    /// The CLI mints a token for `audience`, or for the job's own (the organization).
    fn mintable(&self, audience: Option<&str>) -> Option<String> {
        let audience = audience.or(self.circle_organization_id.as_deref())?;
        self.cli.then(|| audience.to_string())
    }

    async fn mint(&self, audience: &str) -> Result<crate::token::Token> {
        let claims = serde_json::json!({ "aud": audience }).to_string();
        mint_with(
            "circleci",
            &["run", "oidc", "get", "--claims", &claims],
            "CircleCI tokens on request",
        )
        .await
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
        self.env_token().is_some() || self.mintable(None).is_some()
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

    /// Only through the `circleci` CLI.
    fn mints_fresh_tokens(&self, ctx: &Context<'_>) -> bool {
        self.mintable(ctx.audience).is_some()
    }

    fn token<'a>(&'a self, ctx: &'a Context<'a>) -> TokenFuture<'a> {
        Box::pin(async move {
            // An explicit --audience needs a token minted for it.
            if let Some(audience) = ctx.audience {
                return match self.mintable(Some(audience)) {
                    Some(audience) => self.mint(&audience).await,
                    None => Err(Error::identity(
                        "`circleci` is not on PATH, and it is what mints CircleCI tokens with a custom \
                         audience; run vault-ci inside the job's environment, or drop --audience",
                    )),
                };
            }
            let from_env = self
                .env_token()
                .map(|(token, variable)| token_from_variable(token.expose(), variable, ctx, ""));
            match (from_env, self.mintable(None)) {
                (Some(Ok(token)), minter)
                    if minter.is_none() || !token.expires_within(FRESH_ENOUGH) =>
                {
                    Ok(token)
                }
                (_, Some(audience)) => self.mint(&audience).await,
                (Some(result), None) => result,
                (None, None) => Err(self.missing_token()),
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
