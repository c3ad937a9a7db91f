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
    env.vault_ci(&args).success();
    assert_eq!(sts.log().len(), 2);
}

#[test]
fn a_slow_answer_counts_as_a_failed_attempt() {
    let sts = faulty(&["slow:4"]);
    let (env, mut args) = through(&sts);
    args.extend(["--attempt-timeout", "1"].map(String::from));
    let out = env.vault_ci(&args);
    out.success();
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
    env.vault_ci(&args)
        .failure(1, &["gave up after 1 s (--timeout)"]);
}

#[test]
fn attempts_are_capped_by_max_attempts() {
    let sts = faulty_sts(&["--respond", "503:ServiceUnavailable:down"]);
    let (env, mut args) = through(&sts);
    args.extend(["--max-attempts", "3"].map(String::from));
    let out = env.vault_ci(&args);
    out.failure(1, &["ServiceUnavailable", "(gave up after 3 attempts)"]);
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
    out.failure(
        1,
        &[
            "cannot reach STS at http://127.0.0.1:9",
            "Connection refused",
            "(gave up after 2 attempts)",
        ],
    );
    assert_eq!(announced_delays(&out.stderr).len(), 1);
}

#[test]
fn permanent_refusals_are_not_retried() {
    for (answer, expected) in [
        (
            "403:AccessDenied:Not authorized to perform sts:AssumeRoleWithWebIdentity",
            "AccessDenied",
        ),
        (
            "400:ValidationError:1 validation error detected: Value at 'roleSessionName' failed to satisfy constraint",
            "roleSessionName",
        ),
        (
            "400:MalformedPolicyDocument:Syntax errors in policy.",
            "--session-policy must be a valid IAM policy",
        ),
        (
            "400:PackedPolicyTooLarge:Packed size exceeds limit by 7%",
            "fewer or shorter tags",
        ),
        (
            "403:RegionDisabledException:STS is not activated in this region",
            "activate it",
        ),
        (
            "400:InvalidIdentityToken:Incorrect token audience",
            "not an IAM OIDC provider",
        ),
        (
            "400:ExpiredTokenException:Token expired: current date/time 1 must be before the expiration date/time 0",
            "runner's clock",
        ),
        ("200:raw:<html>captive portal</html>", "really STS?"),
    ] {
        let sts = faulty_sts(&["--respond", answer]);
        let (env, args) = through(&sts);
        let out = env.vault_ci(&args);
        // The error line names the call and STS's code; the hint is the next line.
        let code = answer.split(':').nth(1).filter(|c| *c != "raw");
        out.failure(
            1,
            &[
                code.unwrap_or("a reply that is not an STS error"),
                "AssumeRoleWithWebIdentity",
            ],
        );
        assert!(
            out.stderr.contains(expected),
            "{answer}: missing {expected:?}\n{out}"
        );
        assert_eq!(sts.log().len(), 1, "{answer} was retried");
        assert!(!out.stderr.contains("retrying"), "{out}");
        assert_eq!(out.stdout, "");
    }
}

#[test]
fn the_idp_being_briefly_unreachable_is_retried() {
    for answer in [
        "400:IDPCommunicationError:The web identity token provider could not be reached",
        "400:InvalidIdentityToken:Couldn't retrieve verification key from your identity provider",
    ] {
        let sts = faulty(&[answer]);
        let (env, args) = through(&sts);
        env.vault_ci(&args).success();
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
    out.failure(1, &["AccessDenied"]);
    let annotation = out
        .stdout
        .lines()
        .find(|l| l.starts_with("::error title=vault-ci%3A access denied::"))
        .unwrap_or_else(|| panic!("no annotation:\n{out}"));
    assert!(
        annotation.contains("STS refused AssumeRoleWithWebIdentity"),
        "{annotation}"
    );
    assert!(annotation.contains("%0A  hint: "), "{annotation}");
    assert_eq!(env.read("github_env"), "");
}
