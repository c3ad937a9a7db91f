//! The web identity providers built into IAM besides Google's (whose tokens
//! are a CI's, `identity/google.rs`): Amazon Cognito identity pools, Login with
//! Amazon and Facebook. Their tokens are for one app (or identity pool) and
//! one of its users; the app's ID is what a role must pin, or it admits the
//! users of every app — anyone can create one (AWS's condition keys for web
//! identity federation:
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#condition-keys-wif>).

use serde_json::json;

use super::check::{Class, Finding, Fix};
use super::policy::Condition;

struct Rules {
    issuer: &'static str,
    /// The key that names the app.
    key: &'static str,
    placeholder: &'static str,
    everything: &'static str,
}

const RULES: &[Rules] = &[
    Rules {
        issuer: "cognito-identity.amazonaws.com",
        key: "cognito-identity.amazonaws.com:aud",
        placeholder: "IDENTITY_POOL_ID",
        everything: "any identity of any Amazon Cognito identity pool, in any AWS account",
    },
    Rules {
        issuer: "www.amazon.com",
        key: "www.amazon.com:app_id",
        placeholder: "APP_ID",
        everything: "any Login with Amazon user of any app",
    },
    Rules {
        issuer: "graph.facebook.com",
        key: "graph.facebook.com:app_id",
        placeholder: "APP_ID",
        everything: "any Facebook user of any app",
    },
];

const AMR: &str = "cognito-identity.amazonaws.com:amr";

/// The findings for a statement trusting a built-in provider other than
/// Google's; None for any other issuer.
pub fn check(label: &str, issuer: &str, conditions: &[Condition]) -> Option<Vec<Finding>> {
    let rules = RULES
        .iter()
        .find(|r| r.issuer.eq_ignore_ascii_case(issuer))?;
    let cognito = rules.key.eq_ignore_ascii_case(RULES[0].key);
    // A positive string test whose values are all whole IDs.
    let pins = |c: &&Condition| {
        let operator = &c.operator;
        c.key_is(rules.key)
            && !operator.negated
            && !c.values.is_empty()
            && operator
                .string()
                .is_some_and(|like| !like || c.values.iter().all(|v| !v.contains(['*', '?'])))
    };
    let mut fix = json!({ "StringEquals": { rules.key: rules.placeholder } });
    if cognito {
        fix["ForAnyValue:StringLike"] = json!({ AMR: "authenticated" });
    }
    let fix = Fix {
        args: None,
        condition: Some(fix),
    };
    let finding = |value: Option<String>, admits: &str, class| Finding {
        statement: label.to_string(),
        at: String::new(),
        key: rules.key.to_string(),
        value,
        admits: admits.to_string(),
        class,
        fix: fix.clone(),
    };
    let Some(pinned) = conditions.iter().find(pins) else {
        let wild = conditions
            .iter()
            .find(|c| c.key_is(rules.key))
            .and_then(|c| c.values.first().cloned());
        return Some(vec![finding(wild, rules.everything, Class::OtherOwners)]);
    };
    let mut findings = Vec::new();
    if cognito && !conditions.iter().any(|c| c.key_is(AMR)) {
        let mut note = finding(
            pinned.values.first().cloned(),
            "names the identity pool but not which of its identities: its unauthenticated \
             (guest) identities get the role too; if it is for signed-in users, add the `amr` \
             condition",
            Class::Advice,
        );
        note.key = pinned.key.clone();
        findings.push(note);
    }
    Some(findings)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    /// What `--check` says of a statement trusting a built-in provider.
    fn said(provider: &str, condition: Value) -> Vec<String> {
        let policy = json!({ "Statement": [{
            "Effect": "Allow",
            "Principal": { "Federated": provider },
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": condition,
        }] });
        crate::trust::check::check(&policy)
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn only_a_positive_test_of_whole_app_ids_pins_the_app() {
        let open = "high: statement 1: no condition on graph.facebook.com:app_id admits any Facebook user of any app";
        let valued = "high: statement 1: graph.facebook.com:app_id \"1234567890\" admits any Facebook user of any app";
        for (condition, expected) in [
            // Everyone but one app is still anyone's app.
            (
                json!({ "StringNotEquals": { "graph.facebook.com:app_id": "1234567890" } }),
                valued,
            ),
            (
                json!({ "NumericEquals": { "graph.facebook.com:app_id": "1234567890" } }),
                valued,
            ),
            (
                json!({ "StringEquals": { "graph.facebook.com:app_id": [] } }),
                open,
            ),
            // Another key names no app.
            (
                json!({ "StringEquals": { "graph.facebook.com:id": "1234567890" } }),
                open,
            ),
        ] {
            assert_eq!(
                said("graph.facebook.com", condition.clone()),
                [expected],
                "{condition}"
            );
        }
        assert_eq!(said("graph.facebook.com", json!({})), [open]);
        assert_eq!(
            said(
                "graph.facebook.com",
                json!({ "StringLike": { "graph.facebook.com:app_id": "12345*" } })
            ),
            [
                "high: statement 1: graph.facebook.com:app_id \"12345*\" admits any Facebook user of any app"
            ]
        );
        assert_eq!(
            said(
                "graph.facebook.com",
                json!({ "StringLike": { "graph.facebook.com:app_id": ["1234567890", "12?"] } })
            ),
            [
                "high: statement 1: graph.facebook.com:app_id \"1234567890\" admits any Facebook user of any app"
            ]
        );
        // A whole ID, under StringLike too, pins it; and only Cognito's guests get a note.
        for operator in ["StringEquals", "StringLike"] {
            let pinned = json!({ operator: { "GRAPH.facebook.com:App_Id": "1234567890" } });
            assert_eq!(
                said("graph.facebook.com", pinned),
                Vec::<String>::new(),
                "{operator}"
            );
        }
        assert_eq!(
            said(
                "www.amazon.com",
                json!({ "StringEquals": { "www.amazon.com:app_id": "amzn1.application.1" } })
            ),
            Vec::<String>::new()
        );
        assert_eq!(
            said(
                "cognito-identity.amazonaws.com",
                json!({ "StringEquals": { "cognito-identity.amazonaws.com:aud": "us-east-1:1" } })
            ),
            [
                "note: statement 1: cognito-identity.amazonaws.com:aud \"us-east-1:1\": names the identity \
              pool but not which of its identities: its unauthenticated (guest) identities get the role \
              too; if it is for signed-in users, add the `amr` condition"
            ]
        );
    }
}
