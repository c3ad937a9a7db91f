//! GitHub Actions: the runner hands each job an endpoint that mints OIDC tokens
//! for any audience, but only when the workflow grants `id-token: write`.

use serde::Deserialize;

use super::{Process, Ci, Context, Provider, ProviderOptions, System, TokenFuture};
use super::{Evidence, Issuer, Pattern, Reach, Scope, Subject, owner_name, plain};
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
pub struct Job {
    #[serde(default)]
    github_actions: Option<String>,
    actions_id_token_request_url: Option<String>,
    actions_id_token_request_token: Option<Secret>,
    github_run_id: Option<String>,
    github_run_attempt: Option<String>,
}

impl Job {
    pub fn from_env(env: &Env) -> Self {
        env.deserialize()
    }
}

impl Provider for Job {
    fn ci(&self) -> Ci {
        Ci::Github
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

pub struct Github;

impl System for Github {
    fn name(&self) -> &'static str {
        "github"
    }

    fn title(&self) -> &'static str {
        "GitHub Actions"
    }

    fn marker(&self) -> &'static str {
        "GITHUB_ACTIONS=true"
    }

    fn help(&self) -> &'static str {
        "GitHub Actions' OIDC endpoint (needs `permissions: id-token: write`)"
    }

    fn token_variables(&self) -> &'static [&'static str] {
        &[
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        ]
    }

    fn provider(&self, env: &Env, _: &ProviderOptions) -> Box<dyn Provider> {
        Box::new(Job::from_env(env))
    }

    /// `repo:OWNER/REPO:<context>`, or with `--owner-id`/`--repo-id` the immutable
    /// `repo:OWNER@ID/REPO@ID:<context>` that survives renames.
    fn trust_subject(&self, scope: &Scope) -> Result<Subject> {
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

    /// github.com's issuer serves every customer; an enterprise's own issuer
    /// (`token.actions.githubusercontent.com/<slug>`, GHE.com's
    /// `token.actions.<subdomain>.ghe.com`) one enterprise; GitHub Enterprise
    /// Server's (`HOST/_services/token`) everyone on HOST.
    fn issuer(&self, issuer: &str, _subs: &[&str]) -> Option<Issuer> {
        let lower = issuer.to_ascii_lowercase();
        let host = lower.split('/').next().unwrap_or_default();
        let enterprise = lower
            .strip_prefix("token.actions.githubusercontent.com/")
            .or_else(|| {
                host.strip_prefix("token.actions.")?
                    .strip_suffix(".ghe.com")
            });
        let (owner, everything) = if lower == ISSUER {
            (None, "any repository on GitHub".to_string())
        } else if let Some(slug) = enterprise {
            let everything =
                format!("every present and future repository of the GitHub enterprise {slug}");
            (Some(slug.to_string()), everything)
        } else {
            let server = issuer.strip_suffix("/_services/token")?;
            (None, format!("any repository on {server}"))
        };
        Some(Issuer {
            ci: Ci::Github,
            owner,
            everything,
            shared_audience: lower == ISSUER,
        })
    }

    /// GitHub's `sub` is `claim:value` pairs (`:` inside a value is sent as `%3A`),
    /// by default `repo:OWNER/REPO:<context>`; a customised one may lead with any
    /// claim. What pins one repository: a complete `repo:OWNER/REPO` or
    /// `repository_id`; one owner: `repo:OWNER/`, `repository_owner(_id)`.
    fn reach(&self, issuer: &Issuer, sub: Pattern<'_>) -> Reach {
        let Pattern { prefix, literal } = sub;
        let everything = &issuer.everything;
        let segments: Vec<&str> = prefix.split(':').collect();
        let n = segments.len();
        let complete = |i: usize| i + 1 < n || literal;
        // A first claim no `sub` can start with: the value matches nothing.
        if complete(0) && !claim(segments[0]) {
            return Reach::One;
        }
        if !complete(0) && !CLAIMS.iter().any(|c| c.starts_with(segments[0])) {
            return Reach::One;
        }
        let mut owner: Option<(String, String)> = None;
        for i in 0..n.saturating_sub(1) {
            let (claim, value) = (segments[i], segments[i + 1]);
            let done = complete(i + 1) && !value.is_empty();
            match claim {
                "repo" => {
                    if let Some((o, name)) = value.split_once('/')
                        && !o.is_empty()
                    {
                        if done && !name.is_empty() {
                            return Reach::One;
                        }
                        owner.get_or_insert((o.to_string(), name.to_string()));
                    } else if let Some((o, "")) = value.split_once('@')
                        && plain(o)
                        && i + 2 == n
                    {
                        // `repo:acme@*/app@*:*`: no name has `@`, so the owner is
                        // acme; but the `*` for its ID matches across `/` and `:`.
                        return Reach::Owner(format!(
                            "any repository of {o} whose `sub` holds the rest of the pattern \
                             after a wildcard (the `*` after `{o}@` matches across `/`): pin \
                             the owner's and the repository's IDs"
                        ));
                    }
                }
                "repository_id" if done => return Reach::One,
                "repository_owner" if done => {
                    owner.get_or_insert((value.to_string(), String::new()));
                }
                "repository_owner_id" if done => {
                    owner.get_or_insert((format!("the owner with id {value}"), String::new()));
                }
                _ => {}
            }
        }
        match owner {
            Some((owner, partial)) if partial.is_empty() => {
                Reach::Owner(format!("every present and future repository of {owner}"))
            }
            Some((owner, partial)) => Reach::Owner(format!(
                "every repository of {owner} whose name starts with \"{partial}\""
            )),
            // `repo:` with no `/` in its value: a malformed literal matches nothing.
            None if segments[0] == "repo" && n == 2 && literal => Reach::One,
            None if segments[0] == "repo" && n == 2 && segments[1].is_empty() => {
                Reach::Others(everything.to_string())
            }
            None if segments[0] == "repo" && n == 2 => Reach::Others(format!(
                "the repositories of every owner whose name starts with \"{0}\", such as {0}-evil/…",
                segments[1]
            )),
            None if segments.contains(&"job_workflow_ref") => Reach::Others(
                "any repository that calls this reusable workflow: of any owner, if the workflow's repository is public"
                    .into(),
            ),
            None if prefix.is_empty() => Reach::Others(everything.to_string()),
            None => Reach::Others(format!("{everything}: the pattern names no owner")),
        }
    }

    /// GitHub signs no session tags into its tokens.
    fn narrowing(&self, _: &Evidence<'_>) -> Option<(String, String, Reach)> {
        None
    }

    /// The repository of `repo:OWNER/REPO:<context>` (or a customised `sub`'s
    /// `repository_owner`), else the owner in GitHub's default audience
    /// `https://github.com/OWNER`; with `@ID`s, the immutable form.
    fn meant(&self, _: &Issuer, evidence: &Evidence<'_>) -> Scope {
        let sub = evidence.sub;
        let mut owner = None;
        let mut name = None;
        let mut context = None;
        if let Some(rest) = sub.and_then(|s| s.strip_prefix("repo:")) {
            let (owner_part, after) = match rest.split_once('/') {
                Some((owner, after)) => (owner, Some(after)),
                None => (rest, None),
            };
            owner = owner_name(&with_id(owner_part, "OWNER_ID"));
            if let Some(after) = after {
                let (repo_part, tail) = match after.split_once(':') {
                    Some((repo, tail)) => (repo, Some(tail)),
                    None => (after, None),
                };
                name = Some(with_id(repo_part, "REPO_ID"))
                    .filter(|r| !r.is_empty() && !r.contains(['*', '?']));
                context = tail;
            }
        } else if let Some(s) = sub {
            let segments: Vec<&str> = s.split(':').collect();
            owner = segments
                .windows(2)
                .find(|pair| pair[0] == "repository_owner" && plain(pair[1]))
                .map(|pair| pair[1].to_string());
        }
        let owner = owner.or_else(|| {
            let path = evidence
                .audience?
                .strip_prefix("https://")?
                .split_once('/')?
                .1;
            Some(path.to_string()).filter(|p| plain(p))
        });
        let owner = owner.unwrap_or_else(|| "OWNER".into());
        let (owner, owner_id) = split_id(&owner);
        let (name, repo_id) = split_id(name.as_deref().unwrap_or("REPO"));
        let ids = owner_id.is_some() || repo_id.is_some();
        let head = |prefix: &str| {
            context
                .and_then(|c| c.strip_prefix(prefix))
                .and_then(|rest| rest.split(':').next())
                .filter(|value| !value.is_empty())
                .map(str::to_string)
        };
        let mut scope = Scope {
            repo: Some(format!("{owner}/{name}")),
            owner_id: ids.then(|| owner_id.unwrap_or("OWNER_ID").to_string()),
            repo_id: ids.then(|| repo_id.unwrap_or("REPO_ID").to_string()),
            ..Scope::default()
        };
        if let Some(branch) = head("ref:refs/heads/") {
            scope.branch = Some(branch);
        } else if let Some(tag) = head("ref:refs/tags/") {
            scope.tag = Some(tag);
        } else if let Some(environment) = head("environment:") {
            scope.environment = Some(environment);
        } else {
            scope.pull_request =
                context.is_some_and(|c| c == "pull_request" || c.starts_with("pull_request:"));
        }
        scope
    }

    /// A repository named by name, not ID, can be re-registered by someone else
    /// after a rename or deletion ("repo-jacking"): GitHub's immutable subject
    /// (`repo:OWNER@ID/REPO@ID:…`) or a `repository_id` condition pins it. Any
    /// ref of it includes every branch, pull request and environment: a role
    /// that deploys names its environment, which GitHub's protection rules guard.
    fn advice(&self, issuer: &Issuer, evidence: &Evidence<'_>) -> Vec<(String, Scope)> {
        let Some(sub) = evidence.sub.filter(|sub| sub.starts_with("repo:")) else {
            return Vec::new();
        };
        let scope = self.meant(issuer, evidence);
        let repo = scope.repo.clone().unwrap_or_default();
        let mut notes = Vec::new();
        let pinned = |claim: &str| {
            evidence
                .literals
                .iter()
                .any(|(key, _)| key.to_ascii_lowercase().ends_with(&format!(":{claim}")))
        };
        if scope.owner_id.is_none() && !pinned("repository_id") {
            notes.push((
                format!(
                    "names {repo} by name: if it or its owner is renamed or deleted, whoever \
                     registers the name next gets the role; GitHub's immutable subject pins the \
                     owner's and the repository's IDs"
                ),
                Scope {
                    owner_id: Some("OWNER_ID".into()),
                    repo_id: Some("REPO_ID".into()),
                    ..scope.clone()
                },
            ));
        }
        let any_ref = scope.branch.is_none()
            && scope.tag.is_none()
            && scope.environment.is_none()
            && !scope.pull_request;
        if any_ref && sub.ends_with(":*") {
            notes.push((
                format!(
                    "admits every branch, tag, pull request and environment of {repo}: a role \
                     that deploys names its environment (environment:NAME, which GitHub's \
                     deployment protection rules guard) or its branch"
                ),
                Scope {
                    environment: Some("ENVIRONMENT".into()),
                    ..scope
                },
            ));
        }
        notes
    }

    /// Runner.Worker runs one job (Runner.Listener, its parent, outlives it);
    /// under act, act itself is the job.
    fn job_process(&self, ancestors: &[Process]) -> Option<u32> {
        let named = |name: &str| ancestors.iter().find(|p| p.name == name).map(|p| p.pid);
        named("Runner.Worker").or_else(|| named("act"))
    }
}

