use super::*;
use aws_sdk_sts::primitives::DateTime;

fn answer(key: &str, secret: &str, expires_in: i64) -> aws_sdk_sts::types::Credentials {
    aws_sdk_sts::types::Credentials::builder()
        .access_key_id(key)
        .secret_access_key(secret)
        .session_token("token")
        .expiration(DateTime::from_secs(crate::time::now_unix() + expires_in))
        .build()
        .unwrap()
}

fn check(creds: &aws_sdk_sts::types::Credentials, arn: &str) -> Result<Session> {
    let role: RoleArn = "arn:aws:iam::123456789012:role/deploy".parse().unwrap();
    session_from(Some(creds), Some(arn), &role, "http://sts")
}

const ARN: &str = "arn:aws:sts::123456789012:assumed-role/deploy/s";

#[test]
fn a_sound_answer_becomes_a_session() {
    let session = check(&answer("ASIA1", "s", 900), ARN).unwrap();
    assert_eq!(session.credentials.access_key_id, "ASIA1");
    assert_eq!(session.assumed_role_arn, ARN);
}

#[test]
fn broken_answers_are_refused_with_what_is_wrong() {
    let cases = [
        (answer("ASIA1", "", 900), ARN, "an empty SecretAccessKey"),
        (answer(" ", "s", 900), ARN, "an empty AccessKeyId"),
        (
            answer("ASIA1", "s", -3600),
            ARN,
            "credentials that expired at 20",
        ),
        (answer("ASIA1", "s", 50_000), ARN, "outlive the 12 hours"),
        (
            answer("ASIA1", "s", 900),
            "arn:aws:sts::1:assumed-role/x/y",
            "which is not one",
        ),
        (
            answer("ASIA1", "s", 900),
            "garbage\n::set-env",
            "`garbage\\n::set-env`",
        ),
        (
            answer("ASIA1", "s\r\n::set-env name=X::1", 900),
            ARN,
            "a SecretAccessKey holding a line break or another control character",
        ),
    ];
    let cut_short = aws_sdk_sts::types::Credentials::builder()
        .access_key_id("ASIA1")
        .secret_access_key("s")
        .session_token("tok")
        .expiration(DateTime::from_secs(0))
        .build()
        .unwrap();
    let cases = cases
        .into_iter()
        .chain([(cut_short, ARN, "no Expiration (an answer cut short?)")]);
    for (creds, arn, expected) in cases {
        let err = check(&creds, arn).unwrap_err();
        assert!(err.message().contains(expected), "{expected}: {err}");
        assert!(err.message().starts_with(
            "STS at http://sts answered for arn:aws:iam::123456789012:role/deploy with "
        ));
    }
}

// ── through the SDK, against its replay client ──────────────────────────────

use super::replay::{form, granted, pairs, refused, sts};
use aws_smithy_http_client::test_util::StaticReplayClient;

const DEPLOY: &str = "arn:aws:iam::123456789012:role/deploy";
const CFN: &str = "arn:aws:iam::123456789012:role/cfn";

fn step(role: &str, label: &str) -> Step {
    Step {
        role: role.parse().unwrap(),
        label: label.into(),
        session_name: "ci".into(),
        duration: 900,
        external_id: None,
        tags: Vec::new(),
        droppable_tags: Vec::new(),
        transitive_tag_keys: Vec::new(),
        source_identity: None,
        policy: None,
        policy_arns: Vec::new(),
        mfa: None,
        plain_keys: false,
    }
}

fn keys() -> Credentials {
    Credentials {
        access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
        secret_access_key: Secret::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        session_token: None,
        expiration: None,
    }
}

/// An unsigned JWT with GitHub's claims: nothing here verifies signatures.
fn token() -> Token {
    token_for(300, "main")
}

/// The same, expiring in `seconds`, for a push to `branch`.
fn token_for(seconds: i64, branch: &str) -> Token {
    use base64::Engine;
    let part = |json: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json.to_string())
    };
    let jwt = format!(
        "{}.{}.c2ln",
        part(serde_json::json!({"alg": "RS256", "typ": "JWT"})),
        part(serde_json::json!({
            "iss": "https://token.actions.githubusercontent.com",
            "aud": "sts.amazonaws.com",
            "sub": format!("repo:octo-org/app:ref:refs/heads/{branch}"),
            "exp": crate::time::now_unix() + seconds,
        }))
    );
    Token::parse(&jwt, "the test").unwrap()
}

