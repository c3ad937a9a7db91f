//! GitLab CI: a job gets OIDC tokens only through `id_tokens:`, each in a
//! variable the job definition names, with the audience set there too.

use super::{Process, Ci, Context, Provider, ProviderOptions, System, TokenFuture};
use super::{Evidence, Issuer, Pattern, Reach, Scope, Subject, owner_name, token_from_variable};
use crate::env::Env;
use crate::error::{Error, Result};
use crate::token::Token;

/// Variables tried, in order, when --token-env does not name one.
pub const CONVENTIONAL: &[&str] = &[
    "VAULT_CI_ID_TOKEN",
    "GITLAB_OIDC_TOKEN",
    "AWS_WEB_IDENTITY_TOKEN",
];

/// The job tokens GitLab removed in 17.0 in favour of `id_tokens:`.
const REMOVED: &[&str] = &["CI_JOB_JWT_V2", "CI_JOB_JWT"];

/// The variable the ambient-credential libraries (sigstore's `id`, for one) read
/// a GitLab token for `audience` from: `<AUDIENCE>_ID_TOKEN`, the audience
/// upper-cased with every other character than a letter or digit as `_`.
pub fn audience_variable(audience: &str) -> String {
    let name: String = audience
        .chars()
        .map(|c| match c.is_ascii_alphanumeric() {
            true => c.to_ascii_uppercase(),
            false => '_',
        })
        .collect();
    format!("{name}_ID_TOKEN")
}

const ID_TOKENS_HINT: &str = "hint: declare the token in the job (the audience must match the IAM OIDC provider's client ID):\n\
    deploy:\n  id_tokens:\n    VAULT_CI_ID_TOKEN:\n      aud: sts.amazonaws.com";

pub struct Job {
    running: bool,
    /// The variable named by --token-env, if any.
    named: Option<String>,
    /// The variables looked at when --token-env names none.
    conventional: Vec<String>,
    /// The variable holding the token, and its value.
    variable: Option<(String, String)>,
    /// A removed job token the job still has (or --token-env names).
    removed: Option<&'static str>,
    pipeline_id: Option<String>,
    job_id: Option<String>,
}

impl Job {
    pub fn from_env(env: &Env, token_env: Option<String>, audience: Option<&str>) -> Self {
        let conventional: Vec<String> = CONVENTIONAL
            .iter()
            .map(|name| name.to_string())
            .chain([audience_variable(
                audience.unwrap_or(super::DEFAULT_AUDIENCE),
            )])
            .collect();
        let removed = REMOVED.iter().copied().find(|name| match &token_env {
            Some(named) => named == name,
            None => env.get(name).is_some(),
        });
        let variable = match &token_env {
            _ if token_env.is_some() && removed.is_some() => None,
            Some(name) => env.get(name).map(|v| (name.clone(), v.to_string())),
            None => conventional
                .iter()
                .find_map(|name| env.get(name).map(|v| (name.clone(), v.to_string()))),
        };
        Job {
            running: env.is_true("GITLAB_CI"),
            named: token_env,
            conventional,
            removed: variable.is_none().then_some(removed).flatten(),
            variable,
            pipeline_id: env.get("CI_PIPELINE_ID").map(str::to_string),
            job_id: env.get("CI_JOB_ID").map(str::to_string),
        }
    }

    fn read(&self, ctx: &Context<'_>) -> Result<Token> {
        let (name, value) = self.variable.as_ref().ok_or_else(|| self.missing_token())?;
        token_from_variable(
            value,
            name,
            ctx,
            "set that `aud:` under `id_tokens:` in .gitlab-ci.yml",
        )
    }
}

impl Provider for Job {
    fn ci(&self) -> Ci {
        Ci::Gitlab
    }

    fn detected(&self) -> bool {
        self.running
    }

    fn has_token(&self) -> bool {
        self.variable.is_some()
    }

    fn missing_token(&self) -> Error {
        if let Some(removed) = self.removed {
            return Error::identity(format!(
                "${removed} is the job token GitLab removed in 17.0, and vault-ci does not use it: \
                 declare an OIDC token with `id_tokens:` instead"
            ))
            .with_hint(ID_TOKENS_HINT);
        }
        let looked = match &self.named {
            Some(name) => format!("${name} (from --token-env) is not set"),
            None => format!("none of ${} is set", self.conventional.join(", $")),
        };
        Error::identity(format!("this GitLab job has no OIDC token: {looked}"))
            .with_hint(ID_TOKENS_HINT)
    }

    /// `gitlab-<pipeline id>-<job id>`.
    fn session_name(&self) -> Option<String> {
        let pipeline = self.pipeline_id.as_deref()?;
        Some(match self.job_id.as_deref() {
            Some(job) => format!("gitlab-{pipeline}-{job}"),
            None => format!("gitlab-{pipeline}"),
        })
    }

    fn token<'a>(&'a self, ctx: &'a Context<'a>) -> TokenFuture<'a> {
        Box::pin(async move { self.read(ctx) })
    }
}

pub struct Gitlab;

