//! What a trust policy for a CI is about: which of its jobs to admit (a
//! [`Scope`], as `vault-ci trust-policy` is told), and the issuer, audience and
//! `sub` that admit exactly them (a [`Subject`]). Each CI's file turns the one
//! into the other, and reads a policy's `sub` back: which [`Issuer`] it is, how
//! far a value [`Reach`]es, and which scope the statement seems meant for
//! (from its [`Evidence`]). `trust/` writes and checks the policies.

use super::Ci;
use crate::error::{Error, Result};

/// Which jobs of a CI a trust policy should admit, as `vault-ci trust-policy`
/// is told: each CI's file (`identity/<ci>.rs`) turns it into a [`Subject`].
#[derive(Debug, Default, Clone)]
pub struct Scope {
    pub repo: Option<String>,
    pub owner_id: Option<String>,
    pub repo_id: Option<String>,
    pub project_path: Option<String>,
    pub org_id: Option<String>,
    pub project_id: Option<String>,
    pub organization: Option<String>,
    pub pipeline: Option<String>,
    pub workspace: Option<String>,
    pub workspace_uuid: Option<String>,
    pub repo_uuid: Option<String>,
    pub project: Option<String>,
    pub service_connection: Option<String>,
    pub service_connection_id: Option<String>,
    pub tenant_id: Option<String>,
    pub job: Option<String>,
    pub claim_template: Option<String>,
    pub service_account_id: Option<String>,
    pub branch: Option<String>,
    pub environment: Option<String>,
    pub tag: Option<String>,
    pub pull_request: bool,
    pub audience: Option<String>,
    pub issuer: Option<String>,
}

impl Scope {
    pub fn required<'a>(
        &self,
        value: &'a Option<String>,
        option: &str,
        provider: &str,
    ) -> Result<&'a str> {
        value
            .as_deref()
            .filter(|v| !v.is_empty())
            .ok_or_else(|| Error::usage(format!("--provider {provider} needs {option}")))
    }

    /// Refuses the job selectors this CI's `sub` claim cannot express.
    pub fn unsupported(&self, provider: &str, allowed: &[&str]) -> Result<()> {
        let given = [
            ("--branch", self.branch.is_some()),
            ("--environment", self.environment.is_some()),
            ("--tag", self.tag.is_some()),
            ("--pull-request", self.pull_request),
        ];
        for (option, present) in given {
            if present && !allowed.contains(&option) {
                return Err(Error::usage(format!(
                    "{option} cannot be expressed in {provider}'s `sub` claim; it supports {}",
                    if allowed.is_empty() {
                        "none of --branch/--tag/--environment".to_string()
                    } else {
                        allowed.join(", ")
                    }
                )));
            }
        }
        Ok(())
    }

    /// The issuer as IAM names the provider (host and path, no scheme): `--issuer`
    /// for self-hosted instances, else the CI's own.
    pub fn issuer(&self, default: &str) -> String {
        let raw = self.issuer.as_deref().unwrap_or(default);
        raw.trim_start_matches("https://")
            .trim_end_matches('/')
            .to_string()
    }

    pub fn audience(&self, default: &str) -> String {
        self.audience.clone().unwrap_or_else(|| default.to_string())
    }

    /// `vault-ci trust-policy`'s flags for this scope (without `--provider`),
    /// in the order `trust-policy --check` has always printed them.
    pub fn to_args(&self) -> Vec<String> {
        let flags = [
            ("--repo", &self.repo),
            ("--owner-id", &self.owner_id),
            ("--repo-id", &self.repo_id),
            ("--project-path", &self.project_path),
            ("--org-id", &self.org_id),
            ("--project-id", &self.project_id),
            ("--organization", &self.organization),
            ("--pipeline", &self.pipeline),
            ("--workspace", &self.workspace),
            ("--workspace-uuid", &self.workspace_uuid),
            ("--repo-uuid", &self.repo_uuid),
            ("--project", &self.project),
            ("--service-connection", &self.service_connection),
            ("--service-connection-id", &self.service_connection_id),
            ("--tenant-id", &self.tenant_id),
            ("--job", &self.job),
            ("--claim-template", &self.claim_template),
            ("--service-account-id", &self.service_account_id),
            ("--branch", &self.branch),
            ("--tag", &self.tag),
            ("--environment", &self.environment),
        ];
        let mut args = Vec::new();
        for (flag, value) in flags {
            if let Some(value) = value {
                args.extend([flag.to_string(), value.clone()]);
            }
        }
        if self.pull_request {
            args.push("--pull-request".into());
        }
        for (flag, value) in [("--issuer", &self.issuer), ("--audience", &self.audience)] {
            if let Some(value) = value {
                args.extend([flag.to_string(), value.clone()]);
            }
        }
        args
    }
}

