//! The writers of credentials for later steps and shells: `export` lines
//! (`--format env`, `--env-file`, `$BASH_ENV`), dotenv (`--format dotenv`),
//! JSON and `credential_process`, `$GITHUB_ENV` / `$GITHUB_OUTPUT` heredoc
//! entries, and the `::add-mask::` commands for the secrets.
//!
//! Input: NUL-separated fields (no variable can hold a NUL): access key id,
//! secret key, session token, region, expiration (Unix seconds), role ARN,
//! account id, `--serve` URI, `--serve` token, AWS_PROFILE, a heredoc
//! delimiter, then any number of NAME, VALUE pairs. An empty optional field is
//! absent.

#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use vault_ci::secret::{Credentials, Secret};
use vault_ci::server::Served;
use vault_ci::sink::stdout::{Format, render};
use vault_ci::sink::{Delivery, Output, github_env, shell};
use vault_ci::workflow;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut fields = text.split('\0');
    let mut next = || fields.next().unwrap_or_default();
    let access_key_id = next().to_string();
    let secret = next().to_string();
    let token = some(next());
    let region = some(next());
    let expiration = next()
        .parse::<u32>()
        .ok()
        .map(|secs| UNIX_EPOCH + Duration::from_secs(secs.into()));
    let role = next().to_string();
    let account = some(next());
    let served = match (some(next()), some(next())) {
        (Some(uri), Some(token)) => Some(Served {
            uri,
            token: Secret::new(token),
            log: "/tmp/vault-ci-serve.log".into(),
            token_file: None,
        }),
        _ => None,
    };
    let profile = some(next());
    let delimiter = next().to_string();
    let pairs: Vec<(String, String)> = {
        let rest: Vec<&str> = fields.collect();
        rest.chunks(2)
            .map(|pair| {
                (
                    pair[0].to_string(),
                    pair.get(1).copied().unwrap_or_default().to_string(),
                )
            })
            .collect()
    };

    let out = Output {
        credentials: Credentials {
            access_key_id,
            secret_access_key: Secret::new(secret),
            session_token: token.map(Secret::new),
            expiration,
        },
        assumed_role_arn: role,
        account_id: account.and_then(|id| id.parse().ok()),
        region,
    };
    let delivery = match &served {
        Some(served) => served.delivery(out.clone()),
        None => Delivery::keys(out.clone()),
    };
    let handed = &delivery.variables;
    let mut variables = handed.clone();
    if let Some(profile) = &profile {
        variables.push(("AWS_PROFILE", profile.clone()));
    }

    exports(&shell::export_lines(handed), handed);
    assert_eq!(
        render(Format::Env, &delivery).unwrap(),
        shell::export_lines(handed)
    );
    let dotenv_all = render(Format::Dotenv, &delivery);
    let mut lines = String::new();
    for (name, value) in handed {
        dotenv(name, value);
        lines.push_str(&shell::dotenv_line(name, value).unwrap_or_default());
    }
    // The whole text is the lines, or refused when one of them is.
    match dotenv_all {
        Ok(text) => assert_eq!(text, lines),
        Err(_) => assert!(
            handed
                .iter()
                .any(|(n, v)| shell::dotenv_line(n, v).is_err())
        ),
    }
    json(&Delivery::keys(out.clone()));
    masks(&delivery);

    let real = workflow::delimiter().unwrap();
    let (text, retraction) = github_env::entries(&variables, &real).unwrap();
    github(&text, &retraction, &real, &variables);
    let outputs = github_env::outputs(&out, true);
    let (text, retraction) = github_env::entries(&outputs, &real).unwrap();
    github(&text, &retraction, &real, &outputs);

    // Any other names and values, and a delimiter the value may contain.
    for (name, value) in &pairs {
        if shell_name(name) {
            let pair = [(name.as_str(), value.clone())];
            exports(&shell::export_line(name, value), &pair);
            dotenv(name, value);
        }
        // Names as workflows write them (the runner reads `NAME<<` up to the
        // first `<<`); a delimiter like vault-ci's own: no line break, and not
        // starting with `<`.
        let runner_name = !name.is_empty()
            && name
                .chars()
                .all(|c| c == '_' || c == '-' || c.is_ascii_alphanumeric());
        let usable = !delimiter.is_empty()
            && !delimiter.contains(['\n', '\r'])
            && !delimiter.starts_with('<');
        if runner_name && usable {
            let pair = [(name.as_str(), value.clone())];
            match workflow::heredoc(name, value, &delimiter) {
                Ok(entry) => github(&entry, &format!("{name}=\n"), &delimiter, &pair),
                Err(_) => assert!(value.contains(&delimiter)),
            }
        }
    }
});

fn some(field: &str) -> Option<String> {
    (!field.is_empty()).then(|| field.to_string())
}

fn shell_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

fn owned<N: AsRef<str>>(pairs: &[(N, String)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| (n.as_ref().to_string(), v.clone()))
        .collect()
}

/// `export NAME='value'` lines, as a POSIX shell splits them into words.
fn exports<N: AsRef<str>>(text: &str, expected: &[(N, String)]) {
    let words = shlex::split(text).expect("the shell reads the export lines");
    let read: Vec<(String, String)> = words
        .chunks(2)
        .map(|pair| {
            assert_eq!(pair[0], "export", "{text:?}");
            let (name, value) = pair[1].split_once('=').expect("NAME=value");
            (name.to_string(), value.to_string())
        })
        .collect();
    assert_eq!(read, owned(expected), "{text:?}");
}

