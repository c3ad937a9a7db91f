//! GitHub Actions: the runner hands each job an endpoint that mints OIDC tokens
//! for any audience, but only when the workflow grants `id-token: write`.

use serde::Deserialize;

use super::token::Token;
use super::{Context, Provider, TokenFuture};
use crate::error::{Error, Result};
use crate::retry::retry;
use crate::secret::Secret;

/// The run, as session tags (configure-aws-credentials' set), each value cut to
/// what STS accepts in a tag.
pub fn session_tags() -> Vec<(String, String)> {
    let var = |name: &str| super::env_nonempty(name);
    let branch = var("GITHUB_REF").and_then(|r| r.strip_prefix("refs/heads/").map(str::to_string));
    [
        ("GitHub", Some("Actions".to_string())),
        ("Repository", var("GITHUB_REPOSITORY")),
        ("Workflow", var("GITHUB_WORKFLOW")),
        ("Action", var("GITHUB_ACTION")),
        ("Actor", var("GITHUB_ACTOR")),
        ("Commit", var("GITHUB_SHA")),
        ("Branch", branch),
    ]
    .into_iter()
    .filter_map(|(key, value)| Some((key.to_string(), tag_value(&value?))))
    .collect()
}

/// STS tag values: letters, digits, spaces and `_.:/=+-@`, at most 256 characters.
fn tag_value(raw: &str) -> String {
    raw.chars()
        .map(|c| {
            if c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c) {
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
    pub fn from_env() -> Self {
        super::env_struct()
    }
}

impl Provider for Github {
    fn name(&self) -> &'static str {
        "github"
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
}

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

    let client = ctx.net.token_http_client()?;
    let value = retry(&ctx.net.retry, |_| {
        request_once(&client, url.clone(), request_token)
    })
    .await?;
    if ctx.mask_on_stdout {
        // The runner hides a value in all later log output once it has seen this.
        println!("::add-mask::{value}");
    }
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
            Error::unavailable(format!(
                "cannot reach GitHub's OIDC token endpoint: {}",
                crate::hop::error_chain(&e.without_url())
            ))
        })?;
    let status = response.status();
    if !status.is_success() {
        return Err(match status.as_u16() {
            401 | 403 => Error::identity(format!(
                "GitHub's OIDC token endpoint answered HTTP {status}: the request token was refused: \
                 it belongs to another job or has expired; request the token in the same job that uses it"
            )),
            code if code >= 500 || code == 429 => Error::unavailable(format!(
                "GitHub's OIDC token endpoint answered HTTP {status}"
            )),
            _ => Error::identity(format!(
                "GitHub's OIDC token endpoint answered HTTP {status}; is ACTIONS_ID_TOKEN_REQUEST_URL right?"
            )),
        });
    }
    #[derive(Deserialize)]
    struct Reply {
        value: String,
    }
    let reply: Reply = response.json().await.map_err(|e| {
        Error::identity(format!(
            "GitHub's OIDC token endpoint sent an unexpected reply ({}); expected {{\"value\": \"<jwt>\"}}",
            crate::hop::error_chain(&e.without_url())
        ))
    })?;
    Ok(reply.value)
}
