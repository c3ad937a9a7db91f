//! Buildkite: the agent mints a token for any audience on request.

use serde::Deserialize;

use super::{Process, Ci, Context, Provider, ProviderOptions, System, TokenFuture, mint_with};
use super::{Evidence, Issuer, Pattern, Reach, Scope, Subject, owner_name, plain};
use crate::env::Env;
use crate::error::{Error, Result};

#[derive(Debug, Default, Deserialize)]
pub struct Job {
    buildkite: Option<String>,
    buildkite_build_number: Option<String>,
    buildkite_job_id: Option<String>,
    /// Claims the agent copies into AWS session tags (--buildkite-session-tags).
    #[serde(skip)]
    session_tags: Option<String>,
}

impl Job {
    pub fn from_env(env: &Env, session_tags: Option<String>) -> Self {
        let session_tags = session_tags.filter(|tags| !tags.is_empty());
        Job {
            session_tags,
            ..env.deserialize()
        }
    }
}

impl Provider for Job {
    fn ci(&self) -> Ci {
        Ci::Buildkite
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

pub struct Buildkite;

const ISSUER: &str = "agent.buildkite.com";

impl System for Buildkite {
    fn name(&self) -> &'static str {
        "buildkite"
    }

    fn title(&self) -> &'static str {
        "Buildkite"
    }

    fn marker(&self) -> &'static str {
        "BUILDKITE=true"
    }

    fn help(&self) -> &'static str {
        "Buildkite's `buildkite-agent oidc request-token`"
    }

    /// None: the agent mints tokens with BUILDKITE_AGENT_ACCESS_TOKEN, which
    /// every later command of the step needs for the agent itself.
    fn token_variables(&self) -> &'static [&'static str] {
        &[]
    }

    fn provider(&self, env: &Env, options: &ProviderOptions) -> Box<dyn Provider> {
        Box::new(Job::from_env(
            env,
            options.buildkite_session_tags.clone(),
        ))
    }

    /// `organization:<org>:pipeline:<pipeline>:ref:<ref>:commit:<sha>:step:<key>`.
    fn trust_subject(&self, scope: &Scope) -> Result<Subject> {
        scope.unsupported("Buildkite", &["--branch", "--tag"])?;
        let org = scope.required(&scope.organization, "--organization SLUG", "buildkite")?;
        let pipeline = scope.pipeline.as_deref().unwrap_or("*");
        let reference = match (&scope.branch, &scope.tag) {
            (Some(branch), _) => format!("refs/heads/{branch}"),
            (_, Some(tag)) => format!("refs/tags/{tag}"),
            _ => "*".to_string(),
        };
        Ok(Subject {
            issuer: scope.issuer(ISSUER),
            audience: scope.audience(super::DEFAULT_AUDIENCE),
            subject: format!(
                "organization:{org}:pipeline:{pipeline}:ref:{reference}:commit:*:step:*"
            ),
        })
    }

    fn issuer(&self, issuer: &str, _subs: &[&str]) -> Option<Issuer> {
        issuer.eq_ignore_ascii_case(ISSUER).then(|| Issuer {
            ci: Ci::Buildkite,
            owner: None,
            everything: "any pipeline of any Buildkite organization".into(),
            shared_audience: true,
        })
    }

    /// `organization:ORG:pipeline:PIPELINE:ref:…:commit:…:step:…`.
    fn reach(&self, issuer: &Issuer, sub: Pattern<'_>) -> Reach {
        if sub.literal {
            return Reach::One;
        }
        let Some(rest) = sub.prefix.strip_prefix("organization:") else {
            return super::scope::outside("organization:", sub.prefix, &issuer.everything);
        };
        let segments: Vec<&str> = rest.split(':').collect();
        let organization = segments[0];
        let all = || Reach::Owner(every_pipeline(organization));
        match segments.as_slice() {
            [""] => Reach::Others(issuer.everything.clone()),
            [partial] => Reach::Others(format!(
                "the pipelines of every Buildkite organization whose slug starts with \"{partial}\""
            )),
            [_, key] if "pipeline".starts_with(key) => all(),
            [_, "pipeline", ""] => all(),
            [_, "pipeline", partial] => Reach::Owner(format!(
                "every pipeline of the Buildkite organization {organization} whose slug starts with \"{partial}\""
            )),
            _ => Reach::One,
        }
    }

    /// Buildkite's documented trust policy pins the organization and pipeline
    /// with session tags rather than `sub`: Buildkite signs them into the token
    /// (`https://aws.amazon.com/tags`), so they narrow as `sub` would.
    fn narrowing(&self, evidence: &Evidence<'_>) -> Option<(String, String, Reach)> {
        let tag = |name: &str| evidence.literal(&format!("aws:RequestTag/{name}"));
        let (key, organization) = tag("organization_slug").or_else(|| tag("organization_id"))?;
        let reach = if tag("pipeline_slug").is_some() {
            Reach::One
        } else {
            Reach::Owner(every_pipeline(organization))
        };
        Some((key.to_string(), organization.to_string(), reach))
    }

    /// The organization and pipeline of the `sub` (or of the session tags),
    /// and its ref.
    fn meant(&self, _: &Issuer, evidence: &Evidence<'_>) -> Scope {
        let segments: Vec<&str> = evidence
            .sub
            .map(|s| s.split(':').collect())
            .unwrap_or_default();
        let tag = |name: &str| {
            evidence
                .literal(&format!("aws:RequestTag/{name}"))
                .map(|(_, value)| value)
                .filter(|value| plain(value))
                .map(str::to_string)
        };
        let organization = match segments.as_slice() {
            ["organization", org, _, ..] if plain(org) => Some(org.to_string()),
            ["organization", org, ..] => owner_name(org),
            _ => tag("organization_slug"),
        };
        let pipeline = match segments.as_slice() {
            ["organization", _, "pipeline", pipeline, ..] if plain(pipeline) => {
                Some(pipeline.to_string())
            }
            ["organization", ..] => None,
            _ => tag("pipeline_slug"),
        };
        let reference = segments
            .iter()
            .position(|s| *s == "ref")
            .and_then(|at| segments.get(at + 1));
        let branch = reference.and_then(|r| r.strip_prefix("refs/heads/"));
        Scope {
            organization: Some(organization.unwrap_or_else(|| "ORGANIZATION".into())),
            pipeline: Some(pipeline.unwrap_or_else(|| "PIPELINE".into())),
            branch: branch.map(str::to_string),
            tag: reference
                .filter(|_| branch.is_none())
                .and_then(|r| r.strip_prefix("refs/tags/"))
                .map(str::to_string),
            ..Scope::default()
        }
    }

    /// `buildkite-agent bootstrap` runs one job; `buildkite-agent start`, its
    /// parent, is the long-lived agent.
    fn job_process(&self, ancestors: &[Process]) -> Option<u32> {
        ancestors
            .iter()
            .find(|p| p.name == "buildkite-agent" && p.args.iter().any(|a| a == "bootstrap"))
            .map(|p| p.pid)
    }
}

fn every_pipeline(organization: &str) -> String {
    format!("every present and future pipeline of the Buildkite organization {organization}")
}
