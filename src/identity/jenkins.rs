//! Jenkins: the OpenID Connect Provider plugin (oidc-provider) signs a token per
//! build when a credential of its kind is bound, by the Credentials Binding
//! plugin, into a variable (`string(…)`) or a file (`file(…)`,
//! <https://plugins.jenkins.io/oidc-provider>). Its issuer is the Jenkins itself,
//! `<JENKINS_URL>oidc` (a folder's credential: `<folder URL>oidc`), or one the
//! administrator hosts; its `sub` is a claim template each Jenkins configures,
//! `${JOB_URL}` by default, with `build_number` beside it (the plugin's
//! IdTokenConfiguration); `aud` is the credential's, `sts.amazonaws.com` by the
//! plugin's AWS example.

use std::path::PathBuf;

use super::{Ci, Context, Provider, ProviderOptions, System, TokenFuture};
use super::{Evidence, Issuer, Pattern, Reach, Scope, Subject, token_from_variable};
use crate::env::Env;
use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::token::Token;

/// Tried when --token-env names no variable.
const CONVENTIONAL: &str = "VAULT_CI_ID_TOKEN";
/// The file the plugin's own AWS example binds.
const FILE: &str = "AWS_WEB_IDENTITY_TOKEN_FILE";
/// The plugin's default build claim template for `sub`.
pub const DEFAULT_TEMPLATE: &str = "${JOB_URL}";

const BINDING_HINT: &str = "hint: bind an \"OpenID Connect id token\" credential (oidc-provider plugin) around the step:\n\
    withCredentials([string(credentialsId: 'aws-oidc', variable: 'VAULT_CI_ID_TOKEN')]) {\n  \
    sh 'vault-ci assume --role-arn \"$AWS_ROLE_ARN\" -- ./deploy.sh'\n}";

/// Variables of a build's environment that change from build to build: a
/// `sub` that has them is matched with `*` in their place.
const PER_BUILD: &[&str] = &[
    "BUILD_NUMBER",
    "BUILD_ID",
    "BUILD_TAG",
    "BUILD_URL",
    "BUILD_DISPLAY_NAME",
    "EXECUTOR_NUMBER",
    "NODE_NAME",
    "NODE_LABELS",
    "WORKSPACE",
    "GIT_COMMIT",
    "GIT_PREVIOUS_COMMIT",
    "GIT_PREVIOUS_SUCCESSFUL_COMMIT",
    "CHANGE_ID",
];

pub struct Job {
    running: bool,
    /// The variable named by --token-env, if any.
    named: Option<String>,
    /// The variable holding the token, and its value.
    variable: Option<(String, Secret)>,
    file: Option<PathBuf>,
    build_tag: Option<String>,
    build_number: Option<String>,
    job_name: Option<String>,
    branch: Option<String>,
    commit: Option<String>,
}

impl Job {
    pub fn from_env(env: &Env, options: &ProviderOptions) -> Self {
        let name = options.token_env.as_deref().unwrap_or(CONVENTIONAL);
        let variable = env
            .get(name)
            .map(|value| (name.to_string(), Secret::new(value)));
        let text = |name: &str| env.get(name).map(str::to_string);
        Job {
            running: env.get("JENKINS_URL").is_some() && env.get("BUILD_URL").is_some(),
            named: options.token_env.clone(),
            file: variable.is_none().then(|| env.path(FILE)).flatten(),
            variable,
            build_tag: text("BUILD_TAG"),
            build_number: text("BUILD_NUMBER"),
            job_name: text("JOB_NAME"),
            branch: text("BRANCH_NAME").or_else(|| text("GIT_BRANCH")),
            commit: text("GIT_COMMIT"),
        }
    }

    fn read(&self, ctx: &Context<'_>) -> Result<Token> {
        const FIX: &str = "set that audience on the id token credential, or drop --audience";
        if let Some((name, value)) = &self.variable {
            return token_from_variable(value.expose(), name, ctx, FIX);
        }
        let path = self.file.as_ref().ok_or_else(|| self.missing_token())?;
        let token = super::token_file::read_token(path)?;
        match ctx.audience {
            Some(wanted) if !token.claims.has_audience(wanted) => Err(Error::identity(format!(
                "the token in {} is for audience {}, not the --audience {wanted} asked for; {FIX}",
                path.display(),
                token
                    .claims
                    .aud
                    .as_ref()
                    .map(|a| a.to_string())
                    .unwrap_or_else(|| "(none)".into())
            ))),
            _ => Ok(token),
        }
    }
}

impl Provider for Job {
    fn ci(&self) -> Ci {
        Ci::Jenkins
    }

