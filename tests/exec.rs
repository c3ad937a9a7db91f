//! `vault-ci assume … -- COMMAND`: the command runs with the credentials.

use crate::harness::*;

fn token_env() -> (Env, Vec<String>) {
    let moto = moto();
    let mut env = Env::new();
    env.sts(moto);
    let token = env.write("token.jwt", &mint_token(&[]));
    let args = vec![
        "assume".to_string(),
        "--token-file".into(),
        token.display().to_string(),
        "--role-arn".into(),
        moto.role("gha-deploy"),
        "--session-name".into(),
        "exec".into(),
        "--".into(),
    ];
    (env, args)
}

#[test]
fn the_command_gets_fresh_credentials_and_stale_ones_are_removed() {
    let (mut env, mut args) = token_env();
    env.set("AWS_PROFILE", "someone-elses")
        .set("AWS_SESSION_TOKEN", "stale-token");
    args.extend(["sh", "-c", "env | grep '^AWS_' | sort"].map(String::from));
    let out = env.vault_ci(args);
    out.success();
    assert!(!out.stdout.contains("AWS_PROFILE"), "{out}");
    assert!(!out.stdout.contains("stale-token"), "{out}");
    for name in [
        "AWS_ACCESS_KEY_ID=ASIA",
        "AWS_SECRET_ACCESS_KEY=",
        "AWS_SESSION_TOKEN=",
        "AWS_REGION=us-east-1",
        "AWS_DEFAULT_REGION=us-east-1",
        "AWS_CREDENTIAL_EXPIRATION=",
    ] {
        assert!(out.stdout.contains(name), "{name} missing:\n{out}");
    }
}

#[test]
fn the_commands_exit_status_is_vault_cis() {
    let (env, mut args) = token_env();
    args.extend(["sh", "-c", "exit 7"].map(String::from));
    assert_eq!(env.vault_ci(args).code, Some(7));
}

#[test]
fn a_missing_command_is_named() {
    let (env, mut args) = token_env();
    args.push("no-such-tool-xyz".into());
    env.vault_ci(args).fails(
        127,
        "vault-ci: cannot run `no-such-tool-xyz`: command not found; is it installed and on PATH?",
    );
}

#[cfg(unix)]
#[test]
fn signals_reach_the_command() {
    let (env, mut args) = token_env();
    args.pop(); // the `--`, which the helper adds
    assert_eq!(env.exit_code_after_sigterm(&args), Some(42));
}

/// What of the CI's token-minting variables `sh -c` sees under `--`.
fn minting_variables_seen(extra: &[&str], refresh: bool) -> String {
    let github = github_endpoint(&[]);
    let mut env = Env::new();
    env.sts(moto())
        .github_actions_with(&github)
        .set("CIRCLE_OIDC_TOKEN", "a-token-of-another-ci");
    let role = moto().role("gha-deploy");
    let mut args = vec!["assume", "--role-arn", &role];
    if refresh {
        args.push("--refresh");
    }
    args.extend(extra);
    args.extend([
        "--",
        "sh",
        "-c",
        "env | grep -E '^(ACTIONS_ID_TOKEN|CIRCLE_OIDC)' | cut -d= -f1 | sort",
    ]);
    let out = env.vault_ci(args);
    out.success();
    // The command's lines, not the masks vault-ci issued before it ran.
    out.stdout
        .lines()
        .filter(|l| !l.starts_with("::add-mask::"))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn the_command_cannot_mint_tokens_of_its_own_unless_asked() {
    for refresh in [false, true] {
        assert_eq!(
            minting_variables_seen(&[], refresh),
            "",
            "refresh: {refresh}"
        );
        assert_eq!(
            minting_variables_seen(&["--keep-oidc-variables"], refresh),
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN\nACTIONS_ID_TOKEN_REQUEST_URL\nCIRCLE_OIDC_TOKEN\n",
            "refresh: {refresh}"
        );
    }
}
