//! Google Cloud Build, and the other Google runtimes with a metadata server
//! (Cloud Run, Compute Engine): the service account's ID token comes from
//! `GET http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/identity?audience=AUD&format=full`
//! with `Metadata-Flavor: Google` (GCE_METADATA_HOST names another host, as
//! Google's auth libraries honour it), and the answer is the JWT itself, sent
//! with `Metadata-Flavor: Google` too.
//!
//! AWS trusts Google's tokens without an IAM OIDC provider: the principal is the
//! built-in `"Federated": "accounts.google.com"`, and its condition keys are not
//! the claims of the same name. `accounts.google.com:aud` is the token's `azp`
//! (for a service account, its unique ID), `:oaud` the `aud` asked for, and
//! `:sub` the unique ID again (AWS's condition keys for web identity federation;
//! trust/policy.rs reads them so). Any Google account can mint a token for any
//! audience: only `aud` or `sub` narrows a statement to one service account.
//!
//! Cloud Build sets `BUILDER_OUTPUT` in every step (build step outputs go to
//! `$BUILDER_OUTPUT/output`), Cloud Run jobs `CLOUD_RUN_JOB`: those are detected.
//! Cloud Run services set `K_SERVICE`, which every Knative service sets too, on
//! any cloud: there `--provider google` chooses it. Cloud Build's other values
//! ($BUILD_ID, $PROJECT_ID) are substitutions, a step's variables only where its
//! `env:` maps them.

use serde::Deserialize;

use super::fetch::{self, Endpoint};
use super::{Ci, Context, Provider, ProviderOptions, System, TokenFuture};
use super::{Evidence, Issuer, Pattern, Reach, Scope, Subject};
use crate::env::Env;
use crate::error::{Error, Result};
use crate::token::Token;

/// Google's issuer, and the name of IAM's built-in principal for it.
pub const ISSUER: &str = "accounts.google.com";
const DEFAULT_HOST: &str = "metadata.google.internal";
const IDENTITY_PATH: &str = "/computeMetadata/v1/instance/service-accounts/default/identity";

#[derive(Debug, Default, Deserialize)]
pub struct Job {
    builder_output: Option<String>,
    k_service: Option<String>,
    k_revision: Option<String>,
    cloud_run_job: Option<String>,
    cloud_run_execution: Option<String>,
    gce_metadata_host: Option<String>,
    build_id: Option<String>,
    project_id: Option<String>,
    google_cloud_project: Option<String>,
    repo_name: Option<String>,
    commit_sha: Option<String>,
    branch_name: Option<String>,
    /// The identity endpoint, without its query.
    #[serde(skip)]
    url: String,
}

impl Job {
    pub fn from_env(env: &Env) -> Self {
        let mut job: Job = env.deserialize();
        let host = job.gce_metadata_host.as_deref().unwrap_or(DEFAULT_HOST);
        job.url = format!("http://{host}{IDENTITY_PATH}");
        job
    }

    async fn fetch(&self, ctx: &Context<'_>) -> Result<Token> {
        let check = match &self.gce_metadata_host {
            Some(_) => "is GCE_METADATA_HOST right?",
            None => "is this a Google Cloud runtime (Cloud Build, Cloud Run, Compute Engine)?",
        };
        let mut url = url::Url::parse(&self.url).map_err(|e| {
            Error::identity(format!("GCE_METADATA_HOST does not make a URL ({e}); {check}"))
        })?;
        let audience = ctx.audience_or_default();
        url.query_pairs_mut()
            .append_pair("audience", audience)
            .append_pair("format", "full");
        let endpoint = Endpoint {
            name: "Google's metadata server",
            check,
            refused: "the identity token was refused to this runtime",
        };
        let explain = |status: reqwest::StatusCode| {
            (status == reqwest::StatusCode::NOT_FOUND).then(|| {
                Error::identity(format!(
                    "Google's metadata server answered HTTP {status}: this runtime has no default \
                     service account; give the build or service one"
                ))
            })
        };
        let answer = fetch::fetch(ctx, &endpoint, explain, |client| {
            client.get(url.clone()).header("Metadata-Flavor", "Google")
        })
        .await?;
        // What answers as Google's metadata server says so; anything else (a
        // captive portal, a proxy) is not to be believed.
        let flavour = answer
            .headers
            .get("Metadata-Flavor")
            .and_then(|v| v.to_str().ok());
        if flavour != Some("Google") {
            return Err(Error::identity(format!(
                "what answered at {} is not Google's metadata server (no `Metadata-Flavor: Google` \
                 in its answer); {check}",
                url.host_str().unwrap_or_default()
            )));
        }
        let text = std::str::from_utf8(&answer.body).map_err(|_| {
            Error::identity(format!("Google's metadata server answered something that is not a token; {check}"))
        })?;
        let token = Token::parse(text, "Google's metadata server")?;
        if !token.claims.has_audience(audience) {
            return Err(Error::identity(format!(
                "Google's metadata server answered a token for audience {}, not the {audience} it was \
                 asked for; {check}",
                token
                    .claims
                    .aud
                    .as_ref()
                    .map(|a| a.to_string())
                    .unwrap_or_else(|| "(none)".into())
            )));
        }
        Ok(token)
    }
}