    fn detected(&self) -> bool {
        self.running
    }

    fn has_token(&self) -> bool {
        self.variable.is_some() || self.file.is_some()
    }

    fn missing_token(&self) -> Error {
        let looked = match &self.named {
            Some(name) => format!("${name} (from --token-env) is not set"),
            None => format!("${CONVENTIONAL} and {FILE} are not set"),
        };
        Error::identity(format!("this Jenkins build has no OIDC token: {looked}"))
            .with_hint(BINDING_HINT)
    }

    /// BUILD_TAG: `jenkins-<job name, / as ->-<build number>`.
    fn session_name(&self) -> Option<String> {
        self.build_tag
            .clone()
            .or_else(|| Some(format!("jenkins-{}", self.build_number.as_deref()?)))
    }

    fn token<'a>(&'a self, ctx: &'a Context<'a>) -> TokenFuture<'a> {
        Box::pin(async move { self.read(ctx) })
    }

    /// The plugin's own AWS example binds the token to AWS_WEB_IDENTITY_TOKEN_FILE
    /// beside AWS_ROLE_ARN.
    fn sdk_convention(&self) -> bool {
        self.variable.is_none() && self.file.is_some()
    }

    fn session_tags(&self) -> Vec<(String, String)> {
        let run = [
            ("Job", &self.job_name),
            ("Build", &self.build_number),
            ("Branch", &self.branch),
            ("Commit", &self.commit),
        ];
        std::iter::once(("CI".to_string(), "jenkins".to_string()))
            .chain(
                run.into_iter()
                    .filter_map(|(key, value)| Some((key.to_string(), value.clone()?))),
            )
            .collect()
    }
}

pub struct Jenkins;

impl System for Jenkins {
    fn name(&self) -> &'static str {
        "jenkins"
    }

    fn title(&self) -> &'static str {
        "Jenkins"
    }

    fn marker(&self) -> &'static str {
        "JENKINS_URL"
    }

    fn help(&self) -> &'static str {
        "Jenkins' oidc-provider token, bound by withCredentials to $VAULT_CI_ID_TOKEN \
         (--token-env NAME) or to the file in AWS_WEB_IDENTITY_TOKEN_FILE"
    }

    fn token_variables(&self) -> &'static [&'static str] {
        &[CONVENTIONAL]
    }

    fn provider(&self, env: &Env, options: &ProviderOptions) -> Box<dyn Provider> {
        Box::new(Job::from_env(env, options))
    }

    /// The claim template (`--claim-template`, default `${JOB_URL}`) with the job's
    /// variables in it, `*` for those that change from build to build.
    fn trust_subject(&self, scope: &Scope) -> Result<Subject> {
        scope.unsupported("Jenkins", &["--branch"])?;
        let issuer = scope.required(
            &scope.issuer,
            "--issuer URL (its oidc-provider issuer, e.g. https://jenkins.example.com/oidc)",
            "jenkins",
        )?;
        let job = scope.required(&scope.job, "--job NAME (JOB_NAME: folder/job)", "jenkins")?;
        let template = scope.claim_template.as_deref().unwrap_or(DEFAULT_TEMPLATE);
        let subject = expand(template, issuer, job, scope.branch.as_deref())?;
        Ok(Subject {
            issuer: scope.issuer(""),
            audience: scope.audience(super::DEFAULT_AUDIENCE),
            subject,
        })
    }

    /// A Jenkins' own issuer, `…/oidc`; another one by its job URLs in `sub`.
    fn issuer(&self, issuer: &str, subs: &[&str]) -> Option<Issuer> {
        let own = issuer.ends_with("/oidc") && !issuer.contains("/pipelines-config/");
        let job_urls = subs
            .iter()
            .any(|sub| sub.starts_with("http") && sub.contains("/job/"));
        (own || job_urls).then(|| Issuer {
            ci: Ci::Jenkins,
            owner: Some(issuer.to_string()),
            everything: format!("every job of the Jenkins whose issuer is {issuer}"),
            shared_audience: false,
        })
    }

    /// A job URL (`https://HOST/job/FOLDER/job/NAME/`) reaches its folder's jobs
    /// when cut short; any other `sub` is a template vault-ci cannot read, and a
    /// wildcard in it may reach any job of that Jenkins.
    fn reach(&self, issuer: &Issuer, sub: Pattern<'_>) -> Reach {
        let Pattern { prefix, literal } = sub;
        if literal {
            return Reach::One;
        }
        let Some(at) = prefix.find("/job/").filter(|_| prefix.starts_with("http")) else {
            return Reach::Owner(match prefix.is_empty() {
                true => issuer.everything.clone(),
                false => format!(
                    "every job of that Jenkins whose `sub` starts with \"{prefix}\" (vault-ci cannot \
                     read a customised claim template)"
                ),
            });
        };
        let path = job_path(&prefix[at..]);
        let (folder, partial) = match path.rsplit_once('/') {
            Some((folder, partial)) => (Some(folder), partial),
            None => (None, path.as_str()),
        };
        let place = match folder {
            Some(folder) => format!("the folder {folder}"),
            None => "that Jenkins".into(),
        };
        Reach::Owner(match (partial.is_empty(), prefix.ends_with('/')) {
            (true, _) => format!("every job in {place}"),
            (false, true) => format!("every job under {path}"),
            (false, false) => format!("every job in {place} whose name starts with \"{partial}\""),
        })
    }

    /// The plugin signs no session tags into its tokens.
    fn narrowing(&self, _: &Evidence<'_>) -> Option<(String, String, Reach)> {
        None
    }

    /// The job of a job URL (`JOB` where it is cut short), and the issuer.
    fn meant(&self, issuer: &Issuer, evidence: &Evidence<'_>) -> Scope {
        let job = evidence
            .sub
            .filter(|s| s.starts_with("http"))
            .and_then(|s| s.find("/job/").map(|at| &s[at..]))
            .map(|tail| {
                let Pattern { prefix, literal } = Pattern::of(tail, true);
                let path = job_path(prefix);
                match (literal, path.rsplit_once('/')) {
                    (true, _) if !path.is_empty() => path,
                    // `…/job/team/*`: the folder is whole, the job is not.
                    (false, _) if prefix.ends_with('/') && !path.is_empty() => {
                        format!("{path}/JOB")
                    }
                    (_, Some((folder, _))) => format!("{folder}/JOB"),
                    _ => "JOB".to_string(),
                }
            });
        Scope {
            job: Some(job.unwrap_or_else(|| "JOB".into())),
            issuer: issuer.owner.clone(),
            ..Scope::default()
        }
    }
}

