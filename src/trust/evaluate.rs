//! A local reading of a role's trust policy against a token's claims, for the
//! conditions OIDC roles use (`StringEquals`, `StringLike`, their `Not` forms
//! and `ForAnyValue:`/`ForAllValues:` variants), saying which condition fails
//! and why. STS remains the judge; this explains its verdict.

use serde_json::{Map, Value};

use crate::token::Token;

#[derive(Debug)]
pub struct Verdict {
    pub admitted: bool,
    /// One line per statement that could apply: admitted by it, or why not.
    pub reasons: Vec<String>,
}

pub fn evaluate(policy: &Value, token: &Token) -> Result<Verdict, String> {
    let statements = match policy.get("Statement") {
        Some(Value::Array(all)) => all.clone(),
        Some(one @ Value::Object(_)) => vec![one.clone()],
        _ => return Err("the trust policy has no \"Statement\"".into()),
    };
    let issuer = token.claims.issuer_host().unwrap_or_default().to_string();
    let mut reasons = Vec::new();
    let mut allowed = false;
    let mut denied = false;
    for (index, statement) in statements.iter().enumerate() {
        let label = statement
            .get("Sid")
            .and_then(Value::as_str)
            .map(|sid| format!("statement {} ({sid})", index + 1))
            .unwrap_or_else(|| format!("statement {}", index + 1));
        if !strings(statement.get("Action"))
            .iter()
            .any(|a| like_ignore_case(a, "sts:AssumeRoleWithWebIdentity"))
        {
            continue;
        }
        let effect = statement
            .get("Effect")
            .and_then(Value::as_str)
            .unwrap_or("");
        let federated = strings(statement.get("Principal").and_then(|p| p.get("Federated")));
        if !federated
            .iter()
            .any(|f| f.ends_with(&format!(":oidc-provider/{issuer}")))
        {
            reasons.push(format!(
                "{label}: its principal is {}, but the token's issuer is {issuer}",
                if federated.is_empty() {
                    "no OIDC provider".to_string()
                } else {
                    federated.join(", ")
                }
            ));
            continue;
        }
        let conditions = statement.get("Condition").and_then(Value::as_object);
        match failing_condition(conditions, &issuer, &token.all_claims) {
            None if effect == "Deny" => {
                denied = true;
                reasons.push(format!("{label}: denies this token explicitly"));
            }
            None => {
                allowed = true;
                reasons.push(format!("{label}: admits this token"));
            }
            Some(_) if effect == "Deny" => {}
            Some(why) => reasons.push(format!("{label}: {why}")),
        }
    }
    if reasons.is_empty() {
        reasons.push("no statement allows sts:AssumeRoleWithWebIdentity".into());
    }
    Ok(Verdict {
        admitted: allowed && !denied,
        reasons,
    })
}

/// The first condition the claims do not meet, explained.
fn failing_condition(
    conditions: Option<&Map<String, Value>>,
    issuer: &str,
    claims: &Map<String, Value>,
) -> Option<String> {
    for (operator, tests) in conditions? {
        let Some(tests) = tests.as_object() else {
            continue;
        };
        let (qualifier, base) = match operator.split_once(':') {
            Some((q, b)) => (Some(q), b),
            None => (None, operator.as_str()),
        };
        let (negated, like) = match base {
            "StringEquals" => (false, false),
            "StringLike" => (false, true),
            "StringNotEquals" => (true, false),
            "StringNotLike" => (true, true),
            _ => continue, // not an operator OIDC trust policies use; STS will judge it
        };
        for (key, expected) in tests {
            let expected = strings(Some(expected));
            let claim = key.strip_prefix(&format!("{issuer}:"));
            let actual: Vec<String> = claim
                .and_then(|c| claims.get(c))
                .map(|v| strings(Some(v)))
                .unwrap_or_default();
            let matches_one = |value: &String| {
                expected.iter().any(|pattern| {
                    if like {
                        like_match(pattern, value)
                    } else {
                        pattern == value
                    }
                })
            };
            let met = match qualifier {
                Some("ForAllValues") => actual.iter().all(|v| matches_one(v) != negated),
                _ if negated => !actual.iter().any(matches_one),
                _ => actual.iter().any(matches_one),
            };
            if !met {
                let shown_actual = if claim.is_none() {
                    format!("the key is not about this token's issuer ({issuer})")
                } else if actual.is_empty() {
                    "the token has no such claim".to_string()
                } else {
                    format!("the token has {}", actual.join(", "))
                };
                return Some(format!(
                    "{operator} {key} wants {}; {shown_actual}",
                    expected.join(" or ")
                ));
            }
        }
    }
    None
}

pub(super) fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(all)) => all.iter().flat_map(|v| strings(Some(v))).collect(),
        Some(Value::Number(n)) => vec![n.to_string()],
        Some(Value::Bool(b)) => vec![b.to_string()],
        _ => Vec::new(),
    }
}

pub(super) fn like_ignore_case(pattern: &str, value: &str) -> bool {
    like_match(&pattern.to_ascii_lowercase(), &value.to_ascii_lowercase())
}

/// IAM's `StringLike`: `*` is any run of characters, `?` exactly one.
pub fn like_match(pattern: &str, value: &str) -> bool {
    let (p, v): (Vec<char>, Vec<char>) = (pattern.chars().collect(), value.chars().collect());
    let (mut pi, mut vi) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while vi < v.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == v[vi]) {
            pi += 1;
            vi += 1;
        } else if pi < p.len() && p[pi] == '*' {
            backtrack = Some((pi, vi));
            pi += 1;
        } else if let Some((star, matched)) = backtrack {
            pi = star + 1;
            vi = matched + 1;
            backtrack = Some((star, matched + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_like_follows_iam_wildcards() {
        assert!(like_match("repo:o/r:*", "repo:o/r:ref:refs/heads/main"));
        assert!(like_match("a?c", "abc"));
        assert!(!like_match("a?c", "abbc"));
        assert!(like_match("*main", "refs/heads/main"));
        assert!(!like_match(
            "repo:o/r:ref:refs/heads/main",
            "repo:o/r:ref:refs/heads/mainx"
        ));
        assert!(like_match("*", ""));
    }

    /// A regular-expression translation of the pattern: `*` is `.*`, `?` is `.`,
    /// everything else literal, the whole value matched.
    fn regex_of(pattern: &str) -> regex_lite::Regex {
        let mut re = String::from("(?s)^");
        for c in pattern.chars() {
            match c {
                '*' => re.push_str(".*"),
                '?' => re.push('.'),
                c => re.push_str(&regex_lite::escape(&c.to_string())),
            }
        }
        re.push('$');
        regex_lite::Regex::new(&re).unwrap()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        #[test]
        fn string_like_agrees_with_a_regex(
            pattern in "[ab*?:/é.]{0,8}",
            value in "[ab:/é.\n]{0,10}",
        ) {
            proptest::prop_assert_eq!(
                like_match(&pattern, &value),
                regex_of(&pattern).is_match(&value),
                "{:?} against {:?}", pattern, value
            );
        }
    }
}