#[tokio::test]
async fn a_token_is_exchanged_once_and_each_later_hop_is_one_assume_role() {
    let (sts, client) = sts(vec![
        granted("AssumeRoleWithWebIdentity", "deploy", "ASIA1"),
        granted("AssumeRole", "cfn", "ASIA2"),
    ]);
    let renew = || -> TokenFuture<'_> { Box::pin(async { Ok(token()) }) };
    let mut cfn = step(CFN, "cfn");
    cfn.duration = 1800;
    cfn.tags = vec![("team".into(), "payments".into())];
    let start = Start::Token {
        token: Box::new(token()),
        renew: &renew,
        trust_policy: None,
    };
    let session = run(&sts, start, &[step(DEPLOY, "deploy"), cfn])
        .await
        .unwrap();
    assert_eq!(
        session.assumed_role_arn,
        "arn:aws:sts::123456789012:assumed-role/cfn/ci"
    );
    assert_eq!(session.credentials.access_key_id, "ASIA2");
    let requests: Vec<_> = client.actual_requests().map(form).collect();
    assert_eq!(
        requests[0],
        pairs(&[
            ("Action", "AssumeRoleWithWebIdentity"),
            ("Version", "2011-06-15"),
            ("RoleArn", DEPLOY),
            ("RoleSessionName", "ci"),
            ("WebIdentityToken", token().jwt.expose()),
            ("DurationSeconds", "900"),
        ])
    );
    assert_eq!(
        requests[1],
        pairs(&[
            ("Action", "AssumeRole"),
            ("Version", "2011-06-15"),
            ("RoleArn", CFN),
            ("RoleSessionName", "ci"),
            ("DurationSeconds", "1800"),
            ("Tags.member.1.Key", "team"),
            ("Tags.member.1.Value", "payments"),
        ])
    );
    assert_eq!(requests.len(), 2);
}

#[tokio::test]
async fn too_large_tags_lose_the_runs_optional_ones_and_the_request_goes_once_more() {
    let (sts, client) = sts(vec![
        refused(
            400,
            "PackedPolicyTooLarge",
            "Packed size of session policy and session tags exceeds the limit",
        ),
        granted("AssumeRole", "deploy", "ASIA1"),
    ]);
    let mut deploy = step(DEPLOY, "deploy");
    deploy.tags = vec![
        ("GitHub".into(), "Actions".into()),
        ("Repository".into(), "octo-org/app".into()),
        ("RunId".into(), "42".into()),
        ("Job".into(), "deploy".into()),
    ];
    deploy.droppable_tags = vec!["RunId".into(), "Job".into()];
    deploy.transitive_tag_keys = vec!["Repository".into(), "Job".into()];
    let session = run(&sts, Start::Keys(keys()), &[deploy]).await.unwrap();
    assert_eq!(session.credentials.access_key_id, "ASIA1");
    let requests: Vec<_> = client.actual_requests().map(form).collect();
    let tagged = |tags: &[(&str, &str)], transitive: &[&str]| {
        let mut expected = pairs(&[
            ("Action", "AssumeRole"),
            ("Version", "2011-06-15"),
            ("RoleArn", DEPLOY),
            ("RoleSessionName", "ci"),
            ("DurationSeconds", "900"),
        ]);
        for (n, (key, value)) in tags.iter().enumerate() {
            expected.push((format!("Tags.member.{}.Key", n + 1), key.to_string()));
            expected.push((format!("Tags.member.{}.Value", n + 1), value.to_string()));
        }
        for (n, key) in transitive.iter().enumerate() {
            expected.push((
                format!("TransitiveTagKeys.member.{}", n + 1),
                key.to_string(),
            ));
        }
        expected
    };
    assert_eq!(
        requests,
        [
            tagged(
                &[
                    ("GitHub", "Actions"),
                    ("Repository", "octo-org/app"),
                    ("RunId", "42"),
                    ("Job", "deploy")
                ],
                &["Repository", "Job"]
            ),
            tagged(
                &[("GitHub", "Actions"), ("Repository", "octo-org/app")],
                &["Repository"]
            ),
        ]
    );
}

