//! Every destination, consumed by the real aws CLI or boto3.

use std::collections::BTreeMap;
use std::path::Path;

use crate::harness::*;

fn deploy_user_env() -> Env {
    let moto = moto_auth();
    let mut env = Env::new();
    env.sts(moto).deploy_user(moto);
    env
}

#[test]
fn an_env_file_replaces_the_hand_written_assume_role_script() {
    let mut env = deploy_user_env();
    env.set("AWS_DEPLOY_IAM_ROLE_ARN", moto_auth().role("deploy"))
        .set("ROLE_SESSION_NAME", "deploy-test");
    let out = env.run(
        "sh",
        [
            "-c",
            "$VAULT_CI assume --role-arn \"$AWS_DEPLOY_IAM_ROLE_ARN\" --session-name \"$ROLE_SESSION_NAME\" --env-file aws-env.sh",
        ]
        .iter()
        .map(|a| a.replace("$VAULT_CI", env!("CARGO_BIN_EXE_vault-ci"))),
    );
    // The env file is the only output.
    out.success().stdout_is("");

    let file = env.path("aws-env.sh");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the env file must be private");
    }
    let vars = source_exports(&env, &file);
    assert_eq!(vars["AWS_ACCESS_KEY_ID"].len(), 20);
    assert_eq!(env.caller_arn(&vars), assumed_role("deploy", "deploy-test"));
}

#[test]
fn an_env_file_is_replaced_whole_and_stays_private() {
    let env = deploy_user_env();
    let file = env.write("aws-env.sh", "export OLD=1\n");
    env.vault_ci([
        "assume",
        "--chain",
        &moto_auth().role("deploy"),
        "--env-file",
        "aws-env.sh",
    ])
    .success();
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains("OLD"), "{text}");
    assert!(text.lines().all(|l| l.starts_with("export AWS_")), "{text}");
    let caller = env.caller_arn(&source_exports(&env, &file));
    assert!(
        caller.starts_with(&assumed_role("deploy", "vault-ci-")),
        "{caller}"
    );
    let leftovers: Vec<_> = std::fs::read_dir(env.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".vault-ci-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind");
}

#[test]
fn a_circleci_job_gets_credentials_through_bash_env() {
    let mut env = deploy_user_env();
    let bash_env = env.write("bash_env", "export EARLIER_STEP=kept\n");
    env.set("CIRCLECI", "true")
        .set("BASH_ENV", bash_env.display().to_string());
    env.vault_ci([
        "assume",
        "--chain",
        &format!("{},{}", moto_auth().role("deploy"), moto_auth().role("cfn")),
        "--session-name",
        "circle-7",
        "--bash-env",
    ])
    .success();

    let vars = source_exports(&env, &bash_env);
    assert_eq!(env.caller_arn(&vars), assumed_role("cfn", "circle-7"));
    assert!(
        env.read("bash_env")
            .starts_with("export EARLIER_STEP=kept\n")
    );
}

#[test]
fn the_aws_cli_reads_credential_process_output() {
    // Web identity, so the aws CLI's own environment holds no keys that would win.
    let moto = moto();
    let mut env = Env::new();
    env.sts(moto);
    let token = env.write("token.jwt", &mint_token(&[]));
    let config = format!(
        "[profile ci]\nregion = us-east-1\ncredential_process = {} assume --token-file {} --role-arn {} --chain {} --session-name cp --format credential-process\n",
        env!("CARGO_BIN_EXE_vault-ci"),
        token.display(),
        moto.role("gha-deploy"),
        moto.role("cfn"),
    );
    let config_file = env.write("aws-config", &config);
    env.set("AWS_CONFIG_FILE", config_file.display().to_string());
    let out = env.run(
        "aws",
        [
            "sts",
            "get-caller-identity",
            "--profile",
            "ci",
            "--output",
            "json",
        ],
    );
    assert_eq!(out.json()["Arn"], assumed_role("cfn", "cp"));
}

