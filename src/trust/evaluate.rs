//! A local reading of a role's trust policy against a token: the token becomes
//! the request STS judges (`<issuer>:sub`, `<issuer>:aud` and the token's other
//! claims under its issuer's name), the shared policy model ([`super::policy`])
//! judges it, and the condition that fails is named. STS remains the judge;
//! this explains its verdict.

use serde_json::Value;

use super::policy::{Condition, Document, Effect, Family, absent_for, claim_read, strings};
use crate::token::Token;

const WEB_IDENTITY: &str = "sts:AssumeRoleWithWebIdentity";

#[derive(Debug)]
pub struct Verdict {
    /// Whether IAM admits the token; `None` when that depends on what only STS
    /// sees (the caller's address, the time, …) or on an operator IAM lacks.
    pub admitted: Option<bool>,
    /// One line per statement that could apply: admitted by it, or why not.
    pub reasons: Vec<String>,
}

pub fn evaluate(policy: &Value, token: &Token) -> Result<Verdict, String> {
    let document = Document::parse(policy)?;
    let issuer = token.claims.issuer_host().unwrap_or_default();
    let request = Request { issuer, token };
    let mut reasons = Vec::new();
    // Per effect: whether some statement certainly applies, and whether one may.
    let (mut allowed, mut may_allow, mut denied, mut may_deny) = (false, false, false, false);
    for statement in &document.statements {
        let (Some(effect), true) = (statement.effect, statement.covers(WEB_IDENTITY)) else {
            continue;
        };
        let label = &statement.label;
        let principal = &statement.principal;
        if !principal.admits_issuer(issuer) {
            reasons.push(format!(
                "{label}: its principal is {}, but the token's issuer is {issuer}",
                if principal.federated.is_empty() {
                    "no OIDC provider".to_string()
                } else {
                    principal.federated.join(", ")
                }
            ));
            continue;
        }
        let mut unjudged = None;
        let failing =
            statement
                .conditions
                .iter()
                .find_map(|condition| match request.judge(condition) {
                    Ok(true) => None,
                    Ok(false) => Some(request.why_not(condition)),
                    Err(why) => {
                        unjudged.get_or_insert(why);
                        None
                    }
                });
        match (failing, unjudged, effect) {
            (Some(_), _, Effect::Deny) => {}
            (Some(why), _, Effect::Allow) => reasons.push(format!("{label}: {why}")),
            (None, Some(why), effect) => {
                match effect {
                    Effect::Allow => may_allow = true,
                    Effect::Deny => may_deny = true,
                }
                reasons.push(format!("{label}: cannot be judged here: {why}"));
            }
            (None, None, Effect::Deny) => {
                denied = true;
                reasons.push(format!("{label}: denies this token explicitly"));
            }
            (None, None, Effect::Allow) => {
                allowed = true;
                reasons.push(format!("{label}: admits this token"));
            }
        }
    }
    if reasons.is_empty() {
        reasons.push("no statement allows sts:AssumeRoleWithWebIdentity".into());
    }
    let admitted = if denied || !(allowed || may_allow) {
        Some(false)
    } else if allowed && !may_deny {
        Some(true)
    } else {
        None
    };
    Ok(Verdict { admitted, reasons })
}

/// The request STS judges for a token.
struct Request<'a> {
    issuer: &'a str,
    token: &'a Token,
}

/// What the request carries for one key.
enum Lookup {
    Values(Vec<String>),
    Absent,
    /// A key STS fills from what it alone sees.
    Unknown,
}

