//! STS and the token endpoint misbehaving: transient faults are ridden out
//! with bounded, jittered backoff; permanent ones fail on the first answer.

use crate::harness::*;

const ROLE: &str = "arn:aws:iam::123456789012:role/gha-deploy";

/// An env whose STS is `sts`, with a token file, and the assume arguments.
fn through(sts: &Peer) -> (Env, Vec<String>) {
    let mut env = Env::new();
    env.set("AWS_ENDPOINT_URL", sts.endpoint());
    let token = env.write("t.jwt", &mint_token(&[]));
    let args = [
        "assume",
        "--token-file",
        token.to_str().unwrap(),
        "--role-arn",
        ROLE,
        "--session-name",
        "faults",
        "--format",
        "json",
    ]
    .map(String::from)
    .to_vec();
    (env, args)
}

fn faulty(script: &[&str]) -> Peer {
    let mut args: Vec<&str> = script.iter().flat_map(|r| ["--respond", r]).collect();
    let forward = moto().endpoint();
    args.extend(["--forward", forward.as_str()]);
    faulty_sts(&args)
}

/// The backoff delays vault-ci announced, with the attempt they precede.
fn announced_delays(stderr: &str) -> Vec<(u64, u32)> {
    stderr
        .lines()
        .filter_map(|line| {
            let rest = line.split("retrying in ").nth(1)?;
            let ms: u64 = rest.split(' ').next()?.parse().ok()?;
            let attempt: u32 = rest
                .split("(attempt ")
                .nth(1)?
                .split('/')
                .next()?
                .parse()
                .ok()?;
            Some((ms, attempt))
        })
        .collect()
}

#[test]
fn throttling_is_ridden_out_past_max_attempts_with_jittered_pauses() {
    // More throttled answers than --max-attempts (5) allows for other failures.
    let sts = faulty(&["400:Throttling:Rate exceeded"; 6]);
    let (env, args) = through(&sts);
    let out = env.vault_ci(&args);
    assert_eq!(out.json()["RoleArn"], assumed_role("gha-deploy", "faults"));
    assert_eq!(
        sts.log().len(),
        7,
        "6 throttled attempts and 1 that went through"
    );

    let delays = announced_delays(&out.stderr);
    assert_eq!(
        delays.iter().map(|d| d.1).collect::<Vec<_>>(),
        [2, 3, 4, 5, 6, 7],
        "{out}"
    );
    // Full jitter under a flat 2 s: the quota refills steadily, so waiting longer
    // would only finish later.
    for (ms, attempt) in &delays {
        assert!(*ms <= 2000, "attempt {attempt} waited {ms} ms");
    }
    let distinct: std::collections::BTreeSet<_> = delays.iter().map(|d| d.0).collect();
    assert!(distinct.len() > 1, "the pauses are jittered: {delays:?}");
    assert!(out.stderr.contains("(attempt 7/until --timeout)"), "{out}");
    assert!(
        out.stderr
            .contains("STS throttled AssumeRoleWithWebIdentity"),
        "{out}"
    );
}

#[test]
fn a_5xx_is_retried_and_then_succeeds() {
    let sts = faulty(&["500:InternalFailure:oops"]);
    let (env, args) = through(&sts);
    let out = env.vault_ci(&args);
    assert_eq!(out.json()["RoleArn"], assumed_role("gha-deploy", "faults"));
    assert_eq!(sts.log().len(), 2);
}

#[test]
fn a_slow_answer_counts_as_a_failed_attempt() {
    let sts = faulty(&["slow:4"]);
    let (env, mut args) = through(&sts);
    args.extend(["--attempt-timeout", "1"].map(String::from));
    let out = env.vault_ci(&args);
    assert_eq!(out.json()["RoleArn"], assumed_role("gha-deploy", "faults"));
    assert!(
        out.stderr.contains("within 1 s (--attempt-timeout)"),
        "{out}"
    );
    assert_eq!(sts.log().len(), 2);
}

#[test]
fn the_whole_exchange_stops_at_the_overall_timeout() {
    let sts = faulty(&["slow:30", "slow:30"]);
    let (env, mut args) = through(&sts);
    args.extend(["--attempt-timeout", "20", "--timeout", "1"].map(String::from));
    env.vault_ci(&args).fails(
        1,
        "vault-ci: gave up after 1 s (--timeout): STS or the token endpoint kept failing or did not answer",
    );
}

