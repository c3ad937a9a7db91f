//! Trust policies: `trust-policy --check`'s reading of a policy document
//! (`trust::check`, and the report it prints), and the local evaluator that
//! explains a denial (`trust::evaluate`) against a token's claims, both through
//! the one policy model (`trust::policy`).
//!
//! `trust::audit` reads the same bytes as any file `--check` takes (JSON or
//! YAML: templates, plans, account details).
//!
//! Input: the policy file's bytes, optionally followed by a NUL byte and the
//! token's claims as JSON (JSON text never holds a raw NUL). Without claims, a
//! GitHub Actions token's are used.

#![no_main]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use vault_ci::token::Token;
use vault_ci::trust::{audit, check, evaluate, policy, sarif, sub_claims};

const GITHUB_CLAIMS: &str = r#"{"iss":"https://token.actions.githubusercontent.com","aud":"sts.amazonaws.com","sub":"repo:octo-org/app:ref:refs/heads/main","repository":"octo-org/app","repository_owner":"octo-org","exp":4102444800}"#;

fuzz_target!(|data: &[u8]| {
    let (policy, claims) = match data.iter().position(|b| *b == 0) {
        Some(nul) => (&data[..nul], &data[nul + 1..]),
        None => (data, GITHUB_CLAIMS.as_bytes()),
    };
    // What `trust-policy --check FILE` does with the file: UTF-8, then JSON or
    // YAML, any role it holds (templates, plans, account details) read, placed
    // and checked; every finding placed on a line of the file, if any.
    let Ok(text) = std::str::from_utf8(policy) else {
        return;
    };
    for name in ["fuzz.json", "fuzz.yaml"] {
        if let Ok(checked) = audit::file(
            name,
            std::path::Path::new(name),
            text,
            &audit::Options::default(),
        ) {
            // Lines as YAML and editors count them: `\n`, `\r\n` or a lone `\r` ends one.
            let lines = text.replace("\r\n", "\n").split(['\n', '\r']).count();
            for located in &checked.findings {
                assert!(
                    located.line.is_none_or(|line| (1..=lines).contains(&line)),
                    "{located}"
                );
            }
            let _ = audit::report(&checked.findings);
            let _ = sarif::log(&checked.findings);
        }
    }
    let Ok(policy) = serde_json::from_str::<Value>(text) else {
        return;
    };
    checked(&policy);
    // --github-sub-claims and --gitlab-sub-claims: every `sub` condition is read
    // against each form a customised or configured `sub` can take.
    for keys in [
        "repo,context",
        "repo,context,job_workflow_ref",
        "job_workflow_ref,repository_owner_id",
    ] {
        let keys = sub_claims::parse(keys).unwrap();
        let _ = sub_claims::check(&policy, &keys);
    }
    for form in [
        "project_path,ref_type,ref",
        "project_path,ref,ref_type",
        "project_path,ref",
        "project_path,ref_type",
    ] {
        let keys = sub_claims::parse_gitlab(form).unwrap();
        let _ = sub_claims::check_gitlab(&policy, &keys);
    }
    if let Some(token) = token(claims) {
        evaluated(&policy, &token);
    }
});

fn checked(policy: &Value) {
    let findings = check::check(policy);
    if let Ok(findings) = &findings {
        let report = check::report(findings);
        for finding in findings {
            assert!(report.contains(&format!("{finding}\n")), "{report}");
        }
        assert_eq!(report.is_empty(), findings.is_empty());
    }
    // The same document as `aws iam get-role` prints it, and as the IAM API
    // returns it (a URL-encoded string), reads the same.
    let plain = policy.as_object().is_some_and(|top| {
        !["Role", "Arn", "AssumeRolePolicyDocument"]
            .iter()
            .any(|key| top.contains_key(*key))
    });
    // (serde_json reads some floats back one ULP off; such a document is not the same.)
    let reread = serde_json::from_str::<Value>(&policy.to_string()).ok();
    if plain && reread.as_ref() == Some(policy) {
        let get_role = json!({ "Role": { "AssumeRolePolicyDocument": policy } });
        assert_eq!(check::check(&get_role), findings, "as get-role output");
        let encoded = percent_encoding::utf8_percent_encode(
            &policy.to_string(),
            percent_encoding::NON_ALPHANUMERIC,
        )
        .to_string();
        let api = json!({ "Role": { "AssumeRolePolicyDocument": encoded } });
        assert_eq!(check::check(&api), findings, "URL-encoded");
    }
}

fn token(claims: &[u8]) -> Option<Token> {
    let claims = std::str::from_utf8(claims).ok()?;
    let jwt = format!(
        "{}.{}.c2ln",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims)
    );
    Token::parse(&jwt, "fuzz").ok()
}

fn evaluated(policy: &Value, token: &Token) {
    let Ok(verdict) = evaluate::evaluate(policy, token) else {
        return;
    };
    assert!(!verdict.reasons.is_empty());
    if verdict.admitted == Some(true) {
        assert!(
            verdict
                .reasons
                .iter()
                .any(|r| r.ends_with(": admits this token")),
            "{:?}",
            verdict.reasons
        );
    }
    // `StringLike`, against a straightforward reading of IAM's wildcards.
    let mut patterns = Vec::new();
    strings(policy.pointer("/Statement"), &mut patterns);
    let mut values = Vec::new();
    for claim in token.all_claims.values() {
        strings(Some(claim), &mut values);
    }
    for pattern in patterns.iter().take(16) {
        for value in values.iter().take(16) {
            like(pattern, value);
        }
    }
}

fn strings(value: Option<&Value>, out: &mut Vec<String>) {
    match value {
        Some(Value::String(s)) if s.len() <= 256 => out.push(s.clone()),
        Some(Value::Array(all)) => all.iter().for_each(|v| strings(Some(v), out)),
        Some(Value::Object(map)) => map.values().for_each(|v| strings(Some(v), out)),
        _ => {}
    }
}

fn like(pattern: &str, value: &str) {
    let mut re = String::from("(?s)^");
    for c in pattern.chars() {
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            c => re.push_str(&regex_lite::escape(&c.to_string())),
        }
    }
    re.push('$');
    let Ok(re) = regex_lite::Regex::new(&re) else {
        return;
    };
    assert_eq!(
        policy::like_match(pattern, value),
        re.is_match(value),
        "StringLike {pattern:?} against {value:?}"
    );
}
