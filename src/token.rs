//! OIDC tokens, whoever issued them: decoded locally (never verified — STS does that) so that a bad
//! or expired token fails before a request, and so that a denial can show the
//! claims STS judged: iss, aud, sub.

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::text::one_line;
use crate::time::{human_duration, now_unix};

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl std::fmt::Display for Audience {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Audience::One(a) => f.write_str(a),
            Audience::Many(all) => f.write_str(&all.join(",")),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Claims {
    pub iss: Option<String>,
    pub sub: Option<String>,
    pub aud: Option<Audience>,
    pub exp: Option<i64>,
}

impl Claims {
    pub fn has_audience(&self, wanted: &str) -> bool {
        match &self.aud {
            Some(Audience::One(a)) => a == wanted,
            Some(Audience::Many(all)) => all.iter().any(|a| a == wanted),
            None => false,
        }
    }

    /// `iss=… aud=… sub=…`, the three claims a trust policy conditions on.
    pub fn summary(&self) -> String {
        let or_none = |v: Option<String>| v.unwrap_or_else(|| "(none)".into());
        // The claims are the token issuer's text: kept on one line.
        format!(
            "iss={} aud={} sub={}",
            one_line(&or_none(self.iss.clone())),
            one_line(&or_none(self.aud.as_ref().map(|a| a.to_string()))),
            one_line(&or_none(self.sub.clone()))
        )
    }

    /// The issuer as IAM names its OIDC provider: host and path, no scheme.
    pub fn issuer_host(&self) -> Option<&str> {
        let iss = self.iss.as_deref()?;
        Some(
            iss.strip_prefix("https://")
                .unwrap_or(iss)
                .trim_end_matches('/'),
        )
    }
}

/// A token with its decoded header and claims; `origin` says where it came
/// from, for messages. Header and claims are not secret: the signature is.
#[derive(Debug, Clone)]
pub struct Token {
    pub jwt: Secret,
    pub header: serde_json::Value,
    pub claims: Claims,
    pub all_claims: serde_json::Map<String, serde_json::Value>,
    pub origin: String,
}

impl Token {
    /// True when the token has less than `seconds` of life left.
    pub fn expires_within(&self, seconds: i64) -> bool {
        self.claims
            .exp
            .is_some_and(|exp| exp - now_unix() < seconds)
    }

    pub fn parse(raw: &str, origin: impl Into<String>) -> Result<Token> {
        let origin = origin.into();
        let jwt = raw.trim();
        if jwt.is_empty() {
            return Err(Error::identity(format!(
                "the OIDC token from {origin} is empty"
            )));
        }
        let not_a_jwt = |e: &dyn std::fmt::Display| {
            Error::identity(format!(
                "the OIDC token from {origin} is not a JWT ({e}); \
                 expected three base64url parts separated by dots"
            ))
        };
        let decoded = jsonwebtoken::dangerous::insecure_decode::<
            serde_json::Map<String, serde_json::Value>,
        >(jwt)
        .map_err(|e| not_a_jwt(&e))?;
        let all_claims = decoded.claims;
        let claims = Claims::deserialize(serde_json::Value::Object(all_claims.clone()))
            .map_err(|e| not_a_jwt(&e))?;
        let header = serde_json::to_value(&decoded.header).unwrap_or_default();
        if let Some(exp) = claims.exp {
            let now = now_unix();
            if exp <= now {
                return Err(Error::identity(format!(
                    "the OIDC token from {origin} expired {} ago ({}); fetch a fresh token",
                    human_duration(now.abs_diff(exp)),
                    claims.summary()
                )));
            }
        }
        Ok(Token {
            jwt: Secret::new(jwt),
            header,
            claims,
            all_claims,
            origin,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn jwt(claims: serde_json::Value) -> String {
        let part = |v: serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
        format!(
            "{}.{}.c2ln",
            part(serde_json::json!({"alg": "RS256", "typ": "JWT"})),
            part(claims)
        )
    }

    #[test]
    fn decodes_the_claims_a_trust_policy_uses() {
        let raw = jwt(serde_json::json!({
            "iss": "https://token.actions.githubusercontent.com",
            "aud": "sts.amazonaws.com",
            "sub": "repo:octo/app:ref:refs/heads/main",
            "exp": now_unix() + 300,
        }));
        let token = Token::parse(&raw, "test").unwrap();
        assert_eq!(
            token.claims.issuer_host(),
            Some("token.actions.githubusercontent.com")
        );
        assert_eq!(
            token.claims.summary(),
            "iss=https://token.actions.githubusercontent.com aud=sts.amazonaws.com sub=repo:octo/app:ref:refs/heads/main"
        );
    }

    #[test]
    fn rejects_expired_and_malformed_tokens_without_echoing_them() {
        let raw = jwt(serde_json::json!({"sub": "x", "aud": ["a", "b"], "exp": now_unix() - 90}));
        let err = Token::parse(&raw, "the file t").unwrap_err();
        assert!(err.message().contains("expired 90s ago"), "{err}");
        assert!(err.message().contains("aud=a,b"), "{err}");
        assert!(!err.message().contains(&raw));

        // `now - exp` overflowed for an `exp` this far back (a panic with overflow checks on).
        let raw = jwt(serde_json::json!({"sub": "x", "exp": i64::MIN}));
        let err = Token::parse(&raw, "the file t").unwrap_err();
        assert!(err.message().contains("expired 256204778"), "{err}");

        let err = Token::parse("not-a-jwt", "the file t").unwrap_err();
        assert!(err.message().contains("not a JWT"), "{err}");
        assert!(Token::parse("  \n", "x").is_err());
    }

    proptest::proptest! {
        #[test]
        fn any_text_is_a_token_or_a_clear_refusal(text in "\\PC{0,200}") {
            if let Err(err) = Token::parse(&text, "t") {
                proptest::prop_assert!(err.message().contains("from t"));
            }
        }

        #[test]
        fn claims_survive_decoding(sub in "\\PC{1,60}", aud in "[a-z.:/]{1,30}") {
            let raw = jwt(serde_json::json!({"sub": sub, "aud": aud, "exp": now_unix() + 60}));
            let token = Token::parse(&raw, "t").unwrap();
            proptest::prop_assert_eq!(token.claims.sub.as_deref(), Some(sub.as_str()));
            proptest::prop_assert!(token.claims.has_audience(&aud));
        }
    }
}
