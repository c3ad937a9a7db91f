//! Bitbucket Pipelines: a step with `oidc: true` gets its token in
//! `BITBUCKET_STEP_OIDC_TOKEN`; the audience is fixed by Bitbucket.

use serde::Deserialize;

use super::{Context, Provider, TokenFuture, token_from_variable};
use crate::error::Error;
use crate::secret::Secret;

#[derive(Debug, Default, Deserialize)]
pub struct Bitbucket {
    bitbucket_build_number: Option<String>,
    bitbucket_step_oidc_token: Option<Secret>,
}

impl Bitbucket {
    pub fn from_env() -> Self {
        super::env_struct()
    }

    fn env_token(&self) -> Option<&Secret> {
        self.bitbucket_step_oidc_token
            .as_ref()
            .filter(|t| !t.expose().is_empty())
    }
}

impl Provider for Bitbucket {
    fn name(&self) -> &'static str {
        "bitbucket"
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