/// dotenv lines, in the three forms `shell::dotenv_line` writes (which
/// python-dotenv and npm's dotenv both read as below: tests in src/sink/shell.rs
/// run them), and its refusal of exactly what they disagree on.
fn dotenv(name: &str, value: &str) {
    match shell::dotenv_line(name, value) {
        Err(err) => {
            let refused = value.contains('\\')
                || value.contains("${")
                || ((value.contains('\'') || value.contains('\r')) && value.contains('"'));
            assert!(refused, "{value:?} refused");
            assert!(
                !err.message().contains(value) || value.len() < 8,
                "the error quotes the value"
            );
        }
        Ok(line) => {
            let text = line
                .strip_prefix(&format!("{name}="))
                .and_then(|rest| rest.strip_suffix('\n'))
                .unwrap_or_else(|| panic!("{line:?}"));
            let read = if let Some(quoted) = text.strip_prefix('\'') {
                let inner = quoted.strip_suffix('\'').expect("a closing quote");
                assert!(!inner.contains(['\'', '\r', '\\']), "{line:?}");
                inner.to_string()
            } else if let Some(quoted) = text.strip_prefix('"') {
                let inner = quoted.strip_suffix('"').expect("a closing quote");
                assert!(!inner.contains(['"', '\n', '\r']), "{line:?}");
                inner.replace("\\n", "\n").replace("\\r", "\r")
            } else {
                assert!(
                    text.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_./+=:@,-".contains(c)),
                    "{line:?}"
                );
                text.to_string()
            };
            assert_eq!(read, value, "{line:?}");
            assert!(!read.contains("${"), "{line:?}");
        }
    }
}

fn json(delivery: &Delivery) {
    let out = delivery
        .session
        .as_ref()
        .expect("the keys' delivery has a session");
    let creds = &out.credentials;
    let token = creds.session_token.as_ref().map(|t| t.expose());
    let doc: Value = serde_json::from_str(&render(Format::Json, delivery).unwrap()).unwrap();
    assert_eq!(doc["AccessKeyId"], creds.access_key_id.as_str());
    assert_eq!(doc["SecretAccessKey"], creds.secret_access_key.expose());
    assert_eq!(doc["SessionToken"].as_str(), token);
    assert_eq!(doc["RoleArn"], out.assumed_role_arn.as_str());
    assert_eq!(
        doc["AccountId"].as_str(),
        out.account_id.as_ref().map(|id| id.as_str())
    );
    assert_eq!(doc["Region"].as_str(), out.region.as_deref());
    assert_eq!(doc["Expiration"].as_str(), out.expiration().as_deref());
    let process = render(Format::CredentialProcess, delivery).unwrap();
    assert_eq!(process.lines().count(), 1);
    let doc: Value = serde_json::from_str(&process).unwrap();
    assert_eq!(doc["Version"], 1);
    assert_eq!(doc["SecretAccessKey"], creds.secret_access_key.expose());
    assert_eq!(doc["SessionToken"].as_str(), token);
    // On stdout in GitHub Actions: no line the runner reads (it breaks lines at
    // \n and \r) may start a workflow command.
    for format in [Format::Json, Format::CredentialProcess] {
        let text = render(format, delivery).unwrap();
        for line in text.split(['\n', '\r']) {
            assert!(!line.trim_start().starts_with("::"), "{line:?}");
        }
    }
}

/// Every line of every secret is masked, each by a command of its own line.
fn masks(delivery: &Delivery) {
    for secret in &delivery.secrets {
        let masks = workflow::mask_lines(secret);
        for line in masks.split_terminator('\n') {
            assert!(line.starts_with("::add-mask::"), "{line:?}");
            assert!(!line.contains('\r'), "{line:?}");
        }
        let covered: Vec<&str> = masks
            .split_terminator('\n')
            .map(|l| &l["::add-mask::".len()..])
            .collect();
        for piece in secret.split(['\n', '\r']).filter(|p| !p.trim().is_empty()) {
            assert!(covered.contains(&piece), "{piece:?} is not masked");
        }
    }
}

/// `$GITHUB_ENV` / `$GITHUB_OUTPUT` as the runner reads them: `NAME=value`, or
/// `NAME<<DELIMITER`, the value's lines, and a line that is the delimiter.
/// The runner's reading, shared with vault-ci's tests (tests/runner-files).
fn runner_reads(text: &str) -> Vec<(String, String)> {
    runner_files::read(text, runner_files::Runner::Unix)
        .unwrap_or_else(|why| panic!("the runner refuses the file ({why}): {text:?}"))
}

fn github<N: AsRef<str>>(text: &str, retraction: &str, delimiter: &str, expected: &[(N, String)]) {
    for (_, value) in expected {
        assert!(!value.contains(delimiter));
    }
    // Later entries win, as the runner reads them.
    let mut wanted: Vec<(String, String)> = Vec::new();
    for (name, value) in owned(expected) {
        wanted.retain(|(n, _)| *n != name);
        wanted.push((name, value));
    }
    assert_eq!(runner_reads(text), wanted, "{text:?}");
    // Taken back, every variable is empty.
    let retracted = runner_reads(&format!("{text}{retraction}"));
    assert!(retracted.iter().all(|(_, v)| v.is_empty()), "{retracted:?}");
}
