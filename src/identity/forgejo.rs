//! Forgejo Actions, and Gitea Actions beside it: their runners set GitHub's
//! variables (`GITHUB_ACTIONS=true`, `GITHUB_*`) and their own (`FORGEJO_ACTIONS`;
//! `GITEA_ACTIONS`, which Forgejo's runner sets too), so a job is theirs, not
//! GitHub's, whatever GitHub's markers say.
//!
//! Forgejo (15 and later) issues OIDC tokens to jobs whose workflow says
//! `enable-openid-connect: true`, through an endpoint of GitHub's shape
//! (`GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=…`, bearer
//! `$ACTIONS_ID_TOKEN_REQUEST_TOKEN`, answer `{"value": jwt}`). The issuer is the
//! instance, `<instance URL>/api/actions`; `sub` is `repo:OWNER/REPO:ref:REF`, or
//! `repo:OWNER/REPO:pull_request` for pull requests, and a repository created
//! since Forgejo added immutable identifiers names them in its own form,
//! `repo:OWNER-ID/REPO-ID:…` (<https://forgejo.org/docs/next/user/actions/security-openid-connect/>,
//! forgejo#12355).
//!
//! Gitea Actions issues no OIDC token: go-gitea/gitea#26383 is open, its pull
//! requests unmerged. A Gitea job is told so, and told what works instead.

use serde::Deserialize;

use super::fetch::{self, Endpoint};
use super::{Ci, Context, Provider, ProviderOptions, System, TokenFuture};
use super::{Evidence, Issuer, Pattern, Reach, Scope, Subject, owner_name};
use crate::env::Env;
use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::token::Token;

/// The issuer's path on every instance.
const ISSUER_PATH: &str = "/api/actions";
/// Codeberg, the public instance, as github.com is GitHub's default.
const DEFAULT_ISSUER: &str = "codeberg.org/api/actions";

const ENABLE_HINT: &str = "hint: let the workflow (or one job) request OIDC tokens:\n\
    enable-openid-connect: true\n\
    jobs:\n  deploy:\n    runs-on: docker\n    steps:\n      \
    - run: vault-ci assume --role-arn \"$AWS_ROLE_ARN\" --github-env";

#[derive(Debug, Default, Deserialize)]
pub struct Job {
    forgejo_actions: Option<String>,
    gitea_actions: Option<String>,
    actions_id_token_request_url: Option<String>,
    actions_id_token_request_token: Option<Secret>,
    forgejo_run_id: Option<String>,
    github_run_id: Option<String>,
    forgejo_run_attempt: Option<String>,
    github_run_attempt: Option<String>,
    github_repository: Option<String>,
    github_workflow: Option<String>,
    github_actor: Option<String>,
    github_sha: Option<String>,
    github_ref: Option<String>,
}

impl Job {
    pub fn from_env(env: &Env) -> Self {
        env.deserialize()
    }

    fn forgejo(&self) -> bool {
        self.forgejo_actions.as_deref() == Some("true")
    }

    /// "forgejo" or "gitea": what the runner is.
    fn flavour(&self) -> &'static str {
        match self.forgejo() || self.gitea_actions.is_none() {
            true => "forgejo",
            false => "gitea",
        }
    }

    async fn fetch(&self, ctx: &Context<'_>) -> Result<Token> {
        let (Some(request_url), Some(request_token)) = (
            self.actions_id_token_request_url.as_deref(),
            self.actions_id_token_request_token.as_ref(),
        ) else {
            return Err(self.missing_token());
        };
        let mut url = url::Url::parse(request_url).map_err(|e| {
            Error::identity(format!("ACTIONS_ID_TOKEN_REQUEST_URL is not a URL ({e})"))
        })?;
        let audience = ctx.audience_or_default();
        url.query_pairs_mut().append_pair("audience", audience);
        let name = match self.flavour() {
            "gitea" => "Gitea's OIDC token endpoint",
            _ => "Forgejo's OIDC token endpoint",
        };
        let endpoint = Endpoint {
            name,
            check: "is ACTIONS_ID_TOKEN_REQUEST_URL right?",
            refused: "the request token was refused: it belongs to another job or has expired; \
                      request the token in the job that uses it",
        };
        let answer = fetch::fetch(ctx, &endpoint, |_| None, |client| {
            client
                .get(url.clone())
                .header(
                    reqwest::header::AUTHORIZATION,
                    format!("bearer {}", request_token.expose()),
                )
                .header(reqwest::header::ACCEPT, "application/json")
        })
        .await?;
        let jwt = fetch::json_field(&endpoint, &answer.body, "value")?;
        let token = Token::parse(&jwt, "Forgejo Actions")?;
        if !token.claims.has_audience(audience) {
            return Err(Error::identity(format!(
                "{name} answered a token for audience {}, not the {audience} it was asked for; {}",
                token
                    .claims
                    .aud
                    .as_ref()
                    .map(|a| a.to_string())
                    .unwrap_or_else(|| "(none)".into()),
                endpoint.check
            )));
        }
        Ok(token)
    }
}