/// Who a trust policy admits: tokens from `issuer` (IAM's provider name: host
/// and path, no scheme) for `audience`, whose `sub` matches `subject`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub issuer: String,
    pub audience: String,
    pub subject: String,
}

/// An issuer a CI claims, and what its name says about who shares it.
#[derive(Debug, Clone, PartialEq)]
pub struct Issuer {
    pub ci: Ci,
    /// The one owner (enterprise, organization, workspace) whose jobs alone get
    /// its tokens, when the issuer's name says so.
    pub owner: Option<String>,
    /// What a statement with no `sub` condition admits: "any repository on GitHub".
    pub everything: String,
    /// Every customer's tokens carry the same documented audience, so only `sub`
    /// and `aud` together name one customer's jobs.
    pub shared_audience: bool,
}

/// How far one `sub` value reaches.
#[derive(Debug, Clone, PartialEq)]
pub enum Reach {
    /// One repository (project, pipeline), or nothing at all.
    One,
    /// Many repositories of one owner: what it admits.
    Owner(String),
    /// Repositories of other owners: what it admits.
    Others(String),
}

/// A `sub` value as a condition compares it: the text before its first
/// wildcard, and whether that is all of it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pattern<'a> {
    pub prefix: &'a str,
    pub literal: bool,
}

impl<'a> Pattern<'a> {
    /// `like`: compared by `StringLike`, where `*` and `?` are wildcards.
    pub fn of(value: &'a str, like: bool) -> Pattern<'a> {
        match value.find(['*', '?']) {
            Some(at) if like => Pattern {
                prefix: &value[..at],
                literal: false,
            },
            _ => Pattern {
                prefix: value,
                literal: true,
            },
        }
    }
}

/// What a statement says about the jobs it was written for.
#[derive(Debug, Default)]
pub struct Evidence<'a> {
    /// The `sub` value it seems meant for.
    pub sub: Option<&'a str>,
    /// Its one literal `aud`.
    pub audience: Option<&'a str>,
    /// Every key it tests against one literal value: (key as spelled, value).
    pub literals: Vec<(&'a str, &'a str)>,
}

impl<'a> Evidence<'a> {
    /// The literal a key (case-insensitive, as IAM compares keys) is tested against.
    pub fn literal(&self, key: &str) -> Option<(&'a str, &'a str)> {
        self.literals
            .iter()
            .copied()
            .find(|(tested, _)| tested.eq_ignore_ascii_case(key))
    }
}

/// A prefix that does not start a `sub` of `head`'s form: the value matches
/// nothing (One), unless the prefix could still become `head` (Others).
pub(super) fn outside(head: &str, prefix: &str, everything: &str) -> Reach {
    if head.starts_with(prefix) {
        Reach::Others(everything.to_string())
    } else {
        Reach::One
    }
}

/// A placeholder `--check` writes where a policy does not say (`ORG_ID`,
/// `SERVICE_ACCOUNT_ID`): capitals and `_`.
pub fn placeholder(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
}

/// A name made of the characters owner, repository, slug and UUID names use.
pub fn plain(value: &str) -> bool {
    !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
}

/// The owner a pattern's owner part names: itself when complete, else the text
/// before its wildcard when that is a whole name (`acme*` → acme).
pub fn owner_name(part: &str) -> Option<String> {
    let Pattern { prefix, literal } = Pattern::of(part, true);
    let name_like = |s: &str| {
        !s.is_empty()
            && !s.ends_with(['-', '.', '_'])
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    };
    if (literal && plain(prefix)) || (!literal && name_like(prefix)) {
        Some(prefix.to_string())
    } else {
        None
    }
}
