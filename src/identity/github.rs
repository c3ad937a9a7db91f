//! GitHub Actions: the runner hands each job an endpoint that mints OIDC tokens
//! for any audience, but only when the workflow grants `id-token: write`.

use serde::Deserialize;

use super::{Ci, Context, Provider, TokenFuture};
use super::{Scope, Subject};
use crate::env::Env;
use crate::error::{Error, Peer, Result, error_chain};
use crate::net::{BodyError, MAX_BODY, read_body};
use crate::retry::retry;
use crate::secret::Secret;
use crate::token::Token;

/// The run's session tags, as configure-aws-credentials sets them: the keys
/// in this order, each only when its variable is set.
const TAGS: &[(&str, &str)] = &[
    ("Repository", "GITHUB_REPOSITORY"),
    ("Workflow", "GITHUB_WORKFLOW"),
    ("Action", "GITHUB_ACTION"),
    ("Actor", "GITHUB_ACTOR"),
    ("Commit", "GITHUB_SHA"),
    ("Branch", "GITHUB_REF"),
];

/// Tags that are dropped, and the request sent again, when STS finds the packed
/// session policy and tags too large.
pub const DROPPABLE_TAGS: &[(&str, &str)] = &[
    ("EventName", "GITHUB_EVENT_NAME"),
    ("BaseRef", "GITHUB_BASE_REF"),
    ("HeadRef", "GITHUB_HEAD_REF"),
    ("RunId", "GITHUB_RUN_ID"),
    ("Job", "GITHUB_JOB"),
    ("TriggeringActor", "GITHUB_TRIGGERING_ACTOR"),
];

/// Every key the run's tags may use; user tags cannot take them.
pub fn reserved_tag_keys() -> impl Iterator<Item = &'static str> {
    std::iter::once("GitHub").chain(TAGS.iter().chain(DROPPABLE_TAGS).map(|(key, _)| *key))
}

/// The run, as session tags: `GitHub=Actions`, then the run's variables, each
/// value cut to what STS accepts in a tag.
pub fn session_tags(env: &Env) -> Vec<(String, String)> {
    let mut tags = vec![("GitHub".to_string(), "Actions".to_string())];
    for (key, var) in TAGS.iter().chain(DROPPABLE_TAGS) {
        if let Some(value) = env.get(var) {
            tags.push((key.to_string(), tag_value(value)));
        }
    }
    tags
}

/// STS tag values: letters, digits, spaces and `_.:/=+-@`, at most 256 characters;
/// anything else becomes `_`.
fn tag_value(raw: &str) -> String {
    raw.chars()
        .map(|c| {
            if c.is_alphabetic() || c.is_numeric() || c == ' ' || "_.:/=+-@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(256)
        .collect()
}

/// What the runner puts in a step's environment.
#[derive(Debug, Default, Deserialize)]
pub struct Github {
    #[serde(default)]
    github_actions: Option<String>,
    actions_id_token_request_url: Option<String>,
    actions_id_token_request_token: Option<Secret>,
    github_run_id: Option<String>,
    github_run_attempt: Option<String>,
}

impl Github {
    pub fn from_env(env: &Env) -> Self {
        env.deserialize()
    }
}

impl Provider for Github {
    fn ci(&self) -> Ci {
        Ci::Github
    }

    fn title(&self) -> &'static str {
        "GitHub Actions"
    }

    fn marker(&self) -> &'static str {
        "GITHUB_ACTIONS=true"
    }

    fn detected(&self) -> bool {
        self.github_actions.as_deref() == Some("true")
    }

    fn has_token(&self) -> bool {
        self.actions_id_token_request_url.is_some() && self.actions_id_token_request_token.is_some()
    }

    fn missing_token(&self) -> Error {
        let context = if self.detected() {
            "this GitHub Actions step has no OIDC token endpoint"
        } else {
            "--provider github needs GitHub Actions' OIDC token endpoint"
        };
        Error::identity(format!(
            "{context} (ACTIONS_ID_TOKEN_REQUEST_URL / ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set)"
        ))
        .with_hint(MISSING_PERMISSION_HINT)
    }

    /// `github-<run id>-<attempt>`: unique per run and re-run, and it shows up in
    /// CloudTrail next to the role, so an auditor can find the workflow run.
    fn session_name(&self) -> Option<String> {
        let run = self.github_run_id.as_deref()?;
        let attempt = self.github_run_attempt.as_deref().unwrap_or("1");
        Some(format!("github-{run}-{attempt}"))
    }

    fn mints_fresh_tokens(&self, _ctx: &Context<'_>) -> bool {
        true
    }

    fn token<'a>(&'a self, ctx: &'a Context<'a>) -> TokenFuture<'a> {
        Box::pin(fetch_token(self, ctx))
    }

    fn token_url(&self) -> Option<&str> {
        self.actions_id_token_request_url.as_deref()
    }
}