#[tokio::test]
async fn too_large_tags_with_none_to_drop_fail_after_one_request() {
    let (sts, client) = sts(vec![refused(
        400,
        "PackedPolicyTooLarge",
        "Packed size of session policy and session tags exceeds the limit",
    )]);
    let mut deploy = step(DEPLOY, "deploy");
    deploy.tags = vec![("team".into(), "payments".into())];
    let err = run(&sts, Start::Keys(keys()), &[deploy]).await.unwrap_err();
    assert_eq!(
        err.message(),
        "STS refused AssumeRole on arn:aws:iam::123456789012:role/deploy: PackedPolicyTooLarge: \
         Packed size of session policy and session tags exceeds the limit"
    );
    assert_eq!(client.actual_requests().count(), 1);
}

#[tokio::test]
async fn a_denial_is_not_retried_and_throttling_is() {
    let (sts, client) = sts(vec![refused(
        403,
        "AccessDenied",
        "User is not authorized to perform: sts:AssumeRole",
    )]);
    let err = run(&sts, Start::Keys(keys()), &[step(DEPLOY, "deploy")])
        .await
        .unwrap_err();
    assert_eq!(
        err.message(),
        "STS refused AssumeRole on arn:aws:iam::123456789012:role/deploy: AccessDenied: \
         User is not authorized to perform: sts:AssumeRole"
    );
    assert_eq!(
        err.hint(),
        Some(
            "hint: the caller needs `sts:AssumeRole` on arn:aws:iam::123456789012:role/deploy in \
             its own policy, and the trust policy of deploy must name the caller as Principal"
        )
    );
    assert_eq!(client.actual_requests().count(), 1);

    let (sts, client) = sts_throttled();
    let session = run(&sts, Start::Keys(keys()), &[step(DEPLOY, "deploy")])
        .await
        .unwrap();
    assert_eq!(session.credentials.access_key_id, "ASIA1");
    assert_eq!(client.actual_requests().count(), 3);
}

fn sts_throttled() -> (Sts, StaticReplayClient) {
    sts(vec![
        refused(400, "Throttling", "Rate exceeded"),
        refused(503, "ServiceUnavailable", "Service unavailable"),
        granted("AssumeRole", "deploy", "ASIA1"),
    ])
}

#[tokio::test]
async fn plain_keys_are_asked_for_until_sts_hands_out_some() {
    let special = |key: &str| {
        let (status, body) = granted("AssumeRole", "deploy", key);
        (status, body.replace(">secret<", ">se/cret+<"))
    };
    let (sts, client) = sts(vec![
        special("ASIA1"),
        special("ASIA2"),
        granted("AssumeRole", "deploy", "ASIA3"),
    ]);
    let mut deploy = step(DEPLOY, "deploy");
    deploy.plain_keys = true;
    let session = run(&sts, Start::Keys(keys()), &[deploy]).await.unwrap();
    assert_eq!(session.credentials.access_key_id, "ASIA3");
    assert_eq!(session.credentials.secret_access_key.expose(), "secret");
    assert_eq!(client.actual_requests().count(), 3);
}

#[tokio::test]
async fn a_retry_fetches_a_fresh_token_when_the_first_is_about_to_expire() {
    let retried = || {
        sts(vec![
            refused(503, "ServiceUnavailable", "Service unavailable"),
            granted("AssumeRoleWithWebIdentity", "deploy", "ASIA1"),
        ])
    };
    let renew = || -> TokenFuture<'_> { Box::pin(async { Ok(token_for(300, "renewed")) }) };
    let sent_tokens = |client: &StaticReplayClient| -> Vec<String> {
        client
            .actual_requests()
            .map(|request| {
                form(request)
                    .into_iter()
                    .find(|(k, _)| k == "WebIdentityToken")
                    .map(|(_, v)| v)
                    .unwrap()
            })
            .collect()
    };
    // 30 s left: the first attempt still uses it, the retry a fresh one.
    let (sts_near, client) = retried();
    let near = token_for(30, "main");
    let start = Start::Token {
        token: Box::new(near.clone()),
        renew: &renew,
        trust_policy: None,
    };
    run(&sts_near, start, &[step(DEPLOY, "deploy")])
        .await
        .unwrap();
    let sent = sent_tokens(&client);
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0], near.jwt.expose());
    assert_eq!(
        Token::parse(&sent[1], "sent")
            .unwrap()
            .claims
            .sub
            .as_deref(),
        Some("repo:octo-org/app:ref:refs/heads/renewed")
    );
    // Five minutes left: the retry reuses it.
    let (sts_far, client) = retried();
    let far = token_for(300, "main");
    let start = Start::Token {
        token: Box::new(far.clone()),
        renew: &renew,
        trust_policy: None,
    };
    run(&sts_far, start, &[step(DEPLOY, "deploy")])
        .await
        .unwrap();
    assert_eq!(sent_tokens(&client), [far.jwt.expose(), far.jwt.expose()]);
}

