//! CircleCI: jobs that use a context get `CIRCLE_OIDC_TOKEN` (and the richer
//! `CIRCLE_OIDC_TOKEN_V2`, whose `sub` names the VCS ref), with the
//! organization id as audience, valid for an hour. The `circleci` CLI in the
//! job's image mints new ones (`circleci run oidc get`): for another audience,
//! and when the job's own token is used up.

use serde::Deserialize;

use super::token_from_variable;
use super::{Process, Ci, Context, Provider, ProviderOptions, System, TokenFuture};
use super::{Evidence, Issuer, Pattern, Reach, Scope, Subject, mint_with, plain};
use crate::env::Env;
use crate::error::{Error, Result};
use crate::secret::Secret;

#[derive(Debug, Default, Deserialize)]
pub struct Job {
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

impl Job {
    pub fn from_env(env: &Env) -> Self {
        let mut circleci: Job = env.deserialize();
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

impl Provider for Job {
    fn ci(&self) -> Ci {
        Ci::Circleci
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

pub struct CircleCi;

const ISSUER_PREFIX: &str = "oidc.circleci.com/org/";

impl System for CircleCi {
    fn name(&self) -> &'static str {
        "circleci"
    }

    fn title(&self) -> &'static str {
        "CircleCI"
    }

    fn marker(&self) -> &'static str {
        "CIRCLECI=true"
    }

    fn help(&self) -> &'static str {
        "CircleCI's CIRCLE_OIDC_TOKEN_V2 / CIRCLE_OIDC_TOKEN (jobs with a context)"
    }

    fn token_variables(&self) -> &'static [&'static str] {
        &["CIRCLE_OIDC_TOKEN", "CIRCLE_OIDC_TOKEN_V2"]
    }

    fn provider(&self, env: &Env, _: &ProviderOptions) -> Box<dyn Provider> {
        Box::new(Job::from_env(env))
    }

    /// `org/<org id>/project/<project id>/user/<user id>`, which
    /// CIRCLE_OIDC_TOKEN_V2 extends with `/vcs-origin/<repo>/vcs-ref/<ref>`.
    fn trust_subject(&self, scope: &Scope) -> Result<Subject> {
        scope.unsupported("CircleCI", &["--branch", "--tag"])?;
        let org = scope.required(&scope.org_id, "--org-id UUID", "circleci")?;
        let project = scope.project_id.as_deref().unwrap_or("*");
        let tail = match (&scope.branch, &scope.tag) {
            (Some(branch), _) => format!("/user/*/vcs-origin/*/vcs-ref/refs/heads/{branch}"),
            (_, Some(tag)) => format!("/user/*/vcs-origin/*/vcs-ref/refs/tags/{tag}"),
            _ => "/user/*".to_string(),
        };
        Ok(Subject {
            issuer: scope.issuer(&format!("{ISSUER_PREFIX}{org}")),
            audience: scope.audience(org),
            subject: format!("org/{org}/project/{project}{tail}"),
        })
    }

    /// `oidc.circleci.com/org/<org id>`: one organization's issuer.
    fn issuer(&self, issuer: &str, _subs: &[&str]) -> Option<Issuer> {
        let org = issuer.get(ISSUER_PREFIX.len()..).filter(|org| {
            issuer.to_ascii_lowercase().starts_with(ISSUER_PREFIX) && !org.contains('/')
        })?;
        Some(Issuer {
            ci: Ci::Circleci,
            owner: Some(org.to_string()),
            everything: format!(
                "every present and future project of the CircleCI organization {org}"
            ),
            shared_audience: false,
        })
    }

    /// `org/ORG/project/PROJECT/user/USER[/vcs-origin/…/vcs-ref/…]`; the issuer
    /// already names the organization, so the worst is the whole organization.
    fn reach(&self, issuer: &Issuer, sub: Pattern<'_>) -> Reach {
        let Pattern { prefix, literal } = sub;
        let org = issuer.owner.as_deref().unwrap_or_default();
        let all = || Reach::Others(String::new()); // capped to the issuer's organization
        if literal {
            return Reach::One;
        }
        let Some(rest) = prefix.strip_prefix("org/") else {
            return if "org/".starts_with(prefix) {
                all()
            } else {
                Reach::One
            };
        };
        let segments: Vec<&str> = rest.split('/').collect();
        match segments.as_slice() {
            [_] => all(),
            [other, ..] if !other.eq_ignore_ascii_case(org) => Reach::One,
            [_, key] if "project".starts_with(key) => all(),
            [_, "project", partial] if !partial.is_empty() => Reach::Owner(format!(
                "every project of the CircleCI organization {org} whose ID starts with \"{partial}\""
            )),
            [_, "project", _] => all(),
            _ => Reach::One,
        }
    }

    /// CircleCI signs no session tags into its tokens.
    fn narrowing(&self, _: &Evidence<'_>) -> Option<(String, String, Reach)> {
        None
    }

    /// The organization is the issuer's; the project and ref are the `sub`'s.
    fn meant(&self, issuer: &Issuer, evidence: &Evidence<'_>) -> Scope {
        let sub = evidence.sub;
        let segments: Vec<&str> = sub.map(|s| s.split('/').collect()).unwrap_or_default();
        let project = match segments.as_slice() {
            ["org", _, "project", project, _, ..] if plain(project) => *project,
            _ => "PROJECT_ID",
        };
        let reference = |prefix: &str| {
            let s = sub?;
            let at = s.find(prefix)?;
            Some(s[at + prefix.len()..].to_string()).filter(|r| !r.is_empty())
        };
        let branch = reference("/vcs-ref/refs/heads/");
        Scope {
            org_id: issuer.owner.clone(),
            project_id: Some(project.to_string()),
            tag: branch
                .is_none()
                .then(|| reference("/vcs-ref/refs/tags/"))
                .flatten(),
            branch,
            ..Scope::default()
        }
    }

    /// Any branch of a project, from any context: a role that deploys names
    /// its branch (`vcs-ref`), as CircleCI's own examples do.
    fn advice(&self, issuer: &Issuer, evidence: &Evidence<'_>) -> Vec<(String, Scope)> {
        let scope = self.meant(issuer, evidence);
        let any_ref = evidence.sub.is_some_and(|sub| !sub.contains("/vcs-ref/"));
        match (any_ref, &scope.branch, &scope.tag) {
            (true, None, None) => vec![(
                format!(
                    "admits every branch of project {} and every job of it, whatever its \
                     context: a role that deploys names its branch (vcs-ref)",
                    scope.project_id.as_deref().unwrap_or("PROJECT_ID")
                ),
                Scope {
                    branch: Some("BRANCH".into()),
                    ..scope
                },
            )],
            _ => Vec::new(),
        }
    }

    /// The task agent (circleci-agent) runs one job; a self-hosted runner's
    /// launch agent, its parent, outlives it.
    fn job_process(&self, ancestors: &[Process]) -> Option<u32> {
        ancestors
            .iter()
            .find(|p| p.name == "circleci-agent")
            .map(|p| p.pid)
    }
}
