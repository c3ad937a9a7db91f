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
    assume_json(&env, &token, &["--ca-bundle", &ca]).success();
}

#[test]
fn an_untrusted_certificate_is_refused_and_explained() {
    let (env, token) = tls_env();
    let out = assume_json(&env, &token, &[]);
    out.failure(1, &["cannot reach STS", &moto_tls().endpoint()]);
    assert!(out.stderr.contains("--ca-bundle"), "{out}");
    // A certificate's verdict does not change: no retry is announced.
    assert!(!out.stderr.contains("retrying"), "{out}");
    assert_eq!(out.stdout, "");
}

#[test]
fn a_ca_bundle_that_is_not_pem_is_a_usage_error() {
    let (env, token) = tls_env();
    let bogus = env.write("ca.der", "definitely not a certificate");
    assume_json(&env, &token, &["--ca-bundle", bogus.to_str().unwrap()])
        .failure(2, &["CA bundle", "no PEM certificate"]);
}

#[test]
fn sts_is_reached_through_https_proxy() {
    let (mut env, token) = tls_env();
    let proxy = proxy();
    env.set("AWS_CA_BUNDLE", moto_tls().str("/ca_bundle"))
        .set("HTTPS_PROXY", proxy.str("/url"))
        .set("NO_PROXY", "");
    assume_json(&env, &token, &[]).success();
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