/// botocore runs a credential process again whenever the credentials it gave
/// expire within 15 minutes: with the format's own default, 20 calls are one run.
#[cfg(unix)]
#[test]
fn boto3_runs_the_credential_process_once_for_twenty_calls() {
    use std::os::unix::fs::PermissionsExt;
    let moto = moto();
    let mut env = Env::new();
    env.sts(moto);
    let token = env.write("token.jwt", &mint_token(&[]));
    let runs = env.path("runs");
    let wrapper = env.write(
        "credential-process.sh",
        &format!(
            "#!/bin/sh\necho run >> {}\nexec {} assume --token-file {} --role-arn {} --session-name cp --format credential-process \"$@\"\n",
            runs.display(),
            env!("CARGO_BIN_EXE_vault-ci"),
            token.display(),
            moto.role("gha-deploy"),
        ),
    );
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let boto3 = "import boto3; s = boto3.Session(profile_name='ci'); c = s.client('sts'); \
                 print(len({c.get_caller_identity()['Arn'] for _ in range(20)}))";
    let calls = |extra: &str| {
        let _ = std::fs::remove_file(&runs);
        let config = env.write(
            "aws-config",
            &format!(
                "[profile ci]\nregion = us-east-1\ncredential_process = {} {extra}\n",
                wrapper.display()
            ),
        );
        let mut command = env.command("python3", ["-c", boto3]);
        command.env("AWS_CONFIG_FILE", &config);
        let out: Outcome = command.output().into();
        // One identity.
        out.success().stdout_is("1\n");
        std::fs::read_to_string(&runs).unwrap().lines().count()
    };
    assert_eq!(
        calls(""),
        1,
        "the default lifetime outlasts botocore's 15 minutes"
    );
    // Asked for 900 s, it is what the user asked for: a run per call, and a warning.
    assert_eq!(calls("--duration 900"), 21);
    let warned = env.vault_ci([
        "assume",
        "--token-file",
        &token.display().to_string(),
        "--role-arn",
        &moto.role("gha-deploy"),
        "--format",
        "credential-process",
        "--duration",
        "900",
    ]);
    assert_eq!(warned.json()["Version"], 1, "{warned}");
    assert!(
        warned
            .stderr
            .contains("run the process again on every call"),
        "{warned}"
    );
}

#[test]
fn json_and_dotenv_on_stdout_carry_the_same_working_credentials() {
    let moto = moto();
    let mut env = Env::new();
    env.sts(moto);
    let token = env.write("token.jwt", &mint_token(&[]));
    let args = |format: &str| {
        vec![
            "assume".to_string(),
            "--token-file".into(),
            token.display().to_string(),
            "--role-arn".into(),
            moto.role("gha-deploy"),
            "--session-name".into(),
            format!("fmt-{format}"),
            "--format".into(),
            format.into(),
        ]
    };

    let doc = env.vault_ci(args("json")).json();
    assert_eq!(doc["RoleArn"], assumed_role("gha-deploy", "fmt-json"));
    assert_eq!(doc["AccountId"], ACCOUNT);
    let vars: BTreeMap<String, String> = [
        ("AWS_ACCESS_KEY_ID", "AccessKeyId"),
        ("AWS_SECRET_ACCESS_KEY", "SecretAccessKey"),
        ("AWS_SESSION_TOKEN", "SessionToken"),
    ]
    .iter()
    .map(|(var, key)| (var.to_string(), doc[key].as_str().unwrap().to_string()))
    .collect();
    assert_eq!(
        env.caller_arn(&vars),
        assumed_role("gha-deploy", "fmt-json")
    );

    let dotenv = env.vault_ci(args("dotenv"));
    dotenv.success();
    let vars: BTreeMap<String, String> = dotenv
        .stdout
        .lines()
        .map(|l| l.split_once('=').expect("NAME=value"))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(vars["AWS_REGION"], "us-east-1");
    assert_eq!(
        env.caller_arn(&vars),
        assumed_role("gha-deploy", "fmt-dotenv")
    );
}

