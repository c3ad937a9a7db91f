//! Token decoding: `Token::parse` on any text, as a CI, a token file or a
//! variable hands it over, and what vault-ci derives from the claims (the
//! summary, the issuer, the denial hint and its trust-policy statement).
//!
//! Input: the token text; or, when it starts with `{`, the claims JSON, which is
//! wrapped in a JWT (RS256 header, dummy signature) so that the fuzzer spends
//! its time on the claims rather than on base64url.

#![no_main]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use vault_ci::arn::RoleArn;
use vault_ci::token::{Audience, Token};
use vault_ci::trust::{self, Subject, evaluate};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let raw = if text.starts_with('{') {
        format!(
            "{}.{}.c2ln",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(text)
        )
    } else {
        text.to_string()
    };
    let before = now();
    match Token::parse(&raw, "fuzz") {
        Err(err) => {
            let message = err.message();
            assert!(message.contains("from fuzz"), "{message}");
            // A refusal never quotes the token: it may be a live credential.
            let jwt = raw.trim();
            if jwt.len() >= 20 && jwt.matches('.').count() >= 2 {
                assert!(!message.contains(jwt), "the refusal quotes the token");
            }
        }
        Ok(token) => decoded(&raw, &token, before),
    }
});

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn decoded(raw: &str, token: &Token, before: i64) {
    assert_eq!(token.jwt.expose(), raw.trim());
    let claims = &token.claims;
    // A token that parses has not expired.
    if let Some(exp) = claims.exp {
        assert!(exp > before, "a token that expired at {exp} was taken");
    }
    // The typed claims are the same as the raw ones.
    let raw_str = |name: &str| token.all_claims.get(name).and_then(|v| v.as_str());
    assert_eq!(claims.iss.as_deref(), raw_str("iss"));
    assert_eq!(claims.sub.as_deref(), raw_str("sub"));
    match &claims.aud {
        Some(Audience::One(aud)) => assert!(claims.has_audience(aud)),
        Some(Audience::Many(all)) => assert!(all.iter().all(|aud| claims.has_audience(aud))),
        None => assert!(!claims.has_audience("sts.amazonaws.com")),
    }
    // The claims are the issuer's text: shown on one line.
    let summary = claims.summary();
    assert!(!summary.chars().any(char::is_control), "{summary:?}");

    // The denial hint may go to a CI log: none of its lines may be read as a
    // workflow command, whatever the claims hold.
    let role: RoleArn = "arn:aws:iam::123456789012:role/deploy".parse().unwrap();
    for refused in [
        "AccessDenied",
        "InvalidIdentityToken: Incorrect token audience",
    ] {
        let hint = trust::hint::denied(&role, token, None, refused);
        assert!(!hint.contains('\r'), "{hint:?}");
        for line in hint.lines() {
            assert!(!line.trim_start().starts_with("::"), "{line:?}");
        }
    }

    // The statement the hint (and `vault-ci trust-policy`) prints for exactly
    // this token admits it, by vault-ci's own reading of trust policies.
    let subject = Subject::of_token(token);
    let document = subject.document("aws", "123456789012");
    let rendered = trust::render(&document);
    let reread: serde_json::Value = serde_json::from_str(&rendered).unwrap();
    assert_eq!(reread, document);
    let complete = claims.issuer_host().is_some()
        && claims.sub.is_some()
        && match &claims.aud {
            Some(Audience::One(_)) => true,
            Some(Audience::Many(all)) => !all.is_empty(),
            None => false,
        };
    let verdict = evaluate::evaluate(&document, token).unwrap();
    if complete {
        assert!(
            verdict.admitted == Some(true),
            "the statement written for this token does not admit it: {:?}\n{rendered}",
            verdict.reasons
        );
    }
}
