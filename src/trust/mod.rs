//! IAM trust policies for OIDC roles: the statement that admits a given
//! issuer, audience and subject, printed by `vault-ci trust-policy` and shown
//! when STS denies a token — the same text in both places.

pub mod audit;
mod builtin;
pub mod check;
pub mod cloudformation;
pub mod evaluate;
pub mod hint;
pub mod lint;
pub mod policy;
pub mod sarif;
pub mod sources;
pub mod sub_claims;

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
        let mut equals = serde_json::Map::new();
        // Google's `aud` key is the token's `azp`: a service account's own ID, as `sub` is.
        if issuer.eq_ignore_ascii_case(policy::GOOGLE) {
            equals.insert(format!("{issuer}:aud"), json!(self.subject));
        }
        equals.insert(
            format!("{issuer}:{}", policy::audience_claim(issuer)),
            json!(self.audience),
        );
        let mut condition = serde_json::Map::new();
        condition.insert("StringEquals".into(), Value::Object(equals));
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
            "Principal": { "Federated": self.principal(partition, account) },
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": condition,
        })
    }

    /// The `Federated` principal: the IAM OIDC provider's ARN, or the name of a
    /// provider built into IAM (Google's `accounts.google.com`).
    pub fn principal(&self, partition: &str, account: &str) -> String {
        match policy::built_in(&self.issuer) {
            true => self.issuer.clone(),
            false => format!(
                "arn:{partition}:iam::{account}:oidc-provider/{}",
                self.issuer
            ),
        }
    }

    pub fn document(&self, partition: &str, account: &str) -> Value {
        document(std::slice::from_ref(self), partition, account)
    }
}

/// The policy of one statement per subject (an Azure DevOps service connection
/// moving to the Microsoft Entra issuer has two).
pub fn document(subjects: &[Subject], partition: &str, account: &str) -> Value {
    let statements: Vec<Value> = subjects
        .iter()
        .map(|subject| subject.statement(partition, account))
        .collect();
    json!({
        "Version": "2012-10-17",
        "Statement": statements,
    })
}