/// Whether a `sub` value (the text before its first wildcard, and whether that
/// is all of it) can be one GitHub writes for a repository whose `sub` is
/// customised to `keys` (the OIDC customization API's `include_claim_keys`, in
/// order; `context` is `ref:REF`, `environment:NAME` or `pull_request`). Err:
/// the form its tokens' `sub` takes.
pub fn fits_sub_claims(sub: Pattern<'_>, keys: &[String]) -> std::result::Result<(), String> {
    let segments: Vec<&str> = sub.prefix.split(':').collect();
    let n = segments.len();
    let partial = |i: usize| !sub.literal && i + 1 == n;
    let form = || {
        keys.iter()
            .map(|key| match key.as_str() {
                "context" => "<ref:REF|environment:NAME|pull_request>".to_string(),
                key => format!("{key}:…"),
            })
            .collect::<Vec<_>>()
            .join(":")
    };
    let mut i = 0;
    for key in keys {
        if i >= n {
            // The pattern's literal text ended before the claims did.
            return match sub.literal {
                true => Err(form()),
                false => Ok(()),
            };
        }
        let segment = segments[i];
        let context = ["ref", "environment", "pull_request"];
        let own = [key.as_str()];
        let choices: &[&str] = match key.as_str() {
            "context" => &context,
            _ => &own,
        };
        if partial(i) {
            return match choices.iter().any(|c| c.starts_with(segment)) {
                true => Ok(()),
                false => Err(form()),
            };
        }
        if !choices.contains(&segment) {
            return Err(form());
        }
        // A claim and its value; `pull_request` has none.
        i += if segment == "pull_request" { 1 } else { 2 };
    }
    // More claims than the template has cannot match.
    match i >= n {
        true => Ok(()),
        false => Err(form()),
    }
}