/// `/job/a/job/b/` → `a/b` (percent-decoded); a trailing part cut short stays.
fn job_path(url_tail: &str) -> String {
    url_tail
        .split("/job/")
        .skip(1)
        .map(|segment| percent_decode(segment.trim_end_matches('/')))
        .collect::<Vec<_>>()
        .join("/")
}

fn percent_decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

/// A job name segment as Jenkins writes it in URLs (`Util.rawEncode`): letters,
/// digits and `!@$&*()-_=+',.` as they are, anything else percent-encoded.
fn raw_encode(segment: &str) -> String {
    let mut out = String::new();
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || b"!@$&*()-_=+',.".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The template with the job's variables (`${NAME}` or `$NAME`, as Jenkins'
/// `Util.replaceMacro` reads them) put in.
fn expand(template: &str, issuer: &str, job: &str, branch: Option<&str>) -> Result<String> {
    let jenkins_url = jenkins_url(issuer);
    let segments: Vec<&str> = job.split('/').filter(|s| !s.is_empty()).collect();
    let job_url = jenkins_url.as_ref().map(|root| {
        let path: Vec<String> = segments.iter().map(|s| raw_encode(s)).collect();
        format!("{root}job/{}/", path.join("/job/"))
    });
    let mut used_branch = false;
    let mut out = String::new();
    let mut rest = template;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (name, next) = match after.strip_prefix('{') {
            Some(braced) => match braced.find('}') {
                Some(end) => (&braced[..end], &braced[end + 1..]),
                None => ("", after),
            },
            None => {
                let end = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                (&after[..end], &after[end..])
            }
        };
        // `$5` in a literal: no variable of the build's starts with a digit.
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            out.push('$');
            rest = after;
            continue;
        }
        let unknown_root = || {
            Error::usage(format!(
                "--issuer {issuer} is not a Jenkins' own issuer (…/oidc), so ${{{name}}} in the claim \
                 template is unknown: spell the Jenkins URL out in --claim-template"
            ))
        };
        let value = match name {
            "JENKINS_URL" => jenkins_url.clone().ok_or_else(unknown_root)?,
            "JOB_URL" => job_url.clone().ok_or_else(unknown_root)?,
            "JOB_NAME" => segments.join("/"),
            "JOB_BASE_NAME" => segments.last().copied().unwrap_or_default().to_string(),
            "BRANCH_NAME" => {
                used_branch = true;
                branch
                    .ok_or_else(|| {
                        Error::usage("the claim template has ${BRANCH_NAME}: --provider jenkins needs --branch BRANCH")
                    })?
                    .to_string()
            }
            per_build if PER_BUILD.contains(&per_build) => "*".to_string(),
            other => {
                return Err(Error::usage(format!(
                    "the claim template's ${{{other}}} is no variable vault-ci can write: it knows \
                     JENKINS_URL, JOB_URL, JOB_NAME, JOB_BASE_NAME and BRANCH_NAME (--branch), and \
                     writes * for {}",
                    PER_BUILD.join(", ")
                )));
            }
        };
        out.push_str(&value);
        rest = next;
    }
    out.push_str(rest);
    if branch.is_some() && !used_branch {
        return Err(Error::usage(
            "--branch needs ${BRANCH_NAME} in the claim template; with the default template a \
             multibranch project's branch is part of --job (team/app/main)",
        ));
    }
    Ok(out)
}