#[test]
fn attempts_are_capped_by_max_attempts() {
    let sts = faulty_sts(&["--respond", "503:ServiceUnavailable:down"]);
    let (env, mut args) = through(&sts);
    args.extend(["--max-attempts", "3"].map(String::from));
    let out = env.vault_ci(&args);
    out.fails(
        1,
        &format!(
            "vault-ci: STS failed AssumeRoleWithWebIdentity on {ROLE}: HTTP 503 ServiceUnavailable: down \
             (gave up after 3 attempts)"
        ),
    );
    assert_eq!(sts.log().len(), 3);
}

#[test]
fn connection_refused_is_retried_then_named() {
    let mut env = Env::new();
    env.set("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
    let token = env.write("t.jwt", &mint_token(&[]));
    let out = env.vault_ci([
        "assume",
        "--token-file",
        token.to_str().unwrap(),
        "--role-arn",
        ROLE,
        "--max-attempts",
        "2",
        "--format",
        "json",
    ]);
    out.fails(
        1,
        &format!(
            "vault-ci: cannot reach STS at http://127.0.0.1:9 for AssumeRoleWithWebIdentity on {ROLE}: \
             dispatch failure: io error: error sending request: client error (Connect): tcp connect \
             error: Connection refused (os error 111) (gave up after 2 attempts)"
        ),
    )
    .stderr_has_line(
        "  hint: check --sts-endpoint / AWS_ENDPOINT_URL_STS, --region, the proxy (HTTPS_PROXY, \
         NO_PROXY) and --ca-bundle",
    );
    assert_eq!(announced_delays(&out.stderr).len(), 1);
}

#[test]
fn permanent_refusals_are_not_retried() {
    // STS's answer, the error line (after `vault-ci: STS refused
    // AssumeRoleWithWebIdentity on ROLE: `) and the first line of the hint.
    let judged = "  hint: STS judged the token from the file {token}: \
        iss=https://token.actions.githubusercontent.com aud=https://github.com/octo-org \
        sub=repo:octo-org/octo-repo:ref:refs/heads/main";
    for (answer, error, hint) in [
        (
            "403:AccessDenied:Not authorized to perform sts:AssumeRoleWithWebIdentity",
            "AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity",
            Some(judged),
        ),
        (
            "400:ValidationError:1 validation error detected: Value at 'roleSessionName' failed to satisfy constraint",
            "ValidationError: 1 validation error detected: Value at 'roleSessionName' failed to satisfy constraint",
            None,
        ),
        (
            "400:MalformedPolicyDocument:Syntax errors in policy.",
            "MalformedPolicyDocument: Syntax errors in policy.",
            Some(
                "  hint: --session-policy must be a valid IAM policy; check its actions and resources",
            ),
        ),
        (
            "400:PackedPolicyTooLarge:Packed size exceeds limit by 7%",
            "PackedPolicyTooLarge: Packed size exceeds limit by 7%",
            Some(
                "  hint: the session policy, --managed-policy ARNs and --tag values together are too \
                 large: trim the policy, use fewer or shorter tags, or attach the policy to the role",
            ),
        ),
        (
            "403:RegionDisabledException:STS is not activated in this region",
            "RegionDisabledException: STS is not activated in this region",
            Some(
                "  hint: STS is not activated in us-east-1: activate it under IAM → Account settings, \
                 or pass --region with an active region",
            ),
        ),
        (
            // The fix is the token's audience, not the account's provider.
            "400:InvalidIdentityToken:Incorrect token audience",
            "InvalidIdentityToken: Incorrect token audience; the token is malformed, or its issuer is \
             not an IAM OIDC provider of the account",
            Some(
                "  hint: the token from the file {token} is for audience https://github.com/octo-org, \
                 which the account's IAM OIDC provider for token.actions.githubusercontent.com does \
                 not list as a client ID: request the token for the audience the provider lists \
                 (sts.amazonaws.com, unless it was set up otherwise) with --audience (the action's \
                 `audience` input; in GitLab, `aud:` under `id_tokens:`)",
            ),
        ),
        (
            "400:ExpiredTokenException:Token expired: current date/time 1 must be before the expiration date/time 0",
            "ExpiredTokenException: Token expired: current date/time 1 must be before the expiration \
             date/time 0",
            Some(
                "  hint: the token or session used for this hop expired before STS saw it; check the \
                 runner's clock, and run vault-ci right before the credentials are needed",
            ),
        ),
    ] {
        let sts = faulty_sts(&["--respond", answer]);
        let (env, args) = through(&sts);
        let out = env.vault_ci(&args);
        out.fails(
            1,
            &format!("vault-ci: STS refused AssumeRoleWithWebIdentity on {ROLE}: {error}"),
        )
        .stdout_is("");
        match hint {
            Some(hint) => {
                let token = env.path("t.jwt").display().to_string();
                out.stderr_has_line(&hint.replace("{token}", &token));
            }
            None => assert!(!out.stderr.contains("hint:"), "{out}"),
        }
        assert_eq!(sts.log().len(), 1, "{answer} was retried");
        assert!(!out.stderr.contains("retrying"), "{out}");
    }

    // Not STS at all: a captive portal's page.
    let sts = faulty_sts(&["--respond", "200:raw:<html>captive portal</html>"]);
    let (env, args) = through(&sts);
    let out = env.vault_ci(&args);
    out.fails(
        1,
        &format!(
            "vault-ci: AssumeRoleWithWebIdentity on {ROLE} failed with HTTP 200 and a reply that is not \
             an STS error; is {} really STS?",
            sts.endpoint()
        ),
    )
    .stdout_is("");
    assert_eq!(sts.log().len(), 1, "the captive portal was asked again");
}

#[test]
fn the_idp_being_briefly_unreachable_is_retried() {
    for answer in [
        "400:IDPCommunicationError:The web identity token provider could not be reached",
        "400:InvalidIdentityToken:Couldn't retrieve verification key from your identity provider",
    ] {
        let sts = faulty(&[answer]);
        let (env, args) = through(&sts);
        let out = env.vault_ci(&args);
        assert_eq!(out.json()["RoleArn"], assumed_role("gha-deploy", "faults"));
        assert_eq!(sts.log().len(), 2, "{answer}");
    }
}

#[test]
fn githubs_token_endpoint_failing_at_first_is_retried() {
    let github = github_endpoint(&["--fail", "2"]);
    let mut env = Env::new();
    env.sts(moto()).github_actions_with(&github);
    let out = env.vault_ci([
        "assume",
        "--role-arn",
        &moto().role("gha-deploy"),
        "--github-env",
    ]);
    out.success();
    let later_steps = parse_github_file(&env.read("github_env"));
    assert_eq!(
        env.caller_arn(&later_steps),
        assumed_role("gha-deploy", "github-4242-2")
    );
    assert_eq!(github.log().len(), 3, "two 503s, then the token");
    assert!(out.stderr.contains("answered HTTP 503"), "{out}");
}

#[test]
fn a_retried_exchange_fetches_a_fresh_token_when_the_old_one_is_about_to_expire() {
    let github = github_endpoint(&["--exp-in", "30"]);
    let sts = faulty(&["400:Throttling:Rate exceeded"]);
    let mut env = Env::new();
    env.github_actions_with(&github)
        .set("AWS_ENDPOINT_URL", sts.endpoint());
    env.vault_ci([
        "assume",
        "--role-arn",
        &moto().role("gha-deploy"),
        "--github-env",
    ])
    .success();
    assert_eq!(github.log().len(), 2, "the retry should use a fresh token");
}

#[test]
fn errors_in_github_actions_become_annotations() {
    let sts = faulty_sts(&["--respond", "403:AccessDenied:Not authorized"]);
    let mut env = Env::new();
    env.github_actions().set("AWS_ENDPOINT_URL", sts.endpoint());
    let out = env.vault_ci(["assume", "--role-arn", ROLE, "--github-env"]);
    out.fails(
        1,
        &format!("vault-ci: STS refused AssumeRoleWithWebIdentity on {ROLE}: AccessDenied: Not authorized"),
    );
    // The annotation tells what stderr tells, the hint included, on one line.
    let told: Vec<&str> = out
        .stderr
        .lines()
        .skip_while(|l| !l.starts_with("vault-ci: "))
        .collect();
    assert!(told[1].starts_with("  hint: "), "{out}");
    let annotation = format!(
        "::error title=vault-ci%3A access denied::{}",
        told.join("%0A").trim_start_matches("vault-ci: ")
    );
    assert!(
        out.stdout.lines().any(|l| l == annotation),
        "no annotation\n  {annotation}\n{out}"
    );
    env.file_is("github_env", "");
}