const CLAIMS: &[&str] = &[
    "repo",
    "context",
    "ref",
    "ref_type",
    "environment",
    "pull_request",
    "job_workflow_ref",
    "job_workflow_sha",
    "workflow",
    "workflow_ref",
    "workflow_sha",
    "repository_id",
    "repository_owner",
    "repository_owner_id",
    "repository_visibility",
    "actor",
    "actor_id",
    "event_name",
    "head_ref",
    "base_ref",
    "runner_environment",
    "enterprise",
    "enterprise_id",
];

fn claim(name: &str) -> bool {
    CLAIMS.contains(&name) || name.starts_with("repo_property_")
}

/// `NAME@*` (an ID left to a wildcard) → `NAME@PLACEHOLDER`: the name is meant.
fn with_id(part: &str, placeholder: &str) -> String {
    match part.split_once('@') {
        Some((name, id)) if plain(name) && !plain(id) => format!("{name}@{placeholder}"),
        _ => part.to_string(),
    }
}

/// `NAME@ID` → (NAME, Some(ID)): GitHub's immutable subjects.
fn split_id(value: &str) -> (&str, Option<&str>) {
    match value.split_once('@') {
        Some((name, id)) if !id.is_empty() => (name, Some(id)),
        _ => (value, None),
    }
}

/// GitHub.com's issuer, as IAM names the provider.
pub const ISSUER: &str = "token.actions.githubusercontent.com";

const TLS_HINT: &str = "hint: the endpoint's certificate is not trusted: if a corporate proxy or CA \
    signs it, pass its CA as --ca-bundle PEM (or AWS_CA_BUNDLE)";

const MISSING_PERMISSION_HINT: &str = "hint: the job needs permission to request an OIDC token; add to the workflow or job:\n\
    permissions:\n  id-token: write\n  contents: read";

async fn fetch_token(env: &Job, ctx: &Context<'_>) -> Result<Token> {
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
