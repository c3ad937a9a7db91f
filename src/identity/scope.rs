//! What a trust policy for a CI is about: which of its jobs to admit (a
//! [`Scope`], as `vault-ci trust-policy` is told), and the issuer, audience and
//! `sub` that admit exactly them (a [`Subject`]). Each CI's file turns the one
//! into the other; `trust/` writes and checks the policies.

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
}

/// Who a trust policy admits: tokens from `issuer` (IAM's provider name: host
/// and path, no scheme) for `audience`, whose `sub` matches `subject`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub issuer: String,
    pub audience: String,
    pub subject: String,
}
