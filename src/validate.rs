//! Everything that can be checked before a request is checked here, with one
//! line per problem naming the option, what is wrong and what would be right.
//! STS (and moto, in the tests) would often accept or mangle these silently.

use std::path::Path;

use crate::arn::is_iam_name_char;
use crate::error::{Error, Result};

pub const MIN_DURATION: u32 = 900;
pub const MAX_DURATION: u32 = 43_200;
pub const MAX_CHAINED_DURATION: u32 = 3_600;

pub fn duration(seconds: u32, chained: bool) -> Result<u32> {
    if !(MIN_DURATION..=MAX_DURATION).contains(&seconds) {
        return Err(Error::usage(format!(
            "--duration {seconds} is out of range: STS accepts {MIN_DURATION} to {MAX_DURATION} seconds"
        )));
    }
    if chained && seconds > MAX_CHAINED_DURATION {
        return Err(Error::usage(format!(
            "--duration {seconds} is too long for a chained role: STS caps role chaining at \
             {MAX_CHAINED_DURATION} seconds; use --duration {MAX_CHAINED_DURATION} or less"
        )));
    }
    Ok(seconds)
}

/// Turns anything into a name STS accepts (`[\w+=,.@-]{2,64}`).
pub fn sanitize_session_name(raw: &str) -> String {
    let mut name: String = raw
        .chars()
        .map(|c| if is_iam_name_char(c) { c } else { '-' })
        .take(64)
        .collect();
    while name.len() < 2 {
        name.push('-');
    }
    name
}

pub fn external_id(id: &str) -> Result<()> {
    let ok = (2..=1224).contains(&id.len())
        && id
            .chars()
            .all(|c| is_iam_name_char(c) || c == ':' || c == '/');
    if ok {
        Ok(())
    } else {
        Err(Error::usage(
            "--external-id must be 2-1224 characters of letters, digits and +=,.@:/_-",
        ))
    }
}

pub fn source_identity(id: &str) -> Result<()> {
    let ok = (2..=64).contains(&id.len())
        && id.chars().all(is_iam_name_char)
        && !id.to_ascii_lowercase().starts_with("aws:");
    if ok {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "--source-identity `{id}` must be 2-64 characters of letters, digits and +=,.@_- (not starting with aws:)"
        )))
    }
}

pub fn tag(raw: &str) -> Result<(String, String)> {
    let Some((key, value)) = raw.split_once('=') else {
        return Err(Error::usage(format!(
            "--tag `{raw}` has no `=`: write it as KEY=VALUE, e.g. --tag team=payments"
        )));
    };
    let allowed = |c: char| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c);
    if key.is_empty() || key.chars().count() > 128 || !key.chars().all(allowed) {
        return Err(Error::usage(format!(
            "--tag key `{key}` must be 1-128 letters, digits, spaces or _.:/=+-@"
        )));
    }
    if key.to_ascii_lowercase().starts_with("aws:") {
        return Err(Error::usage(format!(
            "--tag key `{key}` starts with `aws:`, which is reserved for AWS"
        )));
    }
    if value.chars().count() > 256 || !value.chars().all(allowed) {
        return Err(Error::usage(format!(
            "--tag {key}: the value must be at most 256 letters, digits, spaces or _.:/=+-@"
        )));
    }
    Ok((key.to_string(), value.to_string()))
}

pub fn tags(raw: &[String]) -> Result<Vec<(String, String)>> {
    if raw.len() > 50 {
        return Err(Error::usage(format!(
            "{} --tag options given: STS accepts at most 50 session tags",
            raw.len()
        )));
    }
    let tags = raw.iter().map(|t| tag(t)).collect::<Result<Vec<_>>>()?;
    for (i, (key, _)) in tags.iter().enumerate() {
        if tags[..i].iter().any(|(k, _)| k.eq_ignore_ascii_case(key)) {
            return Err(Error::usage(format!(
                "--tag {key} is given twice (tag keys are case-insensitive): keep one"
            )));
        }
    }
    Ok(tags)
}

/// `--custom-tags`: one JSON object of tags, values strings, numbers or
/// booleans, with configure-aws-credentials' rules and messages.
pub fn custom_tags(raw: &str) -> Result<Vec<(String, String)>> {
    let value: serde_json::Value = serde_json::from_str(raw)
        .map_err(|_| Error::usage("--custom-tags: input is not valid JSON"))?;
    let serde_json::Value::Object(object) = value else {
        return Err(Error::usage(
            "--custom-tags: input must be a JSON object (not an array or primitive)",
        ));
    };
    let mut tags = Vec::new();
    for (key, value) in object {
        let value = match value {
            serde_json::Value::String(s) => s,
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Bool(b) => b.to_string(),
            _ => {
                return Err(Error::usage(format!(
                    "--custom-tags: value for key '{key}' must be a string, number, or boolean (not an object or array)"
                )));
            }
        };
        if crate::identity::github::reserved_tag_keys().any(|k| k == key) {
            return Err(Error::usage(format!(
                "--custom-tags: key '{key}' conflicts with a session tag vault-ci sets for the run; choose another key"
            )));
        }
        tags.push(tag(&format!("{key}={value}"))?);
    }
    Ok(tags)
}

