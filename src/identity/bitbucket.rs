//! Bitbucket Pipelines: a step with `oidc: true` gets its token in
//! `BITBUCKET_STEP_OIDC_TOKEN`; the audience is fixed by Bitbucket.

use serde::Deserialize;

use super::{Ci, Context, Provider, ProviderOptions, System, TokenFuture};
use super::{Evidence, Issuer, Pattern, Reach, Scope, Subject, plain, token_from_variable};
use crate::env::Env;
use crate::error::{Error, Result};
use crate::secret::Secret;

#[derive(Debug, Default, Deserialize)]
pub struct Job {
    bitbucket_build_number: Option<String>,
    bitbucket_step_oidc_token: Option<Secret>,
}

impl Job {
    pub fn from_env(env: &Env) -> Self {
        env.deserialize()
    }

    fn env_token(&self) -> Option<&Secret> {
        self.bitbucket_step_oidc_token
            .as_ref()
            .filter(|t| !t.expose().is_empty())
    }
}

impl Provider for Job {
    fn ci(&self) -> Ci {
        Ci::Bitbucket
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

pub struct Bitbucket;

const ISSUER_PREFIX: &str = "api.bitbucket.org/2.0/workspaces/";
const ISSUER_SUFFIX: &str = "/pipelines-config/identity/oidc";
const AUDIENCE_PREFIX: &str = "ari:cloud:bitbucket::workspace/";

impl System for Bitbucket {
    fn name(&self) -> &'static str {
        "bitbucket"
    }

    fn title(&self) -> &'static str {
        "Bitbucket Pipelines"
    }

    fn marker(&self) -> &'static str {
        "BITBUCKET_BUILD_NUMBER"
    }

    fn help(&self) -> &'static str {
        "Bitbucket Pipelines' BITBUCKET_STEP_OIDC_TOKEN (steps with `oidc: true`)"
    }

    fn token_variables(&self) -> &'static [&'static str] {
        &["BITBUCKET_STEP_OIDC_TOKEN"]
    }

    fn provider(&self, env: &Env, _: &ProviderOptions) -> Box<dyn Provider> {
        Box::new(Job::from_env(env))
    }

    /// `{<repository uuid>}:{<environment uuid>}:{<step uuid>}`; the issuer names the workspace.
    fn trust_subject(&self, scope: &Scope) -> Result<Subject> {
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
            issuer: scope.issuer(&format!("{ISSUER_PREFIX}{workspace}{ISSUER_SUFFIX}")),
            audience: scope.audience(&format!(
                "{AUDIENCE_PREFIX}{}",
                workspace_uuid.trim_matches(['{', '}'])
            )),
            subject,
        })
    }

    /// One workspace's issuer: `api.bitbucket.org/2.0/workspaces/<workspace>/…`.
    fn issuer(&self, issuer: &str, _subs: &[&str]) -> Option<Issuer> {
        let workspace = issuer
            .get(ISSUER_PREFIX.len()..)
            .filter(|_| issuer.to_ascii_lowercase().starts_with(ISSUER_PREFIX))?
            .strip_suffix(ISSUER_SUFFIX)?;
        Some(Issuer {
            ci: Ci::Bitbucket,
            owner: Some(workspace.to_string()),
            everything: format!(
                "every present and future repository of the Bitbucket workspace {workspace}"
            ),
            shared_audience: false,
        })
    }

    /// `{REPOSITORY_UUID}:[{ENVIRONMENT_UUID}:]{STEP_UUID}`; the issuer already
    /// names the workspace.
    fn reach(&self, issuer: &Issuer, sub: Pattern<'_>) -> Reach {
        let Pattern { prefix, literal } = sub;
        let workspace = issuer.owner.as_deref().unwrap_or_default();
        if literal {
            Reach::One
        } else if prefix.is_empty() || prefix == "{" {
            Reach::Others(String::new()) // capped to the issuer's workspace
        } else if !prefix.starts_with('{') || prefix.contains('}') {
            Reach::One
        } else {
            Reach::Owner(format!(
                "every repository of the Bitbucket workspace {workspace} whose UUID starts with \"{prefix}\""
            ))
        }
    }

    /// Bitbucket signs no session tags into its tokens.
    fn narrowing(&self, _: &Evidence<'_>) -> Option<(String, String, Reach)> {
        None
    }

    /// The workspace is the issuer's, its UUID the audience's; the repository
    /// and environment are the `sub`'s.
    fn meant(&self, issuer: &Issuer, evidence: &Evidence<'_>) -> Scope {
        let braced = |part: &str| {
            part.strip_prefix('{')
                .and_then(|p| p.strip_suffix('}'))
                .filter(|uuid| plain(uuid))
                .map(str::to_string)
        };
        let parts: Vec<&str> = evidence
            .sub
            .map(|s| s.split(':').collect())
            .unwrap_or_default();
        let workspace_uuid = evidence
            .audience
            .and_then(|a| a.strip_prefix(AUDIENCE_PREFIX))
            .map(|uuid| uuid.trim_matches(['{', '}']).to_string())
            .filter(|uuid| plain(uuid));
        Scope {
            workspace: issuer.owner.clone(),
            workspace_uuid: Some(workspace_uuid.unwrap_or_else(|| "WORKSPACE_UUID".into())),
            repo_uuid: Some(
                parts
                    .first()
                    .and_then(|p| braced(p))
                    .unwrap_or_else(|| "REPO_UUID".into()),
            ),
            environment: match parts.as_slice() {
                [_, environment, _] => braced(environment),
                _ => None,
            },
            ..Scope::default()
        }
    }
}