impl Provider for Job {
    fn ci(&self) -> Ci {
        Ci::Forgejo
    }

    fn detected(&self) -> bool {
        self.forgejo() || self.gitea_actions.as_deref() == Some("true")
    }

    fn has_token(&self) -> bool {
        self.actions_id_token_request_url.is_some() && self.actions_id_token_request_token.is_some()
    }

    fn missing_token(&self) -> Error {
        if self.flavour() == "gitea" {
            return Error::identity(
                "this Gitea Actions job has no OIDC token: Gitea Actions issues none \
                 (go-gitea/gitea#26383 is open); give the job a deploy user's keys from secrets \
                 (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), or run it where the machine has a role",
            );
        }
        let context = match self.detected() {
            true => "this Forgejo Actions job has no OIDC token endpoint",
            false => "--provider forgejo needs Forgejo Actions' OIDC token endpoint",
        };
        Error::identity(format!(
            "{context} (ACTIONS_ID_TOKEN_REQUEST_URL / ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set): \
             add `enable-openid-connect: true` to the workflow or the job (Forgejo 15 or later)"
        ))
        .with_hint(ENABLE_HINT)
    }

    /// `forgejo-<run id>-<attempt>` (`gitea-…` on Gitea).
    fn session_name(&self) -> Option<String> {
        let run = self.forgejo_run_id.as_deref().or(self.github_run_id.as_deref())?;
        let attempt = self
            .forgejo_run_attempt
            .as_deref()
            .or(self.github_run_attempt.as_deref())
            .unwrap_or("1");
        Some(format!("{}-{run}-{attempt}", self.flavour()))
    }

    fn mints_fresh_tokens(&self, _ctx: &Context<'_>) -> bool {
        true
    }

    fn token<'a>(&'a self, ctx: &'a Context<'a>) -> TokenFuture<'a> {
        Box::pin(self.fetch(ctx))
    }

    fn token_url(&self) -> Option<&str> {
        self.actions_id_token_request_url.as_deref()
    }

    fn session_tags(&self) -> Vec<(String, String)> {
        let run = [
            ("Repository", &self.github_repository),
            ("Workflow", &self.github_workflow),
            ("Actor", &self.github_actor),
            ("Commit", &self.github_sha),
            ("Branch", &self.github_ref),
            ("RunId", &self.forgejo_run_id.clone().or(self.github_run_id.clone())),
        ];
        std::iter::once(("CI".to_string(), self.flavour().to_string()))
            .chain(
                run.into_iter()
                    .filter_map(|(key, value)| Some((key.to_string(), value.clone()?))),
            )
            .collect()
    }
}

pub struct Forgejo;

