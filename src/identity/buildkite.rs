//! Buildkite: the agent mints a token for any audience on request.

use serde::Deserialize;

use super::{Ci, Context, Provider, TokenFuture, mint_with};
use super::{Scope, Subject};
use crate::env::Env;
use crate::error::{Error, Result};

#[derive(Debug, Default, Deserialize)]
pub struct Buildkite {
    buildkite: Option<String>,
    buildkite_build_number: Option<String>,
    buildkite_job_id: Option<String>,
    /// Claims the agent copies into AWS session tags (--buildkite-session-tags).
    #[serde(skip)]
    session_tags: Option<String>,
}

impl Buildkite {
    pub fn from_env(env: &Env, session_tags: Option<String>) -> Self {
        let session_tags = session_tags.filter(|tags| !tags.is_empty());
        Buildkite {
            session_tags,
            ..env.deserialize()
        }
    }
}

impl Provider for Buildkite {
    fn ci(&self) -> Ci {
        Ci::Buildkite
    }

    fn title(&self) -> &'static str {
        "Buildkite"
    }

    fn marker(&self) -> &'static str {
        "BUILDKITE=true"
    }

    fn detected(&self) -> bool {
        self.buildkite.as_deref() == Some("true")
    }

    /// The agent is always able to mint; a missing agent is reported when asked.
    fn has_token(&self) -> bool {
        true
    }

    fn missing_token(&self) -> Error {
        Error::identity("Buildkite tokens come from `buildkite-agent oidc request-token`")
    }

    /// `buildkite-<build number>-<job id>`.
    fn session_name(&self) -> Option<String> {
        let build = self.buildkite_build_number.as_deref()?;
        Some(match self.buildkite_job_id.as_deref() {
            Some(job) => format!("buildkite-{build}-{job}"),
            None => format!("buildkite-{build}"),
        })
    }

    fn mints_fresh_tokens(&self, _ctx: &Context<'_>) -> bool {
        true
    }

    fn token<'a>(&'a self, ctx: &'a Context<'a>) -> TokenFuture<'a> {
        Box::pin(async move {
            let mut args = vec![
                "oidc",
                "request-token",
                "--audience",
                ctx.audience_or_default(),
            ];
            // As the agent takes them, and as aws-assume-role-with-web-identity asks: one
            // comma-separated argument.
            if let Some(tags) = &self.session_tags {
                args.extend(["--aws-session-tag", tags]);
            }
            mint_with("buildkite-agent", &args, "Buildkite").await
        })
    }
}

/// `organization:<org>:pipeline:<pipeline>:ref:<ref>:commit:<sha>:step:<key>`.
pub fn trust_subject(scope: &Scope) -> Result<Subject> {
    scope.unsupported("Buildkite", &["--branch", "--tag"])?;
    let org = scope.required(&scope.organization, "--organization SLUG", "buildkite")?;
    let pipeline = scope.pipeline.as_deref().unwrap_or("*");
    let reference = match (&scope.branch, &scope.tag) {
        (Some(branch), _) => format!("refs/heads/{branch}"),
        (_, Some(tag)) => format!("refs/tags/{tag}"),
        _ => "*".to_string(),
    };
    Ok(Subject {
        issuer: scope.issuer("agent.buildkite.com"),
        audience: scope.audience(super::DEFAULT_AUDIENCE),
        subject: format!("organization:{org}:pipeline:{pipeline}:ref:{reference}:commit:*:step:*"),
    })
}