impl Provider for Job {
    fn ci(&self) -> Ci {
        Ci::Google
    }

    fn detected(&self) -> bool {
        self.builder_output.is_some() || self.cloud_run_job.is_some()
    }

    /// The metadata server mints on request; where there is none, fetching says so.
    fn has_token(&self) -> bool {
        true
    }

    fn missing_token(&self) -> Error {
        Error::identity("Google's ID tokens come from the metadata server of a Google Cloud runtime")
    }

    /// `google-<build id>` (when the step's `env:` maps $BUILD_ID), else the Cloud
    /// Run execution or revision.
    fn session_name(&self) -> Option<String> {
        let run = self
            .build_id
            .as_deref()
            .or(self.cloud_run_execution.as_deref())
            .or(self.k_revision.as_deref())?;
        Some(format!("google-{run}"))
    }

    fn mints_fresh_tokens(&self, _ctx: &Context<'_>) -> bool {
        true
    }

    fn token<'a>(&'a self, ctx: &'a Context<'a>) -> TokenFuture<'a> {
        Box::pin(self.fetch(ctx))
    }

    fn token_url(&self) -> Option<&str> {
        Some(&self.url)
    }

    fn session_tags(&self) -> Vec<(String, String)> {
        let ci = match self.builder_output.is_some() {
            true => "google-cloud-build",
            false => "google-cloud-run",
        };
        let run = [
            ("Project", self.project_id.clone().or(self.google_cloud_project.clone())),
            ("Build", self.build_id.clone()),
            ("Repository", self.repo_name.clone()),
            ("Commit", self.commit_sha.clone()),
            ("Branch", self.branch_name.clone()),
            ("Service", self.k_service.clone()),
            ("Job", self.cloud_run_job.clone()),
        ];
        std::iter::once(("CI".to_string(), ci.to_string()))
            .chain(
                run.into_iter()
                    .filter_map(|(key, value)| Some((key.to_string(), value?))),
            )
            .collect()
    }
}

pub struct Google;