/// Pretty JSON, two-space indented, as IAM's console shows it.
pub fn render(document: &Value) -> String {
    serde_json::to_string_pretty(document).expect("a JSON value always serialises")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A token GitHub issues with this `sub`.
    pub(crate) fn github_token(sub: &str) -> Token {
        use base64::Engine;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let claims = json!({
            "iss": "https://token.actions.githubusercontent.com",
            "aud": "sts.amazonaws.com",
            "sub": sub,
            "exp": 4102444800_i64,
        });
        let jwt = format!(
            "{}.{}.c2ln",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        Token::parse(&jwt, "a test").unwrap()
    }

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

/// The checker (`trust-policy --check`) and the evaluator (`token --trust-policy`,
/// the denial hint) read policies through one model, and must never disagree.
/// Over a small world — every token GitHub issues to three owners' two
/// repositories each, in four contexts, with the default and a customised `sub` —
/// and policies over GitHub's keys (a typo'd and another provider's key too),
/// string operators in every variant, `Null`, an operator that cannot compare
/// `sub`, values with and without wildcards, and a Deny of every `sub` but some,
/// "never disagree" means, for every token the evaluator admits:
/// - the checker did not call the statement broken ("admits nothing");
/// - if the checker found nothing wrong with it, the token's repository is one
///   that the statement's `sub` values name (`repo:OWNER/REPO`, whole): a
///   statement is never called tight for other repositories than its tokens';
/// - if the checker found it open to no more than one owner, the token's owner
///   (`repo:OWNER/…`, `repository_owner:OWNER`) or repository is one they name.
///
/// A token the evaluator cannot judge counts as admitted. The converse is not
/// asserted: the checker reads patterns, not this world's repositories, and may
/// call open what here happens to admit one repository.
#[cfg(test)]
mod agreement {
    use std::sync::LazyLock;

    use proptest::prelude::*;
    use proptest::sample::select;
    use serde_json::{Map, Value, json};

    use super::check::{Class, check};
    use super::evaluate::evaluate;
    use super::tests::github_token;
    use crate::token::Token;

    const SUB: &str = "token.actions.githubusercontent.com:sub";

    /// (owner, repository, token) for every job of the world.
    static WORLD: LazyLock<Vec<(String, String, Token)>> = LazyLock::new(|| {
        let mut world = Vec::new();
        for owner in ["acme", "acme-evil", "octo"] {
            for repo in ["app", "api"] {
                for context in [
                    "ref:refs/heads/main",
                    "ref:refs/heads/dev",
                    "environment:prod",
                    "pull_request",
                ] {
                    for sub in [
                        format!("repo:{owner}/{repo}:{context}"),
                        format!("repository_owner:{owner}:repo:{owner}/{repo}:{context}"),
                    ] {
                        world.push((owner.to_string(), repo.to_string(), github_token(&sub)));
                    }
                }
            }
        }
        world
    });

    const OPERATORS: &[&str] = &[
        "StringEquals",
        "StringLike",
        "StringNotEquals",
        "StringNotLike",
        "StringEqualsIgnoreCase",
        "StringNotEqualsIgnoreCase",
        "StringLikeIfExists",
        "StringEqualsIfExists",
        "StringNotLikeIfExists",
        "ForAnyValue:StringLike",
        "ForAnyValue:StringEquals",
        "ForAnyValue:StringLikeIfExists",
        "ForAllValues:StringLike",
        "ForAllValues:StringNotLike",
        "Null",
        "NumericLessThan",
    ];

    const KEYS: &[&str] = &[
        SUB,
        "TOKEN.actions.githubusercontent.com:Sub",
        "token.actions.githubusercontent.com:aud",
        "token.actions.githubusercontent.com/sub",
        "gitlab.com:sub",
    ];

    const VALUES: &[&str] = &[
        "repo:acme/app:ref:refs/heads/main",
        "repo:acme/app:*",
        "repo:acme/app:ref:refs/heads/*",
        "repo:acme/app",
        "repo:acme/ap?:*",
        "repo:acme/*",
        "repo:acme*",
        "repo:acme-evil/app:*",
        "repo:octo/api:environment:prod",
        "repo:*",
        "*",
        "REPO:ACME/APP:REF:REFS/HEADS/MAIN",
        "repository_owner:acme:*",
        "repository_owner:acme:repo:acme/app:*",
        "REPOSITORY_OWNER:OCTO:REPO:OCTO/API:PULL_REQUEST",
        "ref:refs/heads/main",
        "sts.amazonaws.com",
        "true",
        "false",
    ];

    fn values() -> impl Strategy<Value = Value> {
        proptest::collection::vec(select(VALUES), 1..=2).prop_map(|values| match values[..] {
            [one] => json!(one),
            _ => json!(values),
        })
    }

    /// One Allow for GitHub's provider (or `*`), and perhaps a Deny of every
    /// `sub` but some.
    fn policy() -> impl Strategy<Value = Value> {
        let condition = (select(OPERATORS), select(KEYS), values());
        let deny = (
            select(
                &[
                    "StringNotLike",
                    "StringNotEquals",
                    "StringNotEqualsIgnoreCase",
                ][..],
            ),
            values(),
        );
        (
            any::<bool>(),
            proptest::collection::vec(condition, 0..=3),
            proptest::option::of(deny),
        )
            .prop_map(|(star, conditions, deny)| {
                let mut block = Map::new();
                for (operator, key, values) in conditions {
                    let tests = block.entry(operator).or_insert_with(|| json!({}));
                    tests[key] = values;
                }
                let principal = if star {
                    json!("*")
                } else {
                    json!({ "Federated": "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com" })
                };
                let mut statements = vec![json!({
                    "Effect": "Allow",
                    "Principal": principal,
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": block,
                })];
                if let Some((operator, values)) = deny {
                    statements.push(json!({
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "sts:AssumeRoleWithWebIdentity",
                        "Condition": { operator: { SUB: values } },
                    }));
                }
                json!({ "Version": "2012-10-17", "Statement": statements })
            })
    }

    /// Whether one of `values` names the repository (or, `owner_wide`, its owner).
    fn named(values: &[String], owner: &str, repo: &str, owner_wide: bool) -> bool {
        values.iter().any(|value| {
            let value = value.to_lowercase();
            let segments: Vec<&str> = value.split(':').collect();
            segments.windows(2).any(|pair| match pair {
                ["repo", named] => {
                    *named == format!("{owner}/{repo}")
                        || (owner_wide && named.starts_with(&format!("{owner}/")))
                }
                ["repository_owner", named] => owner_wide && *named == owner,
                _ => false,
            })
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn the_checker_and_the_evaluator_never_disagree(policy in policy()) {
            let classes: Vec<Class> = check(&policy).unwrap().iter().map(|f| f.class).collect();
            let values: Vec<String> = policy["Statement"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|statement| statement["Condition"].as_object().unwrap().values())
                .flat_map(|tests| tests.as_object().unwrap().values())
                .flat_map(crate::trust::policy::strings)
                .collect();
            let tight = classes
                .iter()
                .all(|class| matches!(class, Class::NoAudience | Class::Advice));
            let owner_wide = !classes
                .iter()
                .any(|class| matches!(class, Class::OtherOwners | Class::NotJudged));
            for (owner, repo, token) in WORLD.iter() {
                let verdict = evaluate(&policy, token).unwrap();
                if verdict.admitted == Some(false) {
                    continue;
                }
                let admitted = format!("{owner}/{repo}: {:?}\n{:#}\n{:?}", token.claims.sub, policy, classes);
                prop_assert!(!classes.contains(&Class::AdmitsNothing), "broken, but admits {}", admitted);
                if tight {
                    prop_assert!(named(&values, owner, repo, false), "tight, but admits {}", admitted);
                }
                if owner_wide {
                    prop_assert!(named(&values, owner, repo, true), "owner-wide, but admits {}", admitted);
                }
            }
        }
    }
}
