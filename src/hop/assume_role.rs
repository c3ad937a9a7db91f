//! AssumeRole, signed with the credentials before it: the deploy user's keys
//! for the first hop, the previous role's session for every later one.

use aws_sdk_sts::types::Tag;
use tracing::info;

use super::errors::{Call, classify};
use super::{Session, Step, Sts, policy_arns, session_from};
use crate::error::{Error, Result};
use crate::secret::Credentials;

/// `from_keys`: the first hop, signed by long-lived keys, is the only one a
/// person's MFA code applies to.
pub async fn call(sts: &Sts, base: &Credentials, step: &Step, from_keys: bool) -> Result<Session> {
    let role = step.arn()?;
    info!(
        "AssumeRole {role} as session {} (signed by {})",
        step.session_name,
        base.masked_key_id()
    );
    let mut request = sts
        .client(Some(base))
        .assume_role()
        .role_arn(role.as_str())
        .role_session_name(&step.session_name)
        .duration_seconds(step.duration as i32)
        .set_external_id(step.external_id.clone())
        .set_source_identity(step.source_identity.clone())
        .set_policy(step.policy.clone())
        .set_policy_arns(policy_arns(&step.policy_arns));
    for (key, value) in &step.tags {
        let tag = Tag::builder()
            .key(key)
            .value(value)
            .build()
            .map_err(|e| Error::usage(format!("--tag {key}: {e}")))?;
        request = request.tags(tag);
    }
    for key in &step.transitive_tag_keys {
        request = request.transitive_tag_keys(key);
    }
    if from_keys && let Some((serial, code)) = &step.mfa {
        request = request.serial_number(serial).token_code(code.expose());
    }
    let output = request.send().await.map_err(|e| {
        let call = Call {
            operation: "AssumeRole",
            role: Some(role),
            denial_hint: None,
        };
        classify(sts, &call, e)
    })?;
    session_from(
        output.credentials(),
        output.assumed_role_user().map(|u| u.arn()),
        role,
        &sts.endpoint_shown(),
    )
}