/// Reads `JSON` or `@FILE`, checks it is a JSON object and returns it minified,
/// since STS counts the characters of the policy text (2048 at most).
pub fn session_policy(raw: &str) -> Result<String> {
    let (text, origin) = match raw.strip_prefix('@') {
        Some(path) => (
            crate::files::read_text(Path::new(path), crate::net::MAX_BODY).map_err(|e| {
                Error::usage(format!(
                    "--session-policy @{path}: cannot read the file: {e}"
                ))
            })?,
            format!("@{path}"),
        ),
        None => (raw.to_string(), "JSON".to_string()),
    };
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        Error::usage(format!(
            "--session-policy {origin} is not valid JSON ({e}); pass a policy document or @FILE"
        ))
    })?;
    if !value.is_object() || value.get("Statement").is_none() {
        return Err(Error::usage(format!(
            "--session-policy {origin} is not an IAM policy: it needs a JSON object with a \"Statement\""
        )));
    }
    let minified = value.to_string();
    if minified.len() > 2048 {
        return Err(Error::usage(format!(
            "--session-policy is {} characters after removing whitespace; STS accepts 2048: \
             trim statements or use --managed-policy",
            minified.len()
        )));
    }
    Ok(minified)
}

pub fn managed_policies(arns: &[String]) -> Result<()> {
    if arns.len() > 10 {
        return Err(Error::usage(format!(
            "{} --managed-policy options given: STS accepts at most 10",
            arns.len()
        )));
    }
    for arn in arns {
        let ok = crate::arn::is_managed_policy(arn);
        if !ok {
            return Err(Error::usage(format!(
                "--managed-policy `{arn}` is not a managed policy ARN (expected e.g. \
                 arn:aws:iam::aws:policy/ReadOnlyAccess or arn:aws:iam::123456789012:policy/deploy)"
            )));
        }
    }
    Ok(())
}

pub fn region(region: &str) -> Result<()> {
    let ok = !region.is_empty()
        && region.len() <= 50
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !region.starts_with('-')
        && !region.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "region `{region}` is not an AWS region name (expected e.g. us-east-1, eu-central-1)"
        )))
    }
}

pub fn mfa(serial: &str, code: &str) -> Result<()> {
    if serial.len() < 9 || serial.len() > 256 || serial.contains(char::is_whitespace) {
        return Err(Error::usage(format!(
            "--mfa-serial `{serial}` is not an MFA device (expected e.g. arn:aws:iam::123456789012:mfa/alice)"
        )));
    }
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::usage(
            "--mfa-code must be the 6 digits your MFA device shows now",
        ));
    }
    Ok(())
}

pub fn endpoint(raw: &str, origin: &str) -> Result<String> {
    let url = url::Url::parse(raw).map_err(|e| {
        Error::usage(format!(
            "{origin} `{raw}` is not a URL ({e}); expected e.g. https://sts.eu-west-1.amazonaws.com"
        ))
    })?;
    if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
        return Err(Error::usage(format!(
            "{origin} `{raw}` must be an http:// or https:// URL with a host"
        )));
    }
    Ok(raw.trim_end_matches('/').to_string())
}

/// An http:// STS on another machine would carry the OIDC token and every hop's
/// credentials in clear; only loopback, or an explicit opt-in, may do that.
pub fn not_plain_http_elsewhere(endpoint: &str, allowed: bool) -> Result<()> {
    let Ok(url) = url::Url::parse(endpoint) else {
        return Ok(()); // `endpoint` has refused it already
    };
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    if url.scheme() != "http" || loopback || allowed {
        return Ok(());
    }
    let origin = url.origin().ascii_serialization();
    Err(Error::usage(format!(
        "the STS endpoint {origin} is plain http on another host: the OIDC token and the \
         credentials would cross the network unencrypted. Use https://, or add \
         --allow-plain-http (VAULT_CI_ALLOW_PLAIN_HTTP=true) if that network is yours, \
         e.g. a LocalStack service container",
    )))
}

