//! AssumeRoleWithWebIdentity: the OIDC token for the first role's session.
//! Unsigned; the token is the proof. Tags, an external ID and MFA cannot be
//! sent (the plan refuses them before this is called).

use tracing::info;

use super::errors::{Call, classify};
use super::{Session, Step, Sts, policy_arns, session_from};
use crate::error::Result;
use crate::token::Token;

pub async fn call(
    sts: &Sts,
    token: &Token,
    step: &Step,
    trust_policy: Option<&serde_json::Value>,
) -> Result<Session> {
    let role = &step.role;
    info!(
        "AssumeRoleWithWebIdentity {role} as session {} ({})",
        step.session_name,
        token.claims.summary()
    );
    let output = sts
        .client(None)
        .assume_role_with_web_identity()
        .role_arn(role.as_str())
        .role_session_name(&step.session_name)
        .web_identity_token(token.jwt.expose())
        .duration_seconds(step.duration as i32)
        .set_policy(step.policy.clone())
        .set_policy_arns(policy_arns(&step.policy_arns))
        .send()
        .await
        .map_err(|e| {
            let hint =
                |refused: &str| crate::trust::hint::denied(role, token, trust_policy, refused);
            let call = Call {
                operation: "AssumeRoleWithWebIdentity",
                role: Some(role),
                denial_hint: Some(&hint),
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