impl System for Forgejo {
    fn name(&self) -> &'static str {
        "forgejo"
    }

    fn title(&self) -> &'static str {
        "Forgejo Actions"
    }

    fn marker(&self) -> &'static str {
        "FORGEJO_ACTIONS=true"
    }

    fn help(&self) -> &'static str {
        "Forgejo Actions' OIDC endpoint (needs `enable-openid-connect: true`); Gitea Actions \
         issues no OIDC token"
    }

    /// GitHub's names: the runner imitates GitHub's.
    fn token_variables(&self) -> &'static [&'static str] {
        &[
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        ]
    }

    fn provider(&self, env: &Env, _: &ProviderOptions) -> Box<dyn Provider> {
        Box::new(Job::from_env(env))
    }

    fn imitates(&self) -> Option<Ci> {
        Some(Ci::Github)
    }

    /// `repo:OWNER/REPO:ref:refs/heads/BRANCH` (`…:ref:refs/tags/TAG`,
    /// `…:pull_request`), or with `--owner-id`/`--repo-id` Forgejo's immutable
    /// `repo:OWNER-ID/REPO-ID:…`; from Codeberg, or the instance `--issuer` names.
    fn trust_subject(&self, scope: &Scope) -> Result<Subject> {
        scope.unsupported("Forgejo", &["--branch", "--tag", "--pull-request"])?;
        let repo = scope.required(&scope.repo, "--repo OWNER/REPO", "forgejo")?;
        let Some((owner, name)) = repo.split_once('/') else {
            return Err(Error::usage(format!("--repo `{repo}` must be OWNER/REPO")));
        };
        let repo = match (&scope.owner_id, &scope.repo_id) {
            (Some(owner_id), Some(repo_id)) => format!("{owner}-{owner_id}/{name}-{repo_id}"),
            _ => repo.to_string(),
        };
        let context = if let Some(branch) = &scope.branch {
            format!("ref:refs/heads/{branch}")
        } else if let Some(tag) = &scope.tag {
            format!("ref:refs/tags/{tag}")
        } else if scope.pull_request {
            "pull_request".to_string()
        } else {
            "*".to_string()
        };
        let issuer = scope.issuer(DEFAULT_ISSUER);
        let issuer = match issuer.ends_with(ISSUER_PATH) {
            true => issuer,
            false => format!("{issuer}{ISSUER_PATH}"),
        };
        Ok(Subject {
            issuer,
            audience: scope.audience(super::DEFAULT_AUDIENCE),
            subject: format!("repo:{repo}:{context}"),
        })
    }

    /// `<instance>/api/actions`: every repository on the instance.
    fn issuer(&self, issuer: &str, _subs: &[&str]) -> Option<Issuer> {
        let instance = issuer.strip_suffix(ISSUER_PATH)?;
        Some(Issuer {
            ci: Ci::Forgejo,
            owner: None,
            everything: format!("any repository on {instance}"),
            shared_audience: true,
        })
    }

    /// `repo:OWNER/REPO:…`: a complete `OWNER/REPO` pins one repository.
    fn reach(&self, issuer: &Issuer, sub: Pattern<'_>) -> Reach {
        let Pattern { prefix, literal } = sub;
        if literal {
            return Reach::One;
        }
        let Some(rest) = prefix.strip_prefix("repo:") else {
            return super::scope::outside("repo:", prefix, &issuer.everything);
        };
        match rest.split_once('/') {
            Some((_, name)) if name.contains(':') => Reach::One,
            Some((owner, "")) if !owner.is_empty() => Reach::Owner(format!(
                "every present and future repository of {owner}"
            )),
            Some((owner, partial)) if !owner.is_empty() => Reach::Owner(format!(
                "every repository of {owner} whose name starts with \"{partial}\""
            )),
            _ if rest.is_empty() => Reach::Others(issuer.everything.clone()),
            _ => Reach::Others(format!(
                "the repositories of every owner whose name starts with \"{rest}\", such as {rest}-evil/…"
            )),
        }
    }

    /// Forgejo signs no session tags into its tokens.
    fn narrowing(&self, _: &Evidence<'_>) -> Option<(String, String, Reach)> {
        None
    }

    /// The repository and ref of `repo:OWNER/REPO:…`, else the owner of the
    /// default audience `https://INSTANCE/OWNER`.
    fn meant(&self, _: &Issuer, evidence: &Evidence<'_>) -> Scope {
        let mut owner = None;
        let mut name = None;
        let mut context = None;
        if let Some(rest) = evidence.sub.and_then(|s| s.strip_prefix("repo:")) {
            let (owner_part, after) = match rest.split_once('/') {
                Some((owner, after)) => (owner, Some(after)),
                None => (rest, None),
            };
            owner = owner_name(owner_part);
            if let Some(after) = after {
                let (repo_part, tail) = match after.split_once(':') {
                    Some((repo, tail)) => (repo, Some(tail)),
                    None => (after, None),
                };
                name = Some(repo_part).filter(|r| !r.is_empty() && !r.contains(['*', '?']));
                context = tail;
            }
        }
        let owner = owner.or_else(|| {
            let path = evidence.audience?.strip_prefix("https://")?.split_once('/')?.1;
            Some(path.to_string()).filter(|p| super::plain(p))
        });
        let owner = owner.unwrap_or_else(|| "OWNER".into());
        let name = name.unwrap_or("REPO").to_string();
        let (mut scope_owner, mut scope_name) = (owner.clone(), name.clone());
        let mut ids = (None, None);
        if let (Some((o, oid)), Some((n, nid))) = (split_id(&owner), split_id(&name)) {
            (scope_owner, scope_name) = (o.to_string(), n.to_string());
            ids = (Some(oid.to_string()), Some(nid.to_string()));
        }
        let head = |prefix: &str| {
            context
                .and_then(|c| c.strip_prefix(prefix))
                .filter(|value| !value.is_empty())
                .map(str::to_string)
        };
        let branch = head("ref:refs/heads/");
        let tag = branch.is_none().then(|| head("ref:refs/tags/")).flatten();
        Scope {
            repo: Some(format!("{scope_owner}/{scope_name}")),
            owner_id: ids.0,
            repo_id: ids.1,
            pull_request: branch.is_none() && tag.is_none() && context == Some("pull_request"),
            branch,
            tag,
            ..Scope::default()
        }
    }
}