/// Checks a file destination before anything is fetched, so a typo in a path
/// fails before a token is spent.
pub fn writable_parent(path: &Path, option: &str) -> Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        return Err(Error::usage(format!(
            "{option} {}: the directory {} does not exist; create it first",
            path.display(),
            parent.display()
        )));
    }
    if path.is_dir() {
        return Err(Error::usage(format!(
            "{option} {} is a directory; give a file path",
            path.display()
        )));
    }
    warn_if_shared(parent, option);
    Ok(())
}

/// Credentials in a directory anyone may write to (without the sticky bit) can be
/// swapped or read through a planted symlink by another user of the machine.
#[cfg(unix)]
fn warn_if_shared(dir: &Path, option: &str) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(dir) {
        let mode = meta.permissions().mode();
        if mode & 0o002 != 0 && mode & 0o1000 == 0 {
            tracing::warn!(
                "{option}: the directory {} is writable by every user of this machine; \
                 write credentials to a private directory instead",
                dir.display()
            );
        }
    }
}

#[cfg(not(unix))]
fn warn_if_shared(_dir: &Path, _option: &str) {}

#[cfg(test)]
mod tests {
    #[test]
    fn plain_http_is_for_this_machine_unless_allowed() {
        for ok in [
            "https://sts.eu-west-1.amazonaws.com",
            "http://127.0.0.1:5000",
            "http://127.8.0.1:5000",
            "http://[::1]:5000",
            "http://[::ffff:127.0.0.1]:5000",
            "http://LOCALHOST:4566",
        ] {
            assert!(super::not_plain_http_elsewhere(ok, false).is_ok(), "{ok}");
        }
        for refused in [
            "http://localstack:4566",
            "http://10.0.0.7:4566",
            "http://[fd00::2]:4566",
            "http://localhost.evil.example:80",
        ] {
            let e = super::not_plain_http_elsewhere(refused, false).unwrap_err();
            assert!(e.to_string().contains("--allow-plain-http"), "{e}");
            assert!(super::not_plain_http_elsewhere(refused, true).is_ok());
        }
        let e = super::not_plain_http_elsewhere("http://u:hunter2@10.0.0.7:1/", false).unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }

    use super::*;

    #[test]
    fn durations_follow_sts_bounds_and_the_chaining_cap() {
        assert!(duration(900, false).is_ok());
        assert!(duration(43_200, false).is_ok());
        assert!(duration(899, false).is_err());
        assert!(duration(43_201, false).is_err());
        assert!(duration(3_600, true).is_ok());
        let err = duration(3_601, true).unwrap_err();
        assert!(err.message().contains("role chaining"), "{err}");
    }

    #[test]
    fn session_names_become_what_sts_accepts() {
        assert_eq!(sanitize_session_name("github-123-1"), "github-123-1");
        assert_eq!(sanitize_session_name("feat/new thing!"), "feat-new-thing-");
        assert_eq!(sanitize_session_name("x"), "x-");
        assert_eq!(sanitize_session_name(&"a".repeat(100)).len(), 64);
    }

    proptest::proptest! {
        #[test]
        fn any_session_name_becomes_one_sts_accepts(raw in "\\PC{0,100}") {
            let name = sanitize_session_name(&raw);
            proptest::prop_assert!((2..=64).contains(&name.chars().count()));
            proptest::prop_assert!(name.chars().all(is_iam_name_char));
        }
    }

    #[test]
    fn tags_are_key_value_pairs_with_sts_rules() {
        assert_eq!(
            tag("team=pay=ments").unwrap(),
            ("team".into(), "pay=ments".into())
        );
        assert!(tag("team").is_err());
        assert!(tag("=x").is_err());
        assert!(tag("aws:foo=x").is_err());
        assert!(tags(&["a=1".into(), "A=2".into()]).is_err());
    }

