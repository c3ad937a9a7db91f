//! AssumeRole, signed with the credentials before it: the deploy user's keys
//! for the first hop, the previous role's session for every later one.

use aws_sdk_sts::error::ProvideErrorMetadata;
use aws_sdk_sts::types::Tag;
use tracing::info;

use super::errors::{Call, classify};
use super::{Session, Step, Sts, policy_arns, session_from};
use crate::error::{Error, Result};
use crate::secret::Credentials;

/// `from_keys`: the first hop, signed by long-lived keys, is the only one a
/// person's MFA code applies to.
pub async fn call(sts: &Sts, base: &Credentials, step: &Step, from_keys: bool) -> Result<Session> {
    match send(sts, base, step, from_keys, &step.tags).await {
        // configure-aws-credentials' answer to tags that do not fit: the run's
        // optional tags go, and the request goes once more.
        Err(Sent::TooLarge(_)) if !step.droppable_tags.is_empty() => {
            info!(
                "the session tags are too large; dropping {} and trying again",
                step.droppable_tags.join(", ")
            );
            let kept: Vec<(String, String)> = step
                .tags
                .iter()
                .filter(|(key, _)| !step.droppable_tags.contains(key))
                .cloned()
                .collect();
            send(sts, base, step, from_keys, &kept)
                .await
                .map_err(Sent::into_error)
        }
        result => result.map_err(Sent::into_error),
    }
}

/// A failed request, told apart when the tags were too large.
enum Sent {
    TooLarge(Error),
    Other(Error),
}

impl Sent {
    fn into_error(self) -> Error {
        match self {
            Sent::TooLarge(e) | Sent::Other(e) => e,
        }
    }
}

async fn send(
    sts: &Sts,
    base: &Credentials,
    step: &Step,
    from_keys: bool,
    tags: &[(String, String)],
) -> Result<Session, Sent> {
    let role = &step.role;
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
    for (key, value) in tags {
        let tag = Tag::builder()
            .key(key)
            .value(value)
            .build()
            .map_err(|e| Sent::Other(Error::usage(format!("--tag {key}: {e}"))))?;
        request = request.tags(tag);
    }
    for key in step
        .transitive_tag_keys
        .iter()
        .filter(|key| tags.iter().any(|(k, _)| k == *key))
    {
        request = request.transitive_tag_keys(key);
    }
    if from_keys && let Some((serial, code)) = &step.mfa {
        request = request.serial_number(serial).token_code(code.expose());
    }
    let output = request.send().await.map_err(|e| {
        let too_large = e.code() == Some("PackedPolicyTooLarge");
        let call = Call {
            operation: "AssumeRole",
            role: Some(role),
            denial_hint: None,
        };
        let error = classify(sts, &call, e);
        if too_large {
            Sent::TooLarge(error)
        } else {
            Sent::Other(error)
        }
    })?;
    session_from(
        output.credentials(),
        output.assumed_role_user().map(|u| u.arn()),
        role,
        &sts.endpoint_shown(),
    )
    .map_err(Sent::Other)
}