#[test]
fn with_no_destination_export_lines_go_to_stdout_for_eval() {
    let moto = moto();
    let mut env = Env::new();
    env.sts(moto);
    let token = env.write("token.jwt", &mint_token(&[]));
    let script = format!(
        "eval \"$('{}' assume --token-file '{}' --role-arn '{}' --session-name evald)\" && aws sts get-caller-identity --output json",
        env!("CARGO_BIN_EXE_vault-ci"),
        token.display(),
        moto.role("gha-deploy")
    );
    let out = env.run("sh", ["-c", &script]);
    assert_eq!(out.json()["Arn"], assumed_role("gha-deploy", "evald"));
}

#[test]
fn options_come_from_vault_ci_variables_and_flags_win() {
    let moto = moto();
    let mut env = Env::new();
    env.sts(moto);
    let token = env.write("token.jwt", &mint_token(&[]));
    env.set("VAULT_CI_TOKEN_FILE", token.display().to_string())
        .set("VAULT_CI_ROLE_ARN", moto.role("gha-deploy"))
        .set("VAULT_CI_SESSION_NAME", "from-env")
        .set("VAULT_CI_FORMAT", "env")
        .set("VAULT_CI_ENV_FILE", "creds.sh");
    env.vault_ci(["assume"]).success();
    let vars = source_exports(&env, &env.path("creds.sh"));
    assert_eq!(
        env.caller_arn(&vars),
        assumed_role("gha-deploy", "from-env")
    );

    let doc = env
        .vault_ci(["assume", "--session-name", "from-flag", "--format", "json"])
        .json();
    assert_eq!(doc["RoleArn"], assumed_role("gha-deploy", "from-flag"));
}

#[cfg(unix)]
#[test]
fn an_env_file_in_a_directory_anyone_can_write_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let moto = moto();
    let mut env = Env::new();
    env.sts(moto);
    let token = env.write("t.jwt", &mint_token(&[]));
    let shared = env.path("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = env.vault_ci([
        "assume",
        "--token-file",
        token.to_str().unwrap(),
        "--role-arn",
        &moto.role("gha-deploy"),
        "--env-file",
        "shared/aws.env",
    ]);
    out.success();
    assert!(out.stderr.contains("writable by every user"), "{out}");
    let mode = std::fs::metadata(shared.join("aws.env"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

/// The deploy user's keys are in the environment, as in the field notes' job:
/// a dotenv loader keeps them unless told to override, and vault-ci says so.
#[test]
fn dotenv_loaders_get_the_roles_keys_over_the_deploy_users_when_told_to_override() {
    let moto = moto_auth();
    let mut env = Env::new();
    env.sts(moto).deploy_user(moto);
    let out = env.vault_ci([
        "assume",
        "--role-arn",
        &moto.role("deploy"),
        "--session-name",
        "dotenv",
        "--format",
        "dotenv",
    ]);
    out.success();
    assert!(
        out.stderr.contains("AWS_ACCESS_KEY_ID is already set here")
            && out.stderr.contains("load_dotenv(override=True)"),
        "{out}"
    );
    env.write("creds.env", &out.stdout);
    let role = assumed_role("deploy", "dotenv");

    let python = |override_: &str| {
        let script = format!(
            "import boto3, dotenv; dotenv.load_dotenv('creds.env', override={override_}); \
             print(boto3.client('sts').get_caller_identity()['Arn'])"
        );
        env.run("python3", ["-c", &script])
    };
    python("True").success().stdout_is(&format!("{role}\n"));
    // What the warning is about: the user's keys stay, with the role's session token.
    let kept = python("False");
    assert!(kept.stderr.contains("InvalidClientTokenId"), "{kept}");

    let consumers = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/consumers");
    let preload = consumers.join("node_modules/dotenv/config.js");
    let whoami = consumers.join("whoami.mjs");
    let mut node = env.command(
        "node",
        [
            "--require".to_string(),
            preload.display().to_string(),
            whoami.display().to_string(),
        ],
    );
    node.env("DOTENV_CONFIG_PATH", "creds.env")
        .env("DOTENV_CONFIG_OVERRIDE", "true")
        .env("DOTENV_CONFIG_QUIET", "true");
    let out: Outcome = node.output().into();
    assert_eq!(out.json()["Arn"], role);
}
