//! Azure Pipelines: a job's OIDC token comes from `POST $SYSTEM_OIDCREQUESTURI`
//! (Oidctoken - Create, <https://learn.microsoft.com/rest/api/azure/devops/distributedtask/oidctoken/create>),
//! authorised by the job's own `System.AccessToken`, which a script step sees only
//! when the pipeline maps it into the step's environment. The answer is
//! `{"oidcToken": "<jwt>"}`. The reference names `api-version=7.1-preview.1`;
//! Microsoft's own clients (azure-identity's AzurePipelinesCredential) send `7.1`,
//! as vault-ci does.
//!
//! Two tokens, two `sub` grammars (Teleport's RFD 211 recorded both, and Microsoft's
//! tasks request the first): with `serviceConnectionId=<id>` the service connection's,
//! `sc://ORG/PROJECT/CONNECTION`, which only works when a task of the pipeline
//! references that connection; without it the pipeline's own,
//! `p://ORG/PROJECT/PIPELINE`. Both come from the organization's Azure DevOps issuer
//! `https://vstoken.dev.azure.com/<organization id>` with the fixed audience
//! `api://AzureADTokenExchange`.
//!
//! A service connection converted to the Microsoft Entra issuer, which replaces the
//! Azure DevOps one by 2027-07-01 for connections backed by Entra apps
//! (<https://learn.microsoft.com/azure/devops/pipelines/release/convert-service-connections>),
//! gets its token from `https://login.microsoftonline.com/<tenant>/v2.0` instead:
//! `sub` `/eid1/c/pub/t/<tenant>/a/<Azure DevOps' app>/sc/<organization id>/<connection id>`
//! (the two IDs base64url-encoded), `aud` `fb60f99c-7a34-4190-8149-302f77469936` — the
//! application ID behind `api://AzureADTokenExchange`, which is what an Entra v2.0
//! token carries. `trust-policy` writes either statement, or both for the move.

use serde::Deserialize;
use tracing::info;

use super::fetch::{self, Endpoint};
use super::{Process, Ci, Context, Provider, ProviderOptions, System, TokenFuture};
use super::{Evidence, Issuer, Pattern, Reach, Scope, Subject};
use crate::env::Env;
use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::token::Token;

/// The Azure DevOps issuer, before the organization's ID.
const ISSUER_PREFIX: &str = "vstoken.dev.azure.com/";
/// The audience of every Azure DevOps-issued token.
pub const AUDIENCE: &str = "api://AzureADTokenExchange";
/// The Microsoft Entra issuer is `login.microsoftonline.com/<tenant>/v2.0`.
const ENTRA_PREFIX: &str = "login.microsoftonline.com/";
const ENTRA_SUFFIX: &str = "/v2.0";
/// `api://AzureADTokenExchange`'s application ID: the `aud` of Entra-issued tokens.
pub const ENTRA_AUDIENCE: &str = "fb60f99c-7a34-4190-8149-302f77469936";
/// Azure DevOps' application ID (499b84ac-1321-427f-aa17-267ca6975798) as the
/// Entra subject encodes it: base64url of its bytes in GUID order.
const AZURE_DEVOPS_APP: &str = "rISbSSETf0KqFyZ8ppdXmA";
/// How an Entra issuer's `everything` begins: how [`Azure::meant`] tells the two issuers apart.
const ENTRA_EVERYTHING: &str = "every workload the Microsoft Entra tenant";

const ACCESS_TOKEN_FIX: &str = "env: SYSTEM_ACCESSTOKEN: $(System.AccessToken)";

const ACCESS_TOKEN_HINT: &str = "hint: System.AccessToken reaches a script only when the step maps it:\n\
    - script: vault-ci assume --role-arn \"$AWS_ROLE_ARN\" --env-file aws.env\n  \
    env:\n    SYSTEM_ACCESSTOKEN: $(System.AccessToken)";

#[derive(Debug, Default, Deserialize)]
pub struct Job {
    tf_build: Option<String>,
    system_oidcrequesturi: Option<String>,
    system_accesstoken: Option<Secret>,
    system_teamproject: Option<String>,
    build_definitionname: Option<String>,
    build_buildid: Option<String>,
    system_jobattempt: Option<String>,
    build_repository_name: Option<String>,
    build_sourceversion: Option<String>,
    build_sourcebranch: Option<String>,
    /// Set by Azure tasks (AzureCLI@2, AzurePowerShell@5) for their connection.
    azuresubscription_service_connection_id: Option<String>,
    /// `--service-connection-id`.
    #[serde(skip)]
    service_connection_id: Option<String>,
}