    #[test]
    fn custom_tags_are_a_json_object_of_scalars() {
        assert_eq!(
            custom_tags(r#"{"team": "payments", "cost": 1.50, "prod": true}"#).unwrap(),
            [("team", "payments"), ("cost", "1.5"), ("prod", "true")]
                .map(|(k, v)| (k.to_string(), v.to_string()))
        );
        for (raw, expected) in [
            ("[1]", "must be a JSON object"),
            ("{", "is not valid JSON"),
            (r#"{"a": {"b": 1}}"#, "must be a string, number, or boolean"),
            (r#"{"Repository": "x"}"#, "conflicts with a session tag"),
            (r#"{"a": "b#c"}"#, "the value must be"),
        ] {
            let err = custom_tags(raw).unwrap_err();
            assert!(err.message().contains(expected), "{raw}: {err}");
        }
    }

    #[test]
    fn session_policies_are_minified_json_documents() {
        let p = session_policy(r#"{ "Version": "2012-10-17", "Statement": [] }"#).unwrap();
        assert_eq!(p, r#"{"Version":"2012-10-17","Statement":[]}"#);
        assert!(session_policy("{not json").is_err());
        assert!(session_policy("[1]").is_err());
        let big = format!(r#"{{"Statement":[],"Pad":"{}"}}"#, "x".repeat(2100));
        assert!(session_policy(&big).unwrap_err().message().contains("2048"));
    }

    /// The refusal, as the user reads it.
    #[track_caller]
    fn refusal<T: std::fmt::Debug>(result: Result<T>) -> String {
        result.unwrap_err().message().to_string()
    }

    #[test]
    fn an_external_id_is_letters_digits_and_what_partners_put_in_arns() {
        assert!(external_id("arn:aws:partner/acme_42+=,.@-").is_ok());
        for refused in ["x", "a b", "partner#42", &"x".repeat(1225)] {
            assert_eq!(
                refusal(external_id(refused)),
                "--external-id must be 2-1224 characters of letters, digits and +=,.@:/_-",
                "{refused}"
            );
        }
        assert!(external_id(&"x".repeat(1224)).is_ok());
    }

    #[test]
    fn tag_keys_and_values_are_held_to_sts_lengths_and_characters() {
        let key = "k".repeat(128);
        let value = "v".repeat(256);
        assert_eq!(
            tag(&format!("{key}={value}")).unwrap(),
            (key.clone(), value.clone())
        );
        assert_eq!(
            refusal(tag(&format!("{key}k=v"))),
            format!("--tag key `{key}k` must be 1-128 letters, digits, spaces or _.:/=+-@")
        );
        assert_eq!(
            refusal(tag("te#am=x")),
            "--tag key `te#am` must be 1-128 letters, digits, spaces or _.:/=+-@"
        );
        assert_eq!(
            refusal(tag(&format!("team={value}v"))),
            "--tag team: the value must be at most 256 letters, digits, spaces or _.:/=+-@"
        );
        let fifty: Vec<String> = (0..50).map(|n| format!("t{n}=v")).collect();
        assert_eq!(tags(&fifty).unwrap().len(), 50);
        let fifty_one = [fifty, vec!["t50=v".to_string()]].concat();
        assert_eq!(
            refusal(tags(&fifty_one)),
            "51 --tag options given: STS accepts at most 50 session tags"
        );
    }

    #[test]
    fn a_session_policy_is_a_policy_document_of_at_most_2048_characters() {
        assert_eq!(
            refusal(session_policy(r#"{"Version": "2012-10-17"}"#)),
            "--session-policy JSON is not an IAM policy: it needs a JSON object with a \"Statement\""
        );
        // `{"Pad":"…","Statement":[]}` is 25 characters besides the padding.
        let padded = |n: usize| format!(r#"{{ "Statement": [], "Pad": "{}" }}"#, "x".repeat(n));
        assert_eq!(session_policy(&padded(2023)).unwrap().len(), 2048);
        assert_eq!(
            refusal(session_policy(&padded(2024))),
            "--session-policy is 2049 characters after removing whitespace; STS accepts 2048: \
             trim statements or use --managed-policy"
        );
    }

    #[test]
    fn at_most_ten_managed_policies() {
        let ten: Vec<String> = (0..10)
            .map(|n| format!("arn:aws:iam::123456789012:policy/p{n}"))
            .collect();
        assert!(managed_policies(&ten).is_ok());
        let eleven = [ten, vec!["arn:aws:iam::aws:policy/ReadOnlyAccess".into()]].concat();
        assert_eq!(
            refusal(managed_policies(&eleven)),
            "11 --managed-policy options given: STS accepts at most 10"
        );
    }

    #[test]
    fn an_mfa_device_is_9_to_256_characters_without_spaces_and_its_code_six_digits() {
        let device = "arn:aws:iam::123456789012:mfa/alice";
        assert!(mfa(device, "123456").is_ok());
        assert!(mfa("GAHT12345", "000000").is_ok());
        assert!(mfa(&"s".repeat(256), "123456").is_ok());
        for serial in [
            "GAHT1234".to_string(),
            "s".repeat(257),
            "arn:aws:iam::123456789012:mfa/al ice".to_string(),
        ] {
            assert_eq!(
                refusal(mfa(&serial, "123456")),
                format!(
                    "--mfa-serial `{serial}` is not an MFA device (expected e.g. \
                     arn:aws:iam::123456789012:mfa/alice)"
                )
            );
        }
        for code in ["12345", "1234567", "12345a"] {
            assert_eq!(
                refusal(mfa(device, code)),
                "--mfa-code must be the 6 digits your MFA device shows now",
                "{code}"
            );
        }
    }

    #[test]
    fn a_file_named_alone_is_written_in_the_current_directory() {
        assert!(writable_parent(Path::new("aws-env.sh"), "--env-file").is_ok());
    }
}