/// JENKINS_URL (with its trailing `/`) from the issuer Jenkins serves:
/// `<JENKINS_URL>oidc`, or a folder's `<JENKINS_URL>job/<folder>/oidc`.
fn jenkins_url(issuer: &str) -> Option<String> {
    let url = match issuer.contains("://") {
        true => issuer.to_string(),
        false => format!("https://{issuer}"),
    };
    let root = url.trim_end_matches('/').strip_suffix("oidc")?;
    let root = match root.find("/job/") {
        Some(at) => &root[..=at],
        None => root,
    };
    root.ends_with('/').then(|| root.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_template_is_the_jobs_url() {
        let sub = |issuer: &str, job: &str| expand(DEFAULT_TEMPLATE, issuer, job, None).unwrap();
        // The plugin README's AWS example: https://jenkins.acme.com/job/my-job/
        assert_eq!(
            sub("https://jenkins.acme.com/oidc", "my-job"),
            "https://jenkins.acme.com/job/my-job/"
        );
        // A folder's own issuer; a Jenkins under a path; names Jenkins encodes.
        assert_eq!(
            sub("jenkins.acme.com/job/team/oidc", "team/deploy"),
            "https://jenkins.acme.com/job/team/job/deploy/"
        );
        assert_eq!(
            sub("https://ci.acme.com/jenkins/oidc", "web app/feature%2Fx"),
            "https://ci.acme.com/jenkins/job/web%20app/job/feature%252Fx/"
        );
    }

    #[test]
    fn a_customised_template_gets_the_jobs_variables_and_stars_for_the_builds() {
        let expanded = expand(
            "jenkins:$JOB_NAME:${BRANCH_NAME}:${BUILD_NUMBER}",
            "https://j/oidc",
            "team/app",
            Some("main"),
        )
        .unwrap();
        assert_eq!(expanded, "jenkins:team/app:main:*");
        let err = expand("${NODE_SECRET}", "https://j/oidc", "a", None).unwrap_err();
        assert!(err.message().starts_with("the claim template's ${NODE_SECRET} is no variable"));
        let err = expand("${JOB_URL}", "https://idp.acme.com/jenkins", "a", None).unwrap_err();
        assert!(err.message().contains("not a Jenkins' own issuer"), "{}", err.message());
        let err = expand(DEFAULT_TEMPLATE, "https://j/oidc", "a", Some("main")).unwrap_err();
        assert!(err.message().starts_with("--branch needs ${BRANCH_NAME}"));
        assert_eq!(expand("cost $5", "https://j/oidc", "a", None).unwrap(), "cost $5");
    }

    #[test]
    fn job_urls_cut_short_reach_their_folder() {
        let issuer = Jenkins.issuer("jenkins.acme.com/oidc", &[]).unwrap();
        let reach = |sub: &str| Jenkins.reach(&issuer, Pattern::of(sub, true));
        assert_eq!(reach("https://jenkins.acme.com/job/team/job/deploy/"), Reach::One);
        assert_eq!(
            reach("https://jenkins.acme.com/job/team/*"),
            Reach::Owner("every job under team".into())
        );
        assert_eq!(
            reach("https://jenkins.acme.com/job/team/job/dep*"),
            Reach::Owner("every job in the folder team whose name starts with \"dep\"".into())
        );
        assert_eq!(
            reach("https://jenkins.acme.com/job/team/job/app/*"),
            Reach::Owner("every job under team/app".into())
        );
        assert_eq!(reach("*"), Reach::Owner(issuer.everything.clone()));
        assert!(matches!(reach("jenkins:team/app:*"), Reach::Owner(why) if why.contains("customised")));
        // Bitbucket's issuer ends in /oidc too, and is not a Jenkins'.
        assert_eq!(
            Jenkins.issuer(
                "api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc",
                &[]
            ),
            None
        );
    }
}