impl Request<'_> {
    fn lookup(&self, key: &str) -> Lookup {
        match key.rsplit_once(':') {
            Some((prefix, claim)) if prefix.eq_ignore_ascii_case(self.issuer) => {
                // Keys are case-insensitive, claim names are not: the claim of
                // the key's own spelling first.
                let claims = &self.token.all_claims;
                let Some(claim) = claim_read(self.issuer, claim, |name| claims.contains_key(name))
                else {
                    return Lookup::Absent;
                };
                claims
                    .get(claim)
                    .or_else(|| {
                        claims
                            .iter()
                            .find(|(name, _)| name.eq_ignore_ascii_case(claim))
                            .map(|(_, value)| value)
                    })
                    .map_or(Lookup::Absent, |value| Lookup::Values(strings(value)))
            }
            _ if absent_for(key, self.issuer) => Lookup::Absent,
            _ => Lookup::Unknown,
        }
    }

    /// The condition's verdict on this request, or why it cannot be judged.
    fn judge(&self, condition: &Condition) -> Result<bool, String> {
        let operator = &condition.operator;
        if operator.family == Family::Unknown {
            return Err(format!(
                "`{}` is not an IAM condition operator",
                operator.name
            ));
        }
        let values = match self.lookup(&condition.key) {
            Lookup::Values(values) => Some(values),
            Lookup::Absent => None,
            Lookup::Unknown => {
                return Err(format!(
                    "{} {}: only STS knows what a request has for that key",
                    operator.name, condition.key
                ));
            }
        };
        condition.holds(values.as_deref()).ok_or_else(|| {
            format!(
                "{} {} wants {}, which is not what that operator compares",
                operator.name,
                condition.key,
                condition.values.join(" or ")
            )
        })
    }

    /// Why a condition refuses the request, one line.
    fn why_not(&self, condition: &Condition) -> String {
        let actual = match self.lookup(&condition.key) {
            _ if absent_for(&condition.key, self.issuer) => {
                format!("the key is not about this token's issuer ({})", self.issuer)
            }
            Lookup::Values(values) if !values.is_empty() => {
                format!("the token has {}", values.join(", "))
            }
            _ => "the token has no such claim".to_string(),
        };
        format!(
            "{} {} wants {}; {actual}",
            condition.operator.name,
            condition.key,
            condition.values.join(" or ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trust::tests::github_token;
    use serde_json::json;

    const GITHUB: &str = "token.actions.githubusercontent.com";

    fn policy(principal: Value, condition: Value) -> Value {
        json!({ "Statement": [{
            "Effect": "Allow",
            "Principal": principal,
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": condition,
        }]})
    }

    fn github(condition: Value) -> Value {
        policy(
            json!({ "Federated": format!("arn:aws:iam::123456789012:oidc-provider/{GITHUB}") }),
            condition,
        )
    }

    fn verdict(policy: &Value, sub: &str) -> Verdict {
        evaluate(policy, &github_token(sub)).unwrap()
    }

    #[test]
    fn the_operators_oidc_roles_use_beyond_the_plain_four_refuse_what_iam_refuses() {
        let other = "repo:evil/app:ref:refs/heads/main";
        let ours = "repo:acme/app:ref:refs/heads/main";
        for (operator, value) in [
            (
                "StringEqualsIgnoreCase",
                "REPO:ACME/APP:REF:REFS/HEADS/MAIN",
            ),
            ("StringLikeIfExists", "repo:acme/app:*"),
            ("ForAnyValue:StringLike", "repo:acme/*"),
            ("ForAllValues:StringLike", "repo:acme/*"),
        ] {
            let policy = github(json!({ operator: { format!("{GITHUB}:sub"): value } }));
            assert_eq!(verdict(&policy, ours).admitted, Some(true), "{operator}");
            let refused = verdict(&policy, other);
            assert_eq!(refused.admitted, Some(false), "{operator}");
            assert_eq!(
                refused.reasons,
                [format!(
                    "statement 1: {operator} {GITHUB}:sub wants {value}; the token has {other}"
                )]
            );
        }
    }

    #[test]
    fn a_missing_claim_is_judged_by_the_operator() {
        let absent = |operator: &str| {
            let policy = github(json!({ operator: { format!("{GITHUB}:environment"): "prod" } }));
            verdict(&policy, "repo:acme/app:ref:refs/heads/main").admitted
        };
        assert_eq!(absent("StringEquals"), Some(false));
        assert_eq!(absent("StringEqualsIfExists"), Some(true));
        assert_eq!(absent("StringNotEquals"), Some(true));
        assert_eq!(absent("ForAllValues:StringEquals"), Some(true));
        assert_eq!(absent("ForAnyValue:StringEquals"), Some(false));
        // Keys are case-insensitive: `Sub` is the `sub` claim.
        let policy =
            github(json!({ "StringEquals": { format!("{GITHUB}:Sub"): "repo:acme/app:x" } }));
        assert_eq!(verdict(&policy, "repo:acme/app:x").admitted, Some(true));
    }

    #[test]
    fn a_claim_that_is_an_empty_list_is_said_to_be_no_value() {
        use base64::Engine;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let claims = json!({
            "iss": format!("https://{GITHUB}"),
            "aud": "sts.amazonaws.com",
            "sub": "repo:acme/app:environment:prod",
            "environment": [],
            "exp": 4102444800_i64,
        });
        let jwt = format!(
            "{}.{}.c2ln",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let token = Token::parse(&jwt, "a test").unwrap();
        let policy = github(json!({ "StringEquals": { format!("{GITHUB}:environment"): "prod" } }));
        let refused = evaluate(&policy, &token).unwrap();
        assert_eq!(refused.admitted, Some(false));
        assert_eq!(
            refused.reasons,
            [format!(
                "statement 1: StringEquals {GITHUB}:environment wants prod; the token has no such claim"
            )]
        );
    }

    #[test]
    fn what_only_sts_sees_or_iam_lacks_is_not_guessed() {
        let policy = github(json!({
            "StringEquals": { format!("{GITHUB}:sub"): "repo:acme/app:x" },
            "IpAddress": { "aws:SourceIp": "192.0.2.0/24" },
        }));
        let judged = verdict(&policy, "repo:acme/app:x");
        assert_eq!(judged.admitted, None);
        assert_eq!(
            judged.reasons,
            [
                "statement 1: cannot be judged here: IpAddress aws:SourceIp: only STS knows what a request has for that key"
            ]
        );
        // A failing condition still refuses, whatever else cannot be judged.
        assert_eq!(verdict(&policy, "repo:acme/other:x").admitted, Some(false));
        let policy = github(json!({ "StringEqualsIgnorecase": { format!("{GITHUB}:sub"): "x" } }));
        let judged = verdict(&policy, "x");
        assert_eq!(judged.admitted, None);
        assert!(
            judged.reasons[0]
                .ends_with("`StringEqualsIgnorecase` is not an IAM condition operator")
        );
    }

    #[test]
    fn principals_and_denies_are_read_as_iam_reads_them() {
        // `*` admits every issuer's tokens; conditions decide.
        let star = policy(
            json!("*"),
            json!({ "StringLike": { format!("{GITHUB}:sub"): "repo:acme/*" } }),
        );
        assert_eq!(verdict(&star, "repo:acme/app:x").admitted, Some(true));
        let gitlab = policy(
            json!({ "Federated": "arn:aws:iam::123456789012:oidc-provider/gitlab.com" }),
            json!({}),
        );
        let refused = verdict(&gitlab, "repo:acme/app:x");
        assert_eq!(refused.admitted, Some(false));
        assert_eq!(
            refused.reasons,
            [format!(
                "statement 1: its principal is arn:aws:iam::123456789012:oidc-provider/gitlab.com, but the token's issuer is {GITHUB}"
            )]
        );
        let mut denied = github(json!({}));
        denied["Statement"].as_array_mut().unwrap().push(json!({
            "Effect": "Deny", "Principal": "*", "Action": "sts:*",
            "Condition": { "StringNotLike": { format!("{GITHUB}:sub"): "repo:acme/*" } },
        }));
        assert_eq!(verdict(&denied, "repo:acme/app:x").admitted, Some(true));
        assert_eq!(verdict(&denied, "repo:evil/app:x").admitted, Some(false));
    }

    /// A service account's ID token as Google's metadata server issues it.
    fn google_token(aud: &str, azp: Option<&str>) -> Token {
        use base64::Engine;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut claims = json!({
            "aud": aud, "email": "deploy@acme.iam.gserviceaccount.com", "email_verified": true,
            "exp": 4102444800_i64, "iat": 4102441200_i64, "iss": "https://accounts.google.com",
            "sub": "100018646976219416293",
        });
        if let Some(azp) = azp {
            claims["azp"] = json!(azp);
        }
        let jwt = format!(
            "{}.{}.c2ln",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        Token::parse(&jwt, "a test").unwrap()
    }

    #[test]
    fn googles_aud_key_is_the_tokens_azp_and_oaud_its_aud() {
        let id = "100018646976219416293";
        let policy = policy(
            json!({ "Federated": "accounts.google.com" }),
            json!({ "StringEquals": {
                "accounts.google.com:aud": id,
                "accounts.google.com:oaud": "sts.amazonaws.com",
                "accounts.google.com:sub": id,
            } }),
        );
        let ours = google_token("sts.amazonaws.com", Some(id));
        assert_eq!(evaluate(&policy, &ours).unwrap().admitted, Some(true));
        // Another audience asked for: `oaud` refuses it.
        let other = google_token("https://elsewhere", Some(id));
        let refused = evaluate(&policy, &other).unwrap();
        assert_eq!(
            refused.reasons,
            [
                "statement 1: StringEquals accounts.google.com:oaud wants sts.amazonaws.com; the token has https://elsewhere"
            ]
        );
        // Without azp, `aud` is the token's aud and there is no `oaud`.
        let bare = google_token("sts.amazonaws.com", None);
        assert_eq!(evaluate(&policy, &bare).unwrap().admitted, Some(false));
        // An IAM OIDC provider is no built-in principal: its keys are its claims.
        let github =
            github(json!({ "StringEquals": { format!("{GITHUB}:aud"): "sts.amazonaws.com" } }));
        assert_eq!(
            evaluate(&github, &github_token("repo:a/b:c"))
                .unwrap()
                .admitted,
            Some(true)
        );
    }
}