impl System for Google {
    fn name(&self) -> &'static str {
        "google"
    }

    fn title(&self) -> &'static str {
        "Google Cloud"
    }

    fn marker(&self) -> &'static str {
        "BUILDER_OUTPUT"
    }

    fn help(&self) -> &'static str {
        "The service account's ID token from Google's metadata server (Cloud Build, Cloud Run, \
         Compute Engine; GCE_METADATA_HOST)"
    }

    /// None: the metadata server asks for no secret.
    fn token_variables(&self) -> &'static [&'static str] {
        &[]
    }

    fn provider(&self, env: &Env, _: &ProviderOptions) -> Box<dyn Provider> {
        Box::new(Job::from_env(env))
    }

    /// The service account's unique ID as `sub` (and as `aud`, IAM's name for
    /// the token's `azp`); the audience asked for is `oaud`.
    fn trust_subject(&self, scope: &Scope) -> Result<Subject> {
        scope.unsupported("Google", &[])?;
        if scope.issuer.as_deref().is_some_and(|i| scope.issuer(i) != ISSUER) {
            return Err(Error::usage(
                "--provider google: Google's issuer is accounts.google.com, IAM's built-in principal; \
                 drop --issuer",
            ));
        }
        let id = scope.required(
            &scope.service_account_id,
            "--service-account-id ID (the service account's unique ID)",
            "google",
        )?;
        if !id.bytes().all(|b| b.is_ascii_digit()) && !super::scope::placeholder(id) {
            return Err(Error::usage(format!(
                "--service-account-id `{id}` must be the service account's unique ID (digits), not its \
                 email: gcloud iam service-accounts describe EMAIL --format='value(uniqueId)'"
            )));
        }
        Ok(Subject {
            issuer: ISSUER.to_string(),
            audience: scope.audience(super::DEFAULT_AUDIENCE),
            subject: id.to_string(),
        })
    }

    fn issuer(&self, issuer: &str, _subs: &[&str]) -> Option<Issuer> {
        issuer.eq_ignore_ascii_case(ISSUER).then(|| Issuer {
            ci: Ci::Google,
            owner: None,
            everything: "any Google account's token: every service account of every Google Cloud \
                         project, and every person with a Google account"
                .into(),
            shared_audience: false,
        })
    }

    /// `sub` is a unique ID, digits: whole, it is one account.
    fn reach(&self, issuer: &Issuer, sub: Pattern<'_>) -> Reach {
        match sub {
            Pattern { literal: true, .. } => Reach::One,
            Pattern { prefix: "", .. } => Reach::Others(issuer.everything.clone()),
            Pattern { prefix, .. } => Reach::Others(format!(
                "every Google account whose unique ID starts with \"{prefix}\""
            )),
        }
    }

    /// `accounts.google.com:aud` is the token's `azp`: one literal value is one
    /// service account, as `sub` is.
    fn narrowing(&self, evidence: &Evidence<'_>) -> Option<(String, String, Reach)> {
        let (key, value) = evidence.literal(&format!("{ISSUER}:aud"))?;
        Some((key.to_string(), value.to_string(), Reach::One))
    }

    /// The service account of `sub`, else of `aud`.
    fn meant(&self, _: &Issuer, evidence: &Evidence<'_>) -> Scope {
        let id = |value: &str| {
            Some(value.to_string()).filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
        };
        let account = evidence
            .sub
            .and_then(id)
            .or_else(|| evidence.literal(&format!("{ISSUER}:aud")).and_then(|(_, v)| id(v)));
        Scope {
            service_account_id: Some(account.unwrap_or_else(|| "SERVICE_ACCOUNT_ID".into())),
            ..Scope::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloud_build_and_cloud_run_are_detected_and_the_host_is_honoured() {
        let build = Job::from_env(&Env::of([
            ("BUILDER_OUTPUT", "/builder/outputs"),
            ("BUILD_ID", "b-1"),
            ("GCE_METADATA_HOST", "127.0.0.1:8080"),
        ]));
        assert!(build.detected());
        assert_eq!(build.session_name().as_deref(), Some("google-b-1"));
        assert_eq!(
            build.token_url(),
            Some("http://127.0.0.1:8080/computeMetadata/v1/instance/service-accounts/default/identity")
        );
        // K_SERVICE is every Knative service's: not enough to be Google's.
        let run = Job::from_env(&Env::of([("K_SERVICE", "api"), ("K_REVISION", "api-00007")]));
        assert!(!run.detected());
        assert!(Job::from_env(&Env::of([("CLOUD_RUN_JOB", "migrate")])).detected());
        assert_eq!(run.session_name().as_deref(), Some("google-api-00007"));
        assert!(run.token_url().unwrap().starts_with("http://metadata.google.internal/"));
        assert!(!Job::from_env(&Env::default()).detected());
    }

    #[test]
    fn the_service_account_is_its_unique_id() {
        let scope = Scope {
            service_account_id: Some("someone@p.iam.gserviceaccount.com".into()),
            ..Scope::default()
        };
        let err = Google.trust_subject(&scope).unwrap_err();
        assert!(err.message().contains("not its email"), "{}", err.message());
    }
}