impl Job {
    pub fn from_env(env: &Env, options: &ProviderOptions) -> Self {
        let mut job: Job = env.deserialize();
        job.service_connection_id = options
            .service_connection_id
            .clone()
            .or(job.azuresubscription_service_connection_id.take());
        job
    }

    fn access_token(&self) -> Option<&Secret> {
        self.system_accesstoken
            .as_ref()
            .filter(|t| !t.expose().is_empty())
    }

    async fn fetch(&self, ctx: &Context<'_>) -> Result<Token> {
        let (Some(uri), Some(access)) = (self.system_oidcrequesturi.as_deref(), self.access_token())
        else {
            return Err(self.missing_token());
        };
        let mut url = url::Url::parse(uri)
            .map_err(|e| Error::identity(format!("SYSTEM_OIDCREQUESTURI is not a URL ({e})")))?;
        url.query_pairs_mut().append_pair("api-version", "7.1");
        if let Some(id) = &self.service_connection_id {
            url.query_pairs_mut().append_pair("serviceConnectionId", id);
        }
        let endpoint = Endpoint {
            name: "Azure DevOps' OIDC token endpoint",
            check: "is SYSTEM_OIDCREQUESTURI right?",
            refused: "SYSTEM_ACCESSTOKEN was refused: map this job's own System.AccessToken into \
                      the step (env: SYSTEM_ACCESSTOKEN: $(System.AccessToken))",
        };
        let connection = self.service_connection_id.as_deref();
        let explain = |status: reqwest::StatusCode| {
            let id = connection.filter(|_| status == reqwest::StatusCode::NOT_FOUND)?;
            Some(Error::identity(format!(
                "{} answered HTTP {status} for the service connection {id}: no task of this pipeline \
                 references it (a task input such as azureSubscription must name it), or it is not \
                 its ID (the resourceId in its settings page's URL)",
                endpoint.name
            )))
        };
        let answer = fetch::fetch(ctx, &endpoint, explain, |client| {
            client
                .post(url.clone())
                .bearer_auth(access.expose())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header(reqwest::header::ACCEPT, "application/json")
                // IIS answers a POST without a length 411; curl users pass it by hand.
                .header(reqwest::header::CONTENT_LENGTH, "0")
                .body("")
        })
        .await?;
        let jwt = fetch::json_field(&endpoint, &answer.body, "oidcToken")?;
        let token = Token::parse(&jwt, "Azure Pipelines")?;
        let wanted: Vec<&str> = match ctx.audience {
            Some(audience) => vec![audience],
            None => vec![AUDIENCE, ENTRA_AUDIENCE],
        };
        if !wanted.iter().any(|a| token.claims.has_audience(a)) {
            return Err(Error::identity(format!(
                "{} answered a token for audience {}, not {}: Azure DevOps sets the audience itself; {}",
                endpoint.name,
                token
                    .claims
                    .aud
                    .as_ref()
                    .map(|a| a.to_string())
                    .unwrap_or_else(|| "(none)".into()),
                wanted.join(" or "),
                match ctx.audience {
                    Some(_) => "drop --audience",
                    None => endpoint.check,
                }
            )));
        }
        let issuer = token.claims.issuer_host().unwrap_or_default();
        match (issuer.starts_with(ENTRA_PREFIX), connection) {
            (true, _) => info!("the token is from the Microsoft Entra issuer {issuer}"),
            (false, Some(_)) => info!(
                "the token is from the Azure DevOps issuer {issuer}, which Microsoft retires by \
                 2027-07-01 for service connections backed by Entra apps: `vault-ci trust-policy \
                 --provider azure` with --tenant-id and --service-connection-id admits both"
            ),
            (false, None) => info!("the token is the pipeline's, from the Azure DevOps issuer {issuer}"),
        }
        Ok(token)
    }
}

impl Provider for Job {
    fn ci(&self) -> Ci {
        Ci::Azure
    }

