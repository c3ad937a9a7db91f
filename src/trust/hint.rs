//! What a denied web-identity exchange most often needs: the claims STS saw,
//! the trust-policy statement that would admit exactly this token (the text
//! `vault-ci trust-policy` prints), and, given a copy of the role's policy,
//! the condition in it that fails.

use serde_json::Value;

use super::{Subject, evaluate, render};
use crate::arn::RoleArn;
use crate::token::Token;

pub fn denied(role: &RoleArn, token: &Token, policy: Option<&Value>) -> String {
    let subject = Subject::of_token(token);
    let statement = render(&subject.statement(role.partition(), role.account().as_str()));
    let issuer = crate::text::one_line(&subject.issuer);
    let provider = match super::policy::built_in(&subject.issuer) {
        true => format!("{issuer} is built into IAM: no IAM OIDC provider is needed"),
        false => format!(
            "the account needs an IAM OIDC provider for {issuer} with client ID {}",
            crate::text::one_line(&subject.audience)
        ),
    };
    let mut hint = format!(
        "hint: STS judged the token from {origin}: {summary}\n\
         the trust policy of {name} must admit it, for example with this statement:\n\
         {statement}\n\
         and {provider}",
        origin = token.origin,
        summary = token.claims.summary(),
        name = role.name(),
    );
    if let Some(policy) = policy {
        match evaluate::evaluate(policy, token) {
            Ok(verdict) => {
                hint.push_str("\nchecked against --trust-policy:");
                for reason in verdict.reasons {
                    hint.push_str(&format!("\n  {}", crate::text::one_line(&reason)));
                }
            }
            Err(why) => hint.push_str(&format!("\n--trust-policy could not be checked: {why}")),
        }
    }
    hint
}