impl System for Gitlab {
    fn name(&self) -> &'static str {
        "gitlab"
    }

    fn title(&self) -> &'static str {
        "GitLab CI"
    }

    fn marker(&self) -> &'static str {
        "GITLAB_CI=true"
    }

    fn help(&self) -> &'static str {
        "GitLab CI's `id_tokens:` variable (--token-env, or VAULT_CI_ID_TOKEN, GITLAB_OIDC_TOKEN, \
         AWS_WEB_IDENTITY_TOKEN, <AUDIENCE>_ID_TOKEN)"
    }

    /// The conventional names, the one for the default audience, and the
    /// removed job tokens an older instance still sets.
    fn token_variables(&self) -> &'static [&'static str] {
        &[
            "VAULT_CI_ID_TOKEN",
            "GITLAB_OIDC_TOKEN",
            "AWS_WEB_IDENTITY_TOKEN",
            "STS_AMAZONAWS_COM_ID_TOKEN",
            "CI_JOB_JWT_V2",
            "CI_JOB_JWT",
        ]
    }

    fn provider(&self, env: &Env, options: &ProviderOptions) -> Box<dyn Provider> {
        Box::new(Job::from_env(
            env,
            options.token_env.clone(),
            options.audience.as_deref(),
        ))
    }

    /// `project_path:<group>/<project>:ref_type:<branch|tag>:ref:<name>`, from
    /// gitlab.com or the instance's own issuer (`--issuer`).
    fn trust_subject(&self, scope: &Scope) -> Result<Subject> {
        scope.unsupported("GitLab", &["--branch", "--tag"])?;
        let path = scope.required(
            &scope.project_path,
            "--project-path GROUP/PROJECT",
            "gitlab",
        )?;
        let context = match (&scope.branch, &scope.tag) {
            (Some(branch), _) => format!("ref_type:branch:ref:{branch}"),
            (_, Some(tag)) => format!("ref_type:tag:ref:{tag}"),
            _ => "*".to_string(),
        };
        Ok(Subject {
            issuer: scope.issuer(ISSUER),
            audience: scope.audience(super::DEFAULT_AUDIENCE),
            subject: format!("project_path:{path}:{context}"),
        })
    }

    /// gitlab.com, or a self-managed instance whose policy's `sub` values speak
    /// GitLab's grammar (`project_path:`).
    fn issuer(&self, issuer: &str, subs: &[&str]) -> Option<Issuer> {
        let public = issuer.eq_ignore_ascii_case(ISSUER);
        if !public && !subs.iter().any(|sub| sub.starts_with("project_path:")) {
            return None;
        }
        Some(Issuer {
            ci: Ci::Gitlab,
            owner: None,
            everything: if public {
                "any project on gitlab.com".into()
            } else {
                format!("any project on {issuer}")
            },
            shared_audience: public,
        })
    }

    /// `project_path:GROUP[/SUBGROUP…]/PROJECT:ref_type:…:ref:…`.
    fn reach(&self, issuer: &Issuer, sub: Pattern<'_>) -> Reach {
        let everything = &issuer.everything;
        if sub.literal {
            return Reach::One;
        }
        let Some(path) = sub.prefix.strip_prefix("project_path:") else {
            return super::scope::outside("project_path:", sub.prefix, everything);
        };
        if path.contains(':') {
            return Reach::One;
        }
        match path.rsplit_once('/') {
            Some((groups, partial)) if !groups.is_empty() => Reach::Owner(if partial.is_empty() {
                format!("every present and future project under {groups}")
            } else {
                format!("every project under {groups} whose path starts with \"{partial}\"")
            }),
            _ if path.is_empty() => Reach::Others(everything.to_string()),
            _ => Reach::Others(format!(
                "the projects of every group whose name starts with \"{path}\", such as {path}-evil/…"
            )),
        }
    }

    /// GitLab signs no session tags into its tokens.
    fn narrowing(&self, _: &Evidence<'_>) -> Option<(String, String, Reach)> {
        None
    }

    /// The project path (or its groups) and the ref of `project_path:…`.
    fn meant(&self, _: &Issuer, evidence: &Evidence<'_>) -> Scope {
        let mut path = "GROUP/PROJECT".to_string();
        let mut context = None;
        if let Some(rest) = evidence.sub.and_then(|s| s.strip_prefix("project_path:")) {
            let (path_part, tail) = match rest.split_once(':') {
                Some((path, tail)) => (path, Some(tail)),
                None => (rest, None),
            };
            let Pattern { prefix, literal } = Pattern::of(path_part, true);
            if literal && prefix.contains('/') {
                path = prefix.to_string();
            } else if let Some((groups, _)) = prefix.rsplit_once('/')
                && !groups.is_empty()
            {
                path = format!("{groups}/PROJECT");
            } else if let Some(group) = owner_name(prefix) {
                path = format!("{group}/PROJECT");
            }
            context = tail;
        }
        let reference = |kind: &str| {
            context
                .and_then(|c| c.strip_prefix(&format!("ref_type:{kind}:ref:")))
                .filter(|value| !value.is_empty())
                .map(str::to_string)
        };
        let branch = reference("branch");
        Scope {
            project_path: Some(path),
            tag: branch.is_none().then(|| reference("tag")).flatten(),
            branch,
            ..Scope::default()
        }
    }

    /// Any ref of a project includes every branch and tag anyone with the
    /// Developer role can push: a role that deploys names its branch (and
    /// GitLab's protected branches guard who can push it).
    fn advice(&self, issuer: &Issuer, evidence: &Evidence<'_>) -> Vec<(String, Scope)> {
        let scope = self.meant(issuer, evidence);
        match (evidence.sub, &scope.branch, &scope.tag) {
            (Some(sub), None, None) if sub.ends_with(":*") => vec![(
                format!(
                    "admits every branch and tag of {}: a role that deploys names its branch \
                     (ref_type:branch:ref:NAME), which GitLab's protected branches guard",
                    scope.project_path.as_deref().unwrap_or("the project")
                ),
                Scope {
                    branch: Some("BRANCH".into()),
                    ..scope
                },
            )],
            _ => Vec::new(),
        }
    }

    /// A shell executor's job is the shell gitlab-runner starts for it, the
    /// runner's child; the runner service outlives every job.
    fn job_process(&self, ancestors: &[Process]) -> Option<u32> {
        let runner = ancestors.iter().position(|p| p.name == "gitlab-runner")?;
        ancestors.get(runner.checked_sub(1)?).map(|p| p.pid)
    }
}