    fn detected(&self) -> bool {
        self.tf_build
            .as_deref()
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    fn has_token(&self) -> bool {
        self.system_oidcrequesturi.is_some() && self.access_token().is_some()
    }

    fn missing_token(&self) -> Error {
        if self.system_oidcrequesturi.is_some() {
            return Error::identity(format!(
                "this Azure Pipelines step has no SYSTEM_ACCESSTOKEN, which requesting an OIDC token \
                 needs; add to the step: {ACCESS_TOKEN_FIX}"
            ))
            .with_hint(ACCESS_TOKEN_HINT);
        }
        let context = match self.detected() {
            true => "this Azure Pipelines job has no OIDC token endpoint",
            false => "--provider azure needs Azure Pipelines' OIDC token endpoint",
        };
        Error::identity(format!(
            "{context} (SYSTEM_OIDCREQUESTURI is not set): Azure DevOps Services sets it in every \
             job's environment since sprint 240; run vault-ci in a pipeline job"
        ))
    }

    /// `azure-<build id>-<job attempt>`.
    fn session_name(&self) -> Option<String> {
        let build = self.build_buildid.as_deref()?;
        let attempt = self.system_jobattempt.as_deref().unwrap_or("1");
        Some(format!("azure-{build}-{attempt}"))
    }

    fn mints_fresh_tokens(&self, _ctx: &Context<'_>) -> bool {
        true
    }

    fn token<'a>(&'a self, ctx: &'a Context<'a>) -> TokenFuture<'a> {
        Box::pin(self.fetch(ctx))
    }

    fn token_url(&self) -> Option<&str> {
        self.system_oidcrequesturi.as_deref()
    }

    fn session_tags(&self) -> Vec<(String, String)> {
        let run = [
            ("Project", &self.system_teamproject),
            ("Pipeline", &self.build_definitionname),
            ("Repository", &self.build_repository_name),
            ("Commit", &self.build_sourceversion),
            ("Branch", &self.build_sourcebranch),
            ("Build", &self.build_buildid),
        ];
        std::iter::once(("CI".to_string(), "azure-pipelines".to_string()))
            .chain(
                run.into_iter()
                    .filter_map(|(key, value)| Some((key.to_string(), value.clone()?))),
            )
            .collect()
    }
}

pub struct Azure;

