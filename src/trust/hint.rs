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

#[cfg(test)]
mod tests {
    use super::*;

    fn token(claims: serde_json::Value) -> Token {
        use base64::Engine;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let jwt = format!(
            "{}.{}.c2ln",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256"}"#),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        Token::parse(&jwt, "Google's metadata server").unwrap()
    }

    #[test]
    fn a_google_token_is_shown_the_built_in_principal_and_no_provider_to_create() {
        let role: RoleArn = "arn:aws:iam::123456789012:role/deploy".parse().unwrap();
        let google = token(serde_json::json!({
            "iss": "https://accounts.google.com", "aud": "sts.amazonaws.com",
            "azp": "117", "sub": "117", "exp": 4102444800_i64,
        }));
        let hint = denied(&role, &google, None, "AccessDenied");
        assert!(
            hint.contains(r#""Federated": "accounts.google.com""#),
            "{hint}"
        );
        assert!(
            hint.contains(r#""accounts.google.com:oaud": "sts.amazonaws.com""#),
            "{hint}"
        );
        assert!(
            hint.ends_with(
                "and accounts.google.com is built into IAM: no IAM OIDC provider is needed"
            ),
            "{hint}"
        );
        let jenkins = token(serde_json::json!({
            "iss": "https://jenkins.acme.com/oidc", "aud": "sts.amazonaws.com",
            "sub": "https://jenkins.acme.com/job/deploy/", "exp": 4102444800_i64,
        }));
        assert!(denied(&role, &jenkins, None, "AccessDenied").ends_with(
            "and the account needs an IAM OIDC provider for jenkins.acme.com/oidc with client ID sts.amazonaws.com"
        ));
    }
}
