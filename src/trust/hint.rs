//! What a denied web-identity exchange most often needs: the claims STS saw,
//! the trust-policy statement that would admit exactly this token (the text
//! `vault-ci trust-policy` prints), and, given a copy of the role's policy,
//! the condition in it that fails.

use serde_json::Value;

use super::{Subject, evaluate, render};
use crate::arn::RoleArn;
use crate::token::Token;

pub fn denied(role: &RoleArn, token: &Token, policy: Option<&Value>, refused: &str) -> String {
    let subject = Subject::of_token(token);
    // The token was minted for the wrong audience: the fix is on the job's side,
    // not a client ID added to the account's provider for whatever it asked.
    if refused.contains("Incorrect token audience") {
        return format!(
            "hint: the token from {origin} is for audience {aud}, which the account's IAM OIDC \
             provider for {issuer} does not list as a client ID: request the token for the \
             audience the provider lists (sts.amazonaws.com, unless it was set up otherwise) with \
             --audience (the action's `audience` input; in GitLab, `aud:` under `id_tokens:`)",
            origin = token.origin,
            aud = crate::text::one_line(&subject.audience),
            issuer = crate::text::one_line(&subject.issuer),
        );
    }
    let statement = render(&subject.statement(role.partition(), role.account().as_str()));
    let mut hint = format!(
        "hint: STS judged the token from {origin}: {summary}\n\
         the trust policy of {name} must admit it, for example with this statement:\n\
         {statement}\n\
         and the account needs an IAM OIDC provider for {issuer} with client ID {aud}",
        origin = token.origin,
        summary = token.claims.summary(),
        name = role.name(),
        issuer = crate::text::one_line(&subject.issuer),
        aud = crate::text::one_line(&subject.audience),
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