impl System for Azure {
    fn name(&self) -> &'static str {
        "azure"
    }

    fn title(&self) -> &'static str {
        "Azure Pipelines"
    }

    fn marker(&self) -> &'static str {
        "TF_BUILD=True"
    }

    fn help(&self) -> &'static str {
        "Azure Pipelines' OIDC token endpoint (the step maps SYSTEM_ACCESSTOKEN; \
         --service-connection-id for a service connection's token)"
    }

    /// The token endpoint's URL and the job's access token, which authorises it.
    fn token_variables(&self) -> &'static [&'static str] {
        &["SYSTEM_OIDCREQUESTURI", "SYSTEM_ACCESSTOKEN"]
    }

    fn provider(&self, env: &Env, options: &ProviderOptions) -> Box<dyn Provider> {
        Box::new(Job::from_env(env, options))
    }

    /// The Azure DevOps issuer's statement when the scope names the organization
    /// and project, else the Entra issuer's.
    fn trust_subject(&self, scope: &Scope) -> Result<Subject> {
        let mut subjects = self.trust_subjects(scope)?;
        Ok(subjects.remove(0))
    }

    fn trust_subjects(&self, scope: &Scope) -> Result<Vec<Subject>> {
        scope.unsupported("Azure DevOps", &[])?;
        let devops = scope.organization.is_some()
            || scope.project.is_some()
            || scope.service_connection.is_some()
            || scope.pipeline.is_some();
        let entra = scope.tenant_id.is_some() || scope.service_connection_id.is_some();
        let mut subjects = Vec::new();
        if devops || !entra {
            let org_id = guid(
                scope.required(&scope.org_id, "--org-id UUID (the organization's ID)", "azure")?,
                "--org-id",
            )?;
            let organization = scope.required(&scope.organization, "--organization NAME", "azure")?;
            let project = scope.required(&scope.project, "--project NAME", "azure")?;
            let subject = match (&scope.service_connection, &scope.pipeline) {
                (Some(connection), None) => format!("sc://{organization}/{project}/{connection}"),
                (None, Some(pipeline)) => format!("p://{organization}/{project}/{pipeline}"),
                _ => {
                    return Err(Error::usage(
                        "--provider azure needs --service-connection NAME (a service connection's \
                         token) or --pipeline NAME (the pipeline's own), one of them",
                    ));
                }
            };
            subjects.push(Subject {
                issuer: scope.issuer(&format!("{ISSUER_PREFIX}{org_id}")),
                audience: scope.audience(AUDIENCE),
                subject,
            });
        }
        if entra {
            let tenant = guid(
                scope.required(&scope.tenant_id, "--tenant-id UUID", "azure")?,
                "--tenant-id",
            )?;
            let org_id = guid(
                scope.required(&scope.org_id, "--org-id UUID (the organization's ID)", "azure")?,
                "--org-id",
            )?;
            let connection = guid(
                scope.required(
                    &scope.service_connection_id,
                    "--service-connection-id UUID",
                    "azure",
                )?,
                "--service-connection-id",
            )?;
            use base64::Engine;
            let tenant_part = match guid_bytes(&tenant) {
                Some(bytes) => base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
                None => tenant.clone(),
            };
            subjects.push(Subject {
                issuer: format!("{ENTRA_PREFIX}{tenant}{ENTRA_SUFFIX}"),
                audience: ENTRA_AUDIENCE.to_string(),
                subject: format!(
                    "/eid1/c/pub/t/{tenant_part}/a/{AZURE_DEVOPS_APP}/sc/{org_id}/{connection}"
                ),
            });
        }
        Ok(subjects)
    }

    /// `vstoken.dev.azure.com/<organization id>`: one organization's issuer; and
    /// `login.microsoftonline.com/<tenant>/v2.0`: one Entra tenant's.
    fn issuer(&self, issuer: &str, _subs: &[&str]) -> Option<Issuer> {
        let lower = issuer.to_ascii_lowercase();
        if let Some(org) = lower.strip_prefix(ISSUER_PREFIX).filter(|o| !o.contains('/')) {
            return Some(Issuer {
                ci: Ci::Azure,
                owner: Some(org.to_string()),
                everything: format!(
                    "every pipeline and service connection of the Azure DevOps organization {org}"
                ),
                shared_audience: false,
            });
        }
        let tenant = lower
            .strip_prefix(ENTRA_PREFIX)?
            .strip_suffix(ENTRA_SUFFIX)
            .filter(|t| !t.contains('/'))?;
        Some(Issuer {
            ci: Ci::Azure,
            owner: Some(tenant.to_string()),
            everything: format!(
                "{ENTRA_EVERYTHING} {tenant} issues tokens to: its Azure DevOps service connections, \
                 managed identities and apps"
            ),
            shared_audience: false,
        })
    }

    /// `sc://ORG/PROJECT/CONNECTION` and `p://ORG/PROJECT/PIPELINE` (Azure DevOps
    /// issuer), `/eid1/c/pub/t/…/a/…/sc/ORG_ID/CONNECTION_ID` (Entra issuer). Both
    /// issuers name one organization or tenant, so the worst is all of it.
    fn reach(&self, issuer: &Issuer, sub: Pattern<'_>) -> Reach {
        let Pattern { prefix, literal } = sub;
        let all = || Reach::Owner(issuer.everything.clone());
        if literal {
            return Reach::One;
        }
        if issuer.everything.starts_with(ENTRA_EVERYTHING) {
            return match prefix.split_once("/sc/") {
                Some((_, rest)) => match rest.split_once('/') {
                    Some((org, partial)) if !partial.contains('/') => Reach::Owner(format!(
                        "every service connection of the Azure DevOps organization {org} whose ID \
                         starts with \"{partial}\""
                    )),
                    Some(_) => Reach::One,
                    None => all(),
                },
                None if "/eid1/".starts_with(prefix) || prefix.starts_with("/eid1/") => all(),
                None => Reach::One,
            };
        }
        let Some((kind, rest)) = ["sc://", "p://"]
            .iter()
            .find_map(|scheme| Some((*scheme, prefix.strip_prefix(scheme)?)))
        else {
            return match "sc://".starts_with(prefix) || "p://".starts_with(prefix) {
                true => all(),
                false => Reach::One,
            };
        };
        let what = match kind {
            "sc://" => "service connection",
            _ => "pipeline",
        };
        match rest.splitn(3, '/').collect::<Vec<_>>().as_slice() {
            [organization, project, ""] => Reach::Owner(format!(
                "every {what} of the Azure DevOps project {organization}/{project}"
            )),
            [organization, project, partial] => Reach::Owner(format!(
                "every {what} of the Azure DevOps project {organization}/{project} whose name starts \
                 with \"{partial}\""
            )),
            _ => all(),
        }
    }

    /// Azure DevOps signs no session tags into its tokens.
    fn narrowing(&self, _: &Evidence<'_>) -> Option<(String, String, Reach)> {
        None
    }

    /// The organization (or tenant) is the issuer's; the rest is the `sub`'s.
    fn meant(&self, issuer: &Issuer, evidence: &Evidence<'_>) -> Scope {
        let whole = |part: &str| {
            Some(part.to_string()).filter(|p| !p.is_empty() && !p.contains(['*', '?']))
        };
        if issuer.everything.starts_with(ENTRA_EVERYTHING) {
            let ids = evidence
                .sub
                .and_then(|s| s.split_once("/sc/"))
                .and_then(|(_, rest)| rest.split_once('/'));
            return Scope {
                org_id: Some(ids.and_then(|(org, _)| whole(org)).unwrap_or("ORG_ID".into())),
                service_connection_id: Some(
                    ids.and_then(|(_, id)| whole(id))
                        .unwrap_or("SERVICE_CONNECTION_ID".into()),
                ),
                tenant_id: issuer.owner.clone(),
                ..Scope::default()
            };
        }
        let sub = evidence.sub.unwrap_or_default();
        let (pipeline, rest) = match sub.strip_prefix("p://") {
            Some(rest) => (true, rest),
            None => (false, sub.strip_prefix("sc://").unwrap_or_default()),
        };
        let parts: Vec<&str> = rest.splitn(3, '/').collect();
        let part = |i: usize, placeholder: &str| {
            parts
                .get(i)
                .and_then(|p| whole(p))
                .unwrap_or_else(|| placeholder.to_string())
        };
        Scope {
            org_id: issuer.owner.clone(),
            organization: Some(part(0, "ORGANIZATION")),
            project: Some(part(1, "PROJECT")),
            pipeline: pipeline.then(|| part(2, "PIPELINE")),
            service_connection: (!pipeline).then(|| part(2, "SERVICE_CONNECTION")),
            ..Scope::default()
        }
    }

    /// A self-hosted agent's Agent.Worker runs one job; Agent.Listener, its
    /// parent, outlives it.
    fn job_process(&self, ancestors: &[Process]) -> Option<u32> {
        ancestors
            .iter()
            .find(|p| p.name == "Agent.Worker")
            .map(|p| p.pid)
    }
}