/// The orders GitLab lets a project configure its `sub` in
/// (`ci_id_token_sub_claim_components`, projects API, GitLab 17.10): the
/// default first.
pub const SUB_CLAIMS: [&[&str]; 4] = [
    &["project_path", "ref_type", "ref"],
    &["project_path", "ref", "ref_type"],
    &["project_path", "ref"],
    &["project_path", "ref_type"],
];

/// Whether a `sub` value (the text before its first wildcard, and whether that
/// is all of it) can be one GitLab writes for a project whose `sub` is
/// configured to `keys` (each `name:value`, joined by `:`). Err: the form its
/// tokens' `sub` takes.
pub fn fits_sub_claims(sub: Pattern<'_>, keys: &[String]) -> std::result::Result<(), String> {
    let placeholder = |key: &str| match key {
        "project_path" => "GROUP/PROJECT",
        "ref_type" => "<branch|tag>",
        _ => "REF",
    };
    let form = keys
        .iter()
        .map(|key| format!("{key}:{}", placeholder(key)))
        .collect::<Vec<_>>()
        .join(":");
    // Neither a project path nor a Git ref holds a `:`.
    let parts: Vec<&str> = sub.prefix.split(':').collect();
    let complete = |at: usize| sub.literal || at + 1 < parts.len();
    let fits = parts.iter().enumerate().all(|(at, part)| {
        let Some(key) = keys.get(at / 2) else {
            return false;
        };
        let allowed = |whole: &str| match complete(at) {
            true => *part == whole,
            false => whole.starts_with(part),
        };
        match at % 2 {
            0 => allowed(key),
            _ if key == "ref_type" => allowed("branch") || allowed("tag"),
            _ => true,
        }
    });
    match fits && (!sub.literal || parts.len() == keys.len() * 2) {
        true => Ok(()),
        false => Err(form),
    }
}

const ISSUER: &str = "gitlab.com";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_audience_names_a_variable_as_the_ambient_credential_libraries_do() {
        assert_eq!(
            audience_variable("sts.amazonaws.com"),
            "STS_AMAZONAWS_COM_ID_TOKEN"
        );
        assert_eq!(audience_variable("https://x.io/a-b"), "HTTPS___X_IO_A_B_ID_TOKEN");
        let env = Env::of([("GITLAB_CI", "true"), ("STS_AMAZONAWS_COM_ID_TOKEN", "t")]);
        assert!(Job::from_env(&env, None, None).has_token());
        let env = Env::of([("GITLAB_CI", "true"), ("SIGSTORE_ID_TOKEN", "t")]);
        assert!(Job::from_env(&env, None, Some("sigstore")).has_token());
    }

    #[test]
    fn the_removed_job_tokens_are_refused_with_the_id_tokens_block() {
        let env = Env::of([("GITLAB_CI", "true"), ("CI_JOB_JWT_V2", "t")]);
        let job = Job::from_env(&env, None, None);
        assert!(!job.has_token());
        assert_eq!(
            job.missing_token().message(),
            "$CI_JOB_JWT_V2 is the job token GitLab removed in 17.0, and vault-ci does not use it: \
             declare an OIDC token with `id_tokens:` instead"
        );
        let named = Job::from_env(&env, Some("CI_JOB_JWT_V2".into()), None);
        assert!(!named.has_token());
        // An id_tokens: variable wins over a removed token an old instance still sets.
        let env = Env::of([("CI_JOB_JWT", "old"), ("VAULT_CI_ID_TOKEN", "t")]);
        assert!(Job::from_env(&env, None, None).has_token());
    }
}