/// `NAME-ID` → (NAME, ID): Forgejo's immutable form, an ID of digits after the
/// last `-`.
fn split_id(value: &str) -> Option<(&str, &str)> {
    let (name, id) = value.rsplit_once('-')?;
    (!name.is_empty() && !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
        .then_some((name, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forgejo_and_gitea_are_told_apart_from_github_and_each_other() {
        let forgejo = Env::of([
            ("GITHUB_ACTIONS", "true"),
            ("GITEA_ACTIONS", "true"),
            ("FORGEJO_ACTIONS", "true"),
            ("GITHUB_RUN_ID", "43"),
        ]);
        let found = super::super::running_ci(&forgejo, &ProviderOptions::default())
            .unwrap()
            .unwrap();
        assert_eq!(found.ci(), Ci::Forgejo);
        assert_eq!(found.session_name().as_deref(), Some("forgejo-43-1"));
        let gitea = Env::of([("GITHUB_ACTIONS", "true"), ("GITEA_ACTIONS", "true")]);
        let found = super::super::running_ci(&gitea, &ProviderOptions::default())
            .unwrap()
            .unwrap();
        assert_eq!(found.ci(), Ci::Forgejo);
        assert!(
            found
                .missing_token()
                .message()
                .starts_with("this Gitea Actions job has no OIDC token: Gitea Actions issues none")
        );
    }

    #[test]
    fn the_immutable_form_is_written_and_read_back() {
        let scope = Scope {
            repo: Some("my-org/my-repo".into()),
            owner_id: Some("123456".into()),
            repo_id: Some("456789".into()),
            branch: Some("main".into()),
            ..Scope::default()
        };
        let subject = Forgejo.trust_subject(&scope).unwrap();
        // forgejo#12355's example of a new repository's `sub`.
        assert_eq!(subject.subject, "repo:my-org-123456/my-repo-456789:ref:refs/heads/main");
        assert_eq!(subject.issuer, DEFAULT_ISSUER);
        let issuer = Forgejo.issuer(&subject.issuer, &[]).unwrap();
        let evidence = Evidence {
            sub: Some(&subject.subject),
            ..Evidence::default()
        };
        assert_eq!(Forgejo.meant(&issuer, &evidence).to_args(), scope.to_args());
        let custom = Scope {
            issuer: Some("https://git.example.com".into()),
            ..Scope::default()
        };
        let custom = Forgejo
            .trust_subject(&Scope {
                repo: Some("a/b".into()),
                ..custom
            })
            .unwrap();
        assert_eq!(custom.issuer, "git.example.com/api/actions");
    }
}