/// `repo:OWNER/REPO:<context>`, or with `--owner-id`/`--repo-id` the immutable
/// `repo:OWNER@ID/REPO@ID:<context>` that survives renames.
pub fn trust_subject(scope: &Scope) -> Result<Subject> {
    scope.unsupported(
        "GitHub",
        &["--branch", "--environment", "--tag", "--pull-request"],
    )?;
    let repo = scope.required(&scope.repo, "--repo OWNER/REPO", "github")?;
    let Some((owner, name)) = repo.split_once('/') else {
        return Err(Error::usage(format!("--repo `{repo}` must be OWNER/REPO")));
    };
    let repo = match (&scope.owner_id, &scope.repo_id) {
        (Some(owner_id), Some(repo_id)) => format!("{owner}@{owner_id}/{name}@{repo_id}"),
        _ => repo.to_string(),
    };
    let context = if let Some(branch) = &scope.branch {
        format!("ref:refs/heads/{branch}")
    } else if let Some(tag) = &scope.tag {
        format!("ref:refs/tags/{tag}")
    } else if let Some(environment) = &scope.environment {
        format!("environment:{environment}")
    } else if scope.pull_request {
        "pull_request".to_string()
    } else {
        "*".to_string()
    };
    Ok(Subject {
        issuer: scope.issuer(ISSUER),
        audience: scope.audience(super::DEFAULT_AUDIENCE),
        subject: format!("repo:{repo}:{context}"),
    })
}

/// GitHub.com's issuer, as IAM names the provider.
pub const ISSUER: &str = "token.actions.githubusercontent.com";

const TLS_HINT: &str = "hint: the endpoint's certificate is not trusted: if a corporate proxy or CA \
    signs it, pass its CA as --ca-bundle PEM (or AWS_CA_BUNDLE)";

const MISSING_PERMISSION_HINT: &str = "hint: the job needs permission to request an OIDC token; add to the workflow or job:\n\
    permissions:\n  id-token: write\n  contents: read";

async fn fetch_token(env: &Github, ctx: &Context<'_>) -> Result<Token> {
    let (Some(request_url), Some(request_token)) = (
        env.actions_id_token_request_url.as_deref(),
        env.actions_id_token_request_token.as_ref(),
    ) else {
        return Err(env.missing_token());
    };
    let mut url = url::Url::parse(request_url)
        .map_err(|e| Error::identity(format!("ACTIONS_ID_TOKEN_REQUEST_URL is not a URL ({e})")))?;
    url.query_pairs_mut()
        .append_pair("audience", ctx.audience_or_default());

    let client = ctx.net.client();
    let value = retry(&ctx.net.retry, |_| {
        request_once(client, url.clone(), request_token)
    })
    .await?;
    Token::parse(&value, "GitHub Actions")
}

async fn request_once(
    client: &reqwest::Client,
    url: url::Url,
    request_token: &Secret,
) -> Result<String> {
    let response = client
        .get(url)
        .header(
            reqwest::header::AUTHORIZATION,
            format!("bearer {}", request_token.expose()),
        )
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| {
            let e = e.without_url();
            match crate::net::tls_failure(&e) {
                // A TLS verdict does not change on retry.
                Some(verdict) => Error::identity(format!(
                    "cannot reach GitHub's OIDC token endpoint: TLS: {verdict}"
                ))
                .with_hint(TLS_HINT),
                None => Error::unavailable(
                    Peer::TokenEndpoint,
                    format!(
                        "cannot reach GitHub's OIDC token endpoint: {}",
                        error_chain(&e)
                    ),
                ),
            }
        })?;
    let status = response.status();
    if !status.is_success() {
        return Err(match status.as_u16() {
            401 | 403 => Error::identity(format!(
                "GitHub's OIDC token endpoint answered HTTP {status}: the request token was refused: \
                 it belongs to another job or has expired; request the token in the same job that uses it"
            )),
            code if code >= 500 || code == 429 => Error::unavailable(
                Peer::TokenEndpoint,
                format!("GitHub's OIDC token endpoint answered HTTP {status}"),
            ),
            _ => Error::identity(format!(
                "GitHub's OIDC token endpoint answered HTTP {status}; is ACTIONS_ID_TOKEN_REQUEST_URL right?"
            )),
        });
    }
    #[derive(Deserialize)]
    struct Reply {
        value: String,
    }
    let body = read_body(response, MAX_BODY).await.map_err(|e| match e {
        BodyError::TooLarge => Error::identity(format!(
            "GitHub's OIDC token endpoint sent an unexpected reply: {e}; is ACTIONS_ID_TOKEN_REQUEST_URL right?"
        )),
        BodyError::Read(_) => Error::unavailable(
            Peer::TokenEndpoint,
            format!("GitHub's OIDC token endpoint: {e}"),
        ),
    })?;
    let reply: Reply = serde_json::from_slice(&body).map_err(|e| {
        Error::identity(format!(
            "GitHub's OIDC token endpoint sent an unexpected reply ({e}); expected {{\"value\": \"<jwt>\"}}"
        ))
    })?;
    Ok(reply.value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runs_tags_are_configure_aws_credentials_set_in_its_order() {
        let env = Env::of([
            ("GITHUB_REPOSITORY", "octo-org/app"),
            ("GITHUB_WORKFLOW", "My_wf(ci)!ü"),
            ("GITHUB_REF", "refs/heads/feat/x#1"),
            ("GITHUB_RUN_ID", "42"),
        ]);
        assert_eq!(
            session_tags(&env),
            [
                ("GitHub", "Actions"),
                ("Repository", "octo-org/app"),
                ("Workflow", "My_wf_ci__ü"),
                ("Branch", "refs/heads/feat/x_1"),
                ("RunId", "42"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        );
        assert_eq!(reserved_tag_keys().count(), 13);
    }
}
