//! Buildkite: the agent mints a token for any audience on request.

use serde::Deserialize;

use super::{Context, Provider, TokenFuture, mint_with};
use crate::error::Error;

#[derive(Debug, Default, Deserialize)]
pub struct Buildkite {
    buildkite: Option<String>,
    buildkite_build_number: Option<String>,
    buildkite_job_id: Option<String>,
}

impl Buildkite {
    pub fn from_env() -> Self {
        super::env_struct()
    }
}

impl Provider for Buildkite {
    fn name(&self) -> &'static str {
        "buildkite"
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
            mint_with(
                "buildkite-agent",
                &[
                    "oidc",
                    "request-token",
                    "--audience",
                    ctx.audience_or_default(),
                ],
                "Buildkite",
            )
            .await
        })
    }
}