#[tokio::test]
async fn managed_policies_and_an_inline_policy_scope_the_last_hop() {
    let (sts, client) = sts(vec![granted("AssumeRole", "deploy", "ASIA1")]);
    let mut deploy = step(DEPLOY, "deploy");
    deploy.policy = Some(r#"{"Statement":[]}"#.into());
    deploy.policy_arns = vec![
        "arn:aws:iam::aws:policy/ReadOnlyAccess".into(),
        "arn:aws:iam::123456789012:policy/deploy".into(),
    ];
    deploy.external_id = Some("partner-42".into());
    deploy.source_identity = Some("alice".into());
    run(&sts, Start::Keys(keys()), &[deploy]).await.unwrap();
    let requests: Vec<_> = client.actual_requests().map(form).collect();
    assert_eq!(
        requests[0],
        pairs(&[
            ("Action", "AssumeRole"),
            ("Version", "2011-06-15"),
            ("RoleArn", DEPLOY),
            ("RoleSessionName", "ci"),
            (
                "PolicyArns.member.1.arn",
                "arn:aws:iam::aws:policy/ReadOnlyAccess"
            ),
            (
                "PolicyArns.member.2.arn",
                "arn:aws:iam::123456789012:policy/deploy"
            ),
            ("Policy", r#"{"Statement":[]}"#),
            ("DurationSeconds", "900"),
            ("ExternalId", "partner-42"),
            ("SourceIdentity", "alice"),
        ])
    );
}

#[tokio::test]
async fn an_answer_that_is_not_sts_names_the_endpoint_asked() {
    let (mut sts, _client) = sts(vec![(502, "<html>bad gateway</html>".into())]);
    sts.retry.max_attempts = 1;
    let err = run(&sts, Start::Keys(keys()), &[step(DEPLOY, "deploy")])
        .await
        .unwrap_err();
    assert_eq!(
        err.message(),
        "AssumeRole on arn:aws:iam::123456789012:role/deploy failed with HTTP 502 and a reply \
         that is not an STS error; is https://sts.test really STS?"
    );
    sts.endpoint = None;
    sts.region = "eu-south-2".into();
    assert_eq!(sts.endpoint_shown(), "the eu-south-2 regional STS endpoint");
}

#[test]
fn credentials_a_minute_past_twelve_hours_pass_for_clock_skew_and_no_more() {
    let within = answer("ASIA1", "s", i64::from(MAX_DURATION) + 30);
    assert!(check(&within, ARN).is_ok());
    let beyond = answer("ASIA1", "s", i64::from(MAX_DURATION) + 120);
    assert_eq!(
        check(&beyond, ARN).unwrap_err().message(),
        "STS at http://sts answered for arn:aws:iam::123456789012:role/deploy with credentials \
         that outlive the 12 hours STS ever grants; is it really STS?"
    );
}

#[tokio::test]
async fn a_reply_that_is_not_sts_is_retried_when_a_server_failed_and_final_otherwise() {
    let not_sts = |status: u16| (status, "<html>not STS</html>".to_string());
    for status in [502, 503, 429] {
        let (sts, client) = sts(vec![
            not_sts(status),
            granted("AssumeRole", "deploy", "ASIA1"),
        ]);
        let session = run(&sts, Start::Keys(keys()), &[step(DEPLOY, "deploy")])
            .await
            .unwrap();
        assert_eq!(session.credentials.access_key_id, "ASIA1", "{status}");
        assert_eq!(client.actual_requests().count(), 2, "{status}");
    }
    for status in [403, 404] {
        let (sts, client) = sts(vec![
            not_sts(status),
            granted("AssumeRole", "deploy", "ASIA1"),
        ]);
        let err = run(&sts, Start::Keys(keys()), &[step(DEPLOY, "deploy")])
            .await
            .unwrap_err();
        assert_eq!(
            err.message(),
            format!(
                "AssumeRole on arn:aws:iam::123456789012:role/deploy failed with HTTP {status} and \
                 a reply that is not an STS error; is https://sts.test really STS?"
            )
        );
        assert_eq!(client.actual_requests().count(), 1, "{status}");
    }
}

/// STS at `url` as vault-ci reaches it (its own HTTP client, no proxy), one
/// attempt of `attempt_timeout` each.
fn sts_at(url: &str, attempt_timeout: Duration, max_attempts: u32) -> Sts {
    let net = crate::net::NetConfig::new(
        crate::net::NetOptions {
            attempt_timeout,
            total_timeout: attempt_timeout * max_attempts,
            ..Default::default()
        },
        &crate::env::Env::default(),
        &[url],
    )
    .unwrap();
    Sts {
        region: "us-east-1".into(),
        endpoint: Some(url.into()),
        http: net.sts_http_client(),
        retry: RetryPolicy {
            max_attempts,
            jitter: || 0.0,
            ..RetryPolicy::default()
        },
        attempt_timeout,
    }
}

/// A server on this machine that answers every connection with `answer`
/// (after reading the request's first bytes), or holds it without a word.
fn local_server(answer: Option<Vec<u8>>) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut request = [0; 4096];
            let _ = stream.read(&mut request);
            match &answer {
                Some(answer) => {
                    let _ = stream.write_all(answer);
                }
                None => std::thread::sleep(Duration::from_secs(10)),
            }
        }
    });
    url
}

