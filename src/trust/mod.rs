//! IAM trust policies for OIDC roles: the statement that admits a given
//! issuer, audience and subject, printed by `vault-ci trust-policy` and shown
//! when STS denies a token — the same text in both places.

// Not wired to the command line yet (`trust-policy --check FILE`,
// `trust-policy --format cloudformation`): only their tests call them.
pub mod check;
pub mod cloudformation;
pub mod evaluate;
pub mod hint;

use serde_json::{Value, json};

pub use crate::identity::{Scope, Subject};
use crate::token::{Audience, Token};

impl Subject {
    /// Exactly this token: what a denied exchange would have needed.
    pub fn of_token(token: &Token) -> Subject {
        let claims = &token.claims;
        Subject {
            issuer: claims.issuer_host().unwrap_or("ISSUER").to_string(),
            audience: match &claims.aud {
                Some(Audience::One(a)) => a.clone(),
                Some(Audience::Many(all)) => all.first().cloned().unwrap_or_default(),
                None => "AUDIENCE".into(),
            },
            subject: claims.sub.clone().unwrap_or_else(|| "SUBJECT".into()),
        }
    }

    /// One `Allow` statement. The subject is compared with `StringLike` when it
    /// has wildcards and `StringEquals` otherwise, so the policy says exactly
    /// what it means.
    pub fn statement(&self, partition: &str, account: &str) -> Value {
        let issuer = &self.issuer;
        let sub_operator = if self.subject.contains(['*', '?']) {
            "StringLike"
        } else {
            "StringEquals"
        };
        let mut condition = serde_json::Map::new();
        condition.insert(
            "StringEquals".into(),
            json!({ format!("{issuer}:aud"): self.audience }),
        );
        let sub = json!({ format!("{issuer}:sub"): self.subject });
        match condition.get_mut(sub_operator) {
            Some(Value::Object(existing)) => {
                existing.extend(sub.as_object().cloned().unwrap_or_default())
            }
            _ => {
                condition.insert(sub_operator.into(), sub);
            }
        }
        json!({
            "Effect": "Allow",
            "Principal": {
                "Federated": format!("arn:{partition}:iam::{account}:oidc-provider/{issuer}")
            },
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": condition,
        })
    }

    pub fn document(&self, partition: &str, account: &str) -> Value {
        json!({
            "Version": "2012-10-17",
            "Statement": [self.statement(partition, account)],
        })
    }
}

/// Pretty JSON, two-space indented, as IAM's console shows it.
pub fn render(document: &Value) -> String {
    serde_json::to_string_pretty(document).expect("a JSON value always serialises")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_choose_string_like_and_exact_subjects_string_equals() {
        let exact = Subject {
            issuer: "token.actions.githubusercontent.com".into(),
            audience: "sts.amazonaws.com".into(),
            subject: "repo:o/r:ref:refs/heads/main".into(),
        };
        let doc = exact.document("aws", "123456789012");
        let condition = &doc["Statement"][0]["Condition"];
        assert_eq!(
            condition["StringEquals"]["token.actions.githubusercontent.com:sub"],
            "repo:o/r:ref:refs/heads/main"
        );
        assert_eq!(
            condition["StringEquals"]["token.actions.githubusercontent.com:aud"],
            "sts.amazonaws.com"
        );
        assert_eq!(
            doc["Statement"][0]["Principal"]["Federated"],
            "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
        );

        let wild = Subject {
            subject: "repo:o/r:*".into(),
            ..exact
        };
        let doc = wild.document("aws", "123456789012");
        assert_eq!(
            doc["Statement"][0]["Condition"]["StringLike"]["token.actions.githubusercontent.com:sub"],
            "repo:o/r:*"
        );
    }
}
