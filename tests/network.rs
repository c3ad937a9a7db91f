//! Real STS is HTTPS, and self-hosted runners sit behind CAs and proxies.

use crate::harness::*;

fn tls_env() -> (Env, String) {
    let moto = moto_tls();
    let mut env = Env::new();
    env.sts(moto);
    let token = env.write("token.jwt", &mint_token(&[]));
    (env, token.display().to_string())
}

fn assume_json(env: &Env, token: &str, extra: &[&str]) -> crate::harness::Outcome {
    let mut args = vec![
        "assume",
        "--token-file",
        token,
        "--role-arn",
        "arn:aws:iam::123456789012:role/gha-deploy",
        "--session-name",
        "tls",
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    env.vault_ci(args)
}

#[test]
fn https_sts_with_a_corporate_ca_from_aws_ca_bundle() {
    let (mut env, token) = tls_env();
    env.set("AWS_CA_BUNDLE", moto_tls().str("/ca_bundle"));
    let doc = assume_json(&env, &token, &[]).json();
    assert_eq!(doc["RoleArn"], assumed_role("gha-deploy", "tls"));
}

#[test]
fn https_sts_with_the_ca_bundle_flag() {
    let (env, token) = tls_env();
    let ca = moto_tls().str("/ca_bundle");
    let doc = assume_json(&env, &token, &["--ca-bundle", &ca]).json();
    assert_eq!(doc["RoleArn"], assumed_role("gha-deploy", "tls"));
}

#[test]
fn an_untrusted_certificate_is_refused_and_explained() {
    // Through the proxy, which logs one CONNECT per attempt.
    let (mut env, token) = tls_env();
    let proxy = start_peer(&["proxy"]);
    env.set("HTTPS_PROXY", proxy.str("/url"))
        .set("NO_PROXY", "");
    let out = assume_json(&env, &token, &[]);
    out.fails(
        1,
        &format!(
            "vault-ci: cannot reach STS at {} for AssumeRoleWithWebIdentity on \
             arn:aws:iam::123456789012:role/gha-deploy: dispatch failure: other: error sending request: \
             client error (Connect): invalid peer certificate: UnknownIssuer",
            moto_tls().endpoint()
        ),
    )
    .stderr_has_line(
        "  hint: the server's certificate is not trusted: if a corporate proxy or CA signs it, pass \
         its CA as --ca-bundle PEM (or AWS_CA_BUNDLE)",
    );
    assert!(!out.stderr.contains("retrying"), "{out}");
    assert_eq!(
        proxy.log().len(),
        1,
        "a certificate failure is never retried: {:?}",
        proxy.log()
    );
    out.stdout_is("");
}

#[test]
fn a_ca_bundle_that_is_not_pem_is_a_usage_error() {
    let (env, token) = tls_env();
    let bogus = env.write("ca.der", "definitely not a certificate");
    assume_json(&env, &token, &["--ca-bundle", bogus.to_str().unwrap()]).fails(
        2,
        &format!(
            "vault-ci: CA bundle {} holds no PEM certificate (-----BEGIN CERTIFICATE-----); export \
                 the CA as PEM, not DER",
            bogus.display()
        ),
    );
}

#[test]
fn sts_is_reached_through_https_proxy() {
    let (mut env, token) = tls_env();
    let proxy = proxy();
    env.set("AWS_CA_BUNDLE", moto_tls().str("/ca_bundle"))
        .set("HTTPS_PROXY", proxy.str("/url"))
        .set("NO_PROXY", "");
    let doc = assume_json(&env, &token, &[]).json();
    assert_eq!(doc["RoleArn"], assumed_role("gha-deploy", "tls"));
    let target = moto_tls().endpoint().replace("https://", "CONNECT ");
    assert!(
        proxy.log().iter().any(|entry| entry == target.as_str()),
        "no {target} in the proxy log: {:?}",
        proxy.log()
    );
}

#[test]
fn the_http_proxy_flag_carries_sts_and_the_github_token_request() {
    let moto = moto();
    let proxy = proxy();
    let mut env = Env::new();
    env.sts(moto).github_actions();
    let out = env.vault_ci([
        "assume",
        "--role-arn",
        &moto.role("gha-deploy"),
        "--http-proxy",
        &proxy.str("/url"),
        "--github-env",
    ]);
    out.success();
    let later_steps = parse_github_file(&env.read("github_env"));
    assert_eq!(
        env.caller_arn(&later_steps),
        assumed_role("gha-deploy", "github-4242-2")
    );
    let log = proxy.log();
    let via = |prefix: String| {
        log.iter()
            .any(|e| e.as_str().is_some_and(|e| e.starts_with(&prefix)))
    };
    assert!(
        via(format!("POST {}", moto.endpoint())),
        "STS not proxied: {log:?}"
    );
    let token_host = github().str("/url");
    let token_origin = &token_host[..token_host[8..].find('/').unwrap() + 8];
    assert!(
        via(format!("GET {token_origin}")),
        "token request not proxied: {log:?}"
    );
}