/// A GUID's 16 bytes as Microsoft stores them (the first three fields little-endian).
fn guid_bytes(text: &str) -> Option<[u8; 16]> {
    let hex: String = text.chars().filter(|c| *c != '-').collect();
    let groups: Vec<usize> = text.split('-').map(str::len).collect();
    if groups != [8, 4, 4, 4, 12] {
        return None;
    }
    let raw = hex::decode(hex).ok()?;
    let mut bytes: [u8; 16] = raw.try_into().ok()?;
    bytes[0..4].reverse();
    bytes[4..6].reverse();
    bytes[6..8].reverse();
    Some(bytes)
}

/// A GUID, lower-cased as Azure DevOps writes them, or a usage error naming
/// `flag`; a placeholder (`ORG_ID`) as it is, for `--check`'s fixes.
fn guid(text: &str, flag: &str) -> Result<String> {
    match guid_bytes(text) {
        Some(_) => Ok(text.to_ascii_lowercase()),
        None if super::scope::placeholder(text) => Ok(text.to_string()),
        None => Err(Error::usage(format!("{flag} `{text}` is not a GUID"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entra_subject_encodes_its_ids_as_microsoft_does() {
        // Azure DevOps' own application ID gives the `/a/` part every Entra-issued
        // service connection subject has.
        use base64::Engine;
        let app = guid_bytes("499b84ac-1321-427f-aa17-267ca6975798").unwrap();
        assert_eq!(
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(app),
            AZURE_DEVOPS_APP
        );
        // A published token's tenant ff882432-… is `MiSI_7AJe0O9IsoTwAN97Q` in its `sub`.
        let tenant = guid_bytes("ff882432-09b0-437b-bd22-ca13c0037ded").unwrap();
        assert_eq!(
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tenant),
            "MiSI_7AJe0O9IsoTwAN97Q"
        );
        assert_eq!(guid_bytes("not-a-guid"), None);
        assert_eq!(guid_bytes("ff88243209b0437bbd22ca13c0037ded"), None);
    }

    #[test]
    fn both_issuers_for_the_move_and_each_alone() {
        let scope = Scope {
            org_id: Some("0CA3DDD9-F0B0-4635-A98C-5866526961B6".into()),
            organization: Some("acme".into()),
            project: Some("web".into()),
            service_connection: Some("aws-deploy".into()),
            tenant_id: Some("ff882432-09b0-437b-bd22-ca13c0037ded".into()),
            service_connection_id: Some("64171687-7a59-4fce-b2c8-823278dcf176".into()),
            ..Scope::default()
        };
        let both = Azure.trust_subjects(&scope).unwrap();
        assert_eq!(
            both,
            [
                Subject {
                    issuer: "vstoken.dev.azure.com/0ca3ddd9-f0b0-4635-a98c-5866526961b6".into(),
                    audience: AUDIENCE.into(),
                    subject: "sc://acme/web/aws-deploy".into(),
                },
                // The `sub` of the token Teleport's RFD 211 published for this tenant,
                // organization and service connection.
                Subject {
                    issuer: "login.microsoftonline.com/ff882432-09b0-437b-bd22-ca13c0037ded/v2.0"
                        .into(),
                    audience: ENTRA_AUDIENCE.into(),
                    subject: "/eid1/c/pub/t/MiSI_7AJe0O9IsoTwAN97Q/a/rISbSSETf0KqFyZ8ppdXmA/sc/\
                              0ca3ddd9-f0b0-4635-a98c-5866526961b6/64171687-7a59-4fce-b2c8-823278dcf176"
                        .into(),
                },
            ]
        );
        let pipeline = Scope {
            service_connection: None,
            pipeline: Some("deploy".into()),
            tenant_id: None,
            service_connection_id: None,
            ..scope.clone()
        };
        assert_eq!(
            Azure.trust_subject(&pipeline).unwrap().subject,
            "p://acme/web/deploy"
        );
        let err = Azure
            .trust_subject(&Scope {
                pipeline: Some("deploy".into()),
                ..scope.clone()
            })
            .unwrap_err();
        assert!(err.message().contains("one of them"), "{}", err.message());
        let err = Azure
            .trust_subject(&Scope {
                org_id: Some("acme".into()),
                ..scope
            })
            .unwrap_err();
        assert_eq!(err.message(), "--org-id `acme` is not a GUID");
    }

    #[test]
    fn the_job_reads_its_service_connection_and_names_its_run() {
        let env = Env::of([
            ("TF_BUILD", "True"),
            ("BUILD_BUILDID", "812"),
            ("SYSTEM_JOBATTEMPT", "2"),
            ("AZURESUBSCRIPTION_SERVICE_CONNECTION_ID", "task-set"),
        ]);
        let job = Job::from_env(&env, &ProviderOptions::default());
        assert!(job.detected() && !job.has_token());
        assert_eq!(job.service_connection_id.as_deref(), Some("task-set"));
        assert_eq!(job.session_name().as_deref(), Some("azure-812-2"));
        let flag = ProviderOptions {
            service_connection_id: Some("flag".into()),
            ..ProviderOptions::default()
        };
        assert_eq!(
            Job::from_env(&env, &flag).service_connection_id.as_deref(),
            Some("flag")
        );
        let missing = Job::from_env(
            &Env::of([("TF_BUILD", "True"), ("SYSTEM_OIDCREQUESTURI", "https://x")]),
            &ProviderOptions::default(),
        )
        .missing_token();
        assert!(
            missing.message().ends_with(ACCESS_TOKEN_FIX),
            "{}",
            missing.message()
        );
    }
}