#[tokio::test]
async fn an_sts_that_cannot_be_reached_is_tried_again_and_the_error_says_what_to_check() {
    // A port nothing listens on.
    let url = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let sts = sts_at(&url, Duration::from_secs(5), 2);
    let err = run(&sts, Start::Keys(keys()), &[step(DEPLOY, "deploy")])
        .await
        .unwrap_err();
    let message = err.message();
    let tried = format!("cannot reach STS at {url} for AssumeRole on {DEPLOY}: ");
    assert!(message.starts_with(&tried), "{message}");
    assert!(
        message.ends_with(" (gave up after 2 attempts)"),
        "{message}"
    );
    assert_eq!(
        err.kind(),
        crate::error::Kind::Unavailable(crate::error::Peer::Sts)
    );
    assert_eq!(
        err.hint(),
        Some(
            "hint: check --sts-endpoint / AWS_ENDPOINT_URL_STS, --region, the proxy (HTTPS_PROXY, \
             NO_PROXY) and --ca-bundle"
        )
    );
}

#[tokio::test]
async fn an_answer_larger_than_sts_ever_sends_is_refused_and_not_asked_again() {
    let size = crate::net::MAX_BODY + 1;
    let mut answer = format!("HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n").into_bytes();
    answer.resize(answer.len() + size, b'x');
    let url = local_server(Some(answer));
    let sts = sts_at(&url, Duration::from_secs(5), 3);
    let err = run(&sts, Start::Keys(keys()), &[step(DEPLOY, "deploy")])
        .await
        .unwrap_err();
    assert_eq!(
        err.message(),
        format!(
            "STS at {url} answered AssumeRole on {DEPLOY} with more than 1048576 bytes, where \
             STS's answers are a few kilobytes: is it really STS? check --sts-endpoint / \
             AWS_ENDPOINT_URL_STS"
        )
    );
    assert_eq!(err.kind(), crate::error::Kind::Rejected);
}

#[tokio::test]
async fn an_sts_that_never_answers_is_given_up_on_after_the_attempt_timeout() {
    let url = local_server(None);
    let sts = Sts {
        // The SDK's own deadline for the attempt, before the connection's.
        attempt_timeout: Duration::from_secs(1),
        ..sts_at(&url, Duration::from_secs(10), 1)
    };
    let err = run(&sts, Start::Keys(keys()), &[step(DEPLOY, "deploy")])
        .await
        .unwrap_err();
    assert_eq!(
        err.message(),
        format!(
            "STS at {url} did not answer AssumeRole on {DEPLOY} within 1 s (--attempt-timeout)"
        )
    );
    assert_eq!(err.retry(), crate::error::Retry::Transient);
}
