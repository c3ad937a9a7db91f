//! The GitLab CI/CD component (templates/assume-role.yml), run by gitlab-ci-local (a real
//! implementation of .gitlab-ci.yml: `include: component:`, `spec: inputs:`, `extends`,
//! `!reference`) in shell mode, side by side with the hand-written exchanges it replaces
//! (tests/fixtures/gitlab/, from public projects): the same job as written and converted,
//! the same token, the same moto behind a recording STS. A later script line (the probe,
//! tests/runners/probe.py) must see the same identity, region and lifetime.
//!
//! What gitlab-ci-local does not do, the test does as GitLab would: it sets GITLAB_CI=true
//! (gitlab-ci-local says false) and mints a token for each `id_tokens:` entry of the job
//! (read from `--preview`, extends and !reference resolved) with that entry's `aud`.
#![cfg(unix)]

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::harness::*;
use crate::packaging::{path_without_vault_ci, preinstalled, released_packaging};

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(name: &str) -> String {
    let path = repo().join("tests/fixtures/gitlab").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A token as GitLab mints it for `id_tokens:` in acme/app's pipeline on main.
fn gitlab_token(aud: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "--iss",
        "https://gitlab.com",
        "--aud",
        aud,
        "--sub",
        "project_path:acme/app:ref_type:branch:ref:main",
    ];
    args.extend_from_slice(extra);
    mint_token(&args)
}

/// A runner's machine: this build's vault-ci on PATH (a job image with it), every AWS
/// endpoint the recording STS in front of moto, no region of its own.
fn runner(sts: &Peer) -> Env {
    let mut env = Env::new();
    // ~/.aws as the job's own: profiles are what some of the exchanges write.
    env.set("AWS_ENDPOINT_URL", sts.endpoint())
        .remove("AWS_CONFIG_FILE")
        .remove("AWS_SHARED_CREDENTIALS_FILE");
    let bin = preinstalled(&env);
    env.set(
        "PATH",
        format!("{}:{}", bin.display(), path_without_vault_ci()),
    );
    env
}

/// A GitLab project (a git repository whose remote is gitlab.com/acme/app) holding
/// `ci_yml` and nothing of vault-ci's but the component, where gitlab-ci-local finds
/// `include: component: gitlab.com/vault-ci/vault-ci/assume-role@<VERSION>` (its cache of
/// remote includes): the file as the release leaves it, digests pinned.
fn project(env: &Env, name: &str, ci_yml: &str) -> PathBuf {
    let dir = env.path(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join(".gitlab-ci.yml"),
        ci_yml.replace("<VERSION>", VERSION),
    )
    .unwrap();
    let cached = dir.join(format!(
        ".gitlab-ci-local/includes/gitlab.com/vault-ci/vault-ci/{VERSION}/templates"
    ));
    std::fs::create_dir_all(&cached).unwrap();
    std::fs::copy(
        released_packaging(env).join("templates/assume-role.yml"),
        cached.join("assume-role.yml"),
    )
    .unwrap();
    for args in [
        &["init", "--quiet", "--initial-branch", "main"][..],
        &["remote", "add", "origin", "git@gitlab.com:acme/app.git"],
        &["add", ".gitlab-ci.yml"],
        &[
            "-c",
            "user.name=ci",
            "-c",
            "user.email=ci@example.com",
            "-c",
            "commit.gpgsign=false",
            "commit",
            "--quiet",
            "--message",
            "ci",
        ],
    ] {
        let mut git = env.command("git", args);
        git.current_dir(&dir);
        let outcome: Outcome = git.output().into();
        outcome.success();
    }
    dir
}

fn gitlab_ci_local(env: &Env, dir: &Path, args: &[String]) -> Outcome {
    let program = repo().join("tests/runners/gitlab/node_modules/.bin/gitlab-ci-local");
    assert!(
        program.exists(),
        "no gitlab-ci-local: run scripts/install-test-peers.sh"
    );
    let mut command = env.command(program.to_str().unwrap(), args);
    command.current_dir(dir).arg("--no-color");
    command.output().into()
}

/// One job's run: gitlab-ci-local's exit code, its log (`<job> > line`), what the probe saw.
struct JobRun {
    job: String,
    code: Option<i32>,
    log: String,
    probes: Vec<Value>,
}

impl JobRun {
    /// The job's own output lines, without gitlab-ci-local's `<job> > ` (its summary of
    /// a failed job repeats them under another prefix).
    fn lines(&self) -> Vec<&str> {
        let prefix = format!("{} > ", self.job);
        self.log
            .lines()
            .filter_map(|l| l.strip_prefix(&prefix))
            .collect()
    }

    #[track_caller]
    fn succeeded(&self) -> &Value {
        assert_eq!(self.code, Some(0), "{}", self.log);
        assert_eq!(self.probes.len(), 1, "{}", self.log);
        &self.probes[0]
    }

    /// Failed before any script line ran, with one `vault-ci: ` line holding `fragments`.
    #[track_caller]
    fn refused(&self, fragments: &[&str]) {
        assert_ne!(self.code, Some(0), "{}", self.log);
        assert!(self.probes.is_empty(), "a later line ran:\n{}", self.log);
        let errors: Vec<&str> = self
            .lines()
            .into_iter()
            .filter(|l| l.starts_with("vault-ci: "))
            .collect();
        assert_eq!(errors.len(), 1, "{errors:#?}\n{}", self.log);
        for fragment in fragments {
            assert!(errors[0].contains(fragment), "{fragment:?}:\n{}", self.log);
        }
    }
}

/// Runs `job` of `ci_yml` as GitLab would (see the module's doc), with `variables` as the
/// project's CI/CD variables; `token` changes how its id_tokens are minted.
fn run_job(env: &Env, name: &str, ci_yml: &str, job: &str, variables: &[(&str, String)]) -> JobRun {
    run_job_with(env, name, ci_yml, job, variables, &[])
}

fn run_job_with(
    env: &Env,
    name: &str,
    ci_yml: &str,
    job: &str,
    variables: &[(&str, String)],
    token: &[&str],
) -> JobRun {
    let dir = project(env, name, ci_yml);
    let preview = gitlab_ci_local(env, &dir, &["--preview".into()]);
    if preview.code != Some(0) {
        // GitLab refuses such a configuration before any job runs.
        return JobRun {
            job: job.into(),
            code: preview.code,
            log: format!("{}{}", preview.stdout, preview.stderr),
            probes: Vec::new(),
        };
    }
    let merged = env.write(&format!("{name}.preview.yml"), &preview.stdout);
    let script = "import json,sys,yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))";
    let config = env
        .run("python3", ["-c", script, merged.to_str().unwrap()])
        .json();
    let probe_out = env.path(&format!("{name}.probe"));
    let mut args: Vec<String> = vec![job.into(), "--force-shell-executor".into()];
    let mut variable = |name: &str, value: &str| {
        args.push("--variable".into());
        args.push(format!("{name}={value}"));
    };
    variable("GITLAB_CI", "true");
    variable("CI_PIPELINE_ID", "900");
    variable("CI_JOB_ID", "901");
    variable(
        "PROBE",
        &format!(
            "python3 {}",
            repo().join("tests/runners/probe.py").display()
        ),
    );
    variable("PROBE_OUT", probe_out.to_str().unwrap());
    if let Some(tokens) = config[job]["id_tokens"].as_object() {
        for (name, spec) in tokens {
            let aud = spec["aud"].as_str().expect("aud");
            variable(name, &gitlab_token(aud, token));
        }
    }
    for (name, value) in variables {
        variable(name, value);
    }
    let outcome = gitlab_ci_local(env, &dir, &args);
    let probes = std::fs::read_to_string(&probe_out)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    JobRun {
        job: job.into(),
        code: outcome.code,
        log: format!("{}{}", outcome.stdout, outcome.stderr),
        probes,
    }
}

/// How long the keys a probe saw were asked for: the recorded STS request that minted
/// them (STS's default when the request named none).
fn lifetime(sts: &Peer, probe: &Value) -> u64 {
    let key = probe["access_key_id"].as_str().expect("the probe had keys");
    let log = sts.log();
    let minted = log
        .iter()
        .find(|r| r["access_key_id"] == key)
        .unwrap_or_else(|| panic!("no STS answer minted {key}: {log:?}"));
    minted["duration"]
        .as_str()
        .map_or(3600, |d| d.parse().unwrap())
}

/// The fixture as written and converted, side by side: the same identity (the whole
/// session ARN, or with `same_session: false` the role, where the original's session name
/// is botocore's random one), region and lifetime.
fn side_by_side(fixture_name: &str, job: &str, variables: &[(&str, String)], same_session: bool) {
    let moto = moto();
    let sts = faulty_sts(&["--forward", &moto.endpoint()]);
    let env = runner(&sts);
    let written = run_job(
        &env,
        "as-written",
        &fixture(&format!("{fixture_name}.as-written.yml")),
        job,
        variables,
    );
    let converted = run_job(
        &env,
        "converted",
        &fixture(&format!("{fixture_name}.converted.yml")),
        job,
        variables,
    );
    let (before, after) = (written.succeeded(), converted.succeeded());
    let role = |probe: &Value| {
        let arn = probe["arn"].as_str().unwrap().to_string();
        assert!(arn.contains(":assumed-role/"), "{arn}");
        if same_session {
            arn
        } else {
            arn.rsplit_once('/').unwrap().0.to_string()
        }
    };
    assert_eq!(role(after), role(before), "identity");
    assert_eq!(after["region"], before["region"], "region");
    assert_eq!(lifetime(&sts, after), lifetime(&sts, before), "lifetime");
    assert_eq!(
        after["aws_profile"],
        Value::Null,
        "no profile is left to win"
    );
}

fn role_arn(name: &str) -> String {
    moto().role(name)
}

#[test]
fn gitlabs_documented_exchange_and_the_component_give_later_lines_the_same_session() {
    side_by_side(
        "docs-split",
        "assume role",
        &[
            ("ROLE_ARN", role_arn("gha-deploy")),
            ("AWS_DEFAULT_REGION", "eu-west-1".into()),
        ],
        true,
    );
}

#[test]
fn a_ci_job_jwt_v2_exchange_converts_with_the_gitlab_audience() {
    // GitLab < 17 put this token in every job, for its instance's audience.
    let old = gitlab_token("https://gitlab.com", &[]);
    side_by_side(
        "inline-jwt-v2",
        "assume role",
        &[
            ("CI_JOB_JWT_V2", old),
            ("AWS_DEFAULT_REGION", "eu-west-1".into()),
        ],
        true,
    );
}

#[test]
fn a_template_with_its_own_before_script_takes_the_component_by_reference() {
    side_by_side(
        "jq-template",
        "build_unifiedui",
        &[("AWS_ROLE_ARN", role_arn("gha-deploy"))],
        true,
    );
}

#[test]
fn a_profile_with_a_token_file_and_aws_profile_left_in_the_project_variables_keeps_working() {
    let variables = [
        ("ROLE_ARN", role_arn("gha-deploy")),
        ("AWS_PROFILE", "oidc".to_string()),
        ("AWS_DEFAULT_REGION", "eu-west-1".to_string()),
    ];
    side_by_side("profile-token-file", "pulumi-up", &variables, false);
    // And the converted job says, once, what to remove.
    let env = runner(moto());
    let ci_yml = fixture("profile-token-file.converted.yml");
    let run = run_job(&env, "converted", &ci_yml, "pulumi-up", &variables);
    run.succeeded();
    let told: Vec<&str> = run
        .lines()
        .into_iter()
        .filter(|l| l.contains("AWS_PROFILE"))
        .collect();
    assert_eq!(
        told,
        [
            "vault-ci: AWS_PROFILE=oidc is unset for this job (the credentials are in its environment): remove AWS_PROFILE from the job's or the project's variables"
        ],
        "{}",
        run.log
    );
}

#[test]
fn a_chained_assume_role_after_the_web_identity_is_the_chain_input() {
    side_by_side(
        "chained",
        "deploy",
        &[
            ("ROLE_ARN", role_arn("gha-deploy")),
            ("USER_ROLE", role_arn("cfn")),
        ],
        true,
    );
}

#[test]
fn credentials_read_into_a_bash_array_and_the_component_give_the_same_session() {
    side_by_side(
        "bash-array",
        "auth",
        &[
            ("ROLE_ARN", role_arn("gha-deploy")),
            ("AWS_DEFAULT_REGION", "eu-west-1".into()),
        ],
        true,
    );
}

#[test]
fn a_read_from_a_here_string_with_duration_and_session_from_variables_converts() {
    side_by_side(
        "read-herestring",
        "deploy",
        &[("PARAM_AWS_CLI_ROLE_ARN", role_arn("gha-deploy"))],
        true,
    );
}

const CONVERTED: &str = r#"
include:
  - component: gitlab.com/vault-ci/vault-ci/assume-role@<VERSION>
    inputs:
      role-arn: <ROLE_ARN>
      region: eu-west-1
deploy:
  extends: .vault-ci-assume-role
  script:
    - $PROBE
"#;

#[test]
fn inputs_are_typed_and_expanded_and_the_job_shell_keeps_the_credentials() {
    let env = runner(moto());
    let run = run_job(
        &env,
        "converted",
        &CONVERTED.replace("<ROLE_ARN>", "$DEPLOY_ROLE"),
        "deploy",
        &[("DEPLOY_ROLE", role_arn("gha-deploy"))],
    );
    let seen = run.succeeded();
    assert_eq!(seen["arn"], assumed_role("gha-deploy", "gitlab-900-901"));
    assert_eq!(seen["region"], "eu-west-1");
    // The component's vault-ci is the one on PATH, checked: nothing was downloaded.
    let using = format!("vault-ci install: Using vault-ci {VERSION} from ");
    assert!(
        run.lines().iter().any(|l| l.starts_with(&using)),
        "{}",
        run.log
    );

    // A duration that is no number is refused by GitLab's input types, before any job.
    let typed = CONVERTED.replace("region: eu-west-1", "duration: an hour");
    let run = run_job(&env, "typed", &typed, "deploy", &[]);
    assert_ne!(run.code, Some(0));
    assert!(run.probes.is_empty());
    assert!(
        run.log
            .contains("`duration` input: provided value is not a number"),
        "{}",
        run.log
    );
}

#[test]
fn without_vault_ci_on_the_image_the_component_installs_the_release_it_pins() {
    let mut env = runner(moto());
    env.set("PATH", path_without_vault_ci());
    let release = env.path("release");
    let assets = released_packaging(&env);
    let _ = assets;
    let download = release.join(format!("v{VERSION}"));
    std::fs::create_dir_all(&download).unwrap();
    for asset in std::fs::read_dir(env.path("dist/assets")).unwrap() {
        let asset = asset.unwrap().path();
        std::fs::copy(&asset, download.join(asset.file_name().unwrap())).unwrap();
    }
    let run = run_job(
        &env,
        "converted",
        &CONVERTED.replace("<ROLE_ARN>", &role_arn("gha-deploy")),
        "deploy",
        &[(
            "VAULT_CI_INSTALL_URL",
            format!("file://{}", release.display()),
        )],
    );
    let seen = run.succeeded();
    assert_eq!(seen["arn"], assumed_role("gha-deploy", "gitlab-900-901"));
    let installed = env.path("home/.local/bin/vault-ci");
    assert_eq!(
        std::fs::read(&installed).unwrap(),
        std::fs::read(env!("CARGO_BIN_EXE_vault-ci")).unwrap()
    );
}

#[test]
fn refresh_gives_the_job_a_renewing_endpoint_instead_of_keys() {
    let env = runner(moto());
    let ci_yml = CONVERTED
        .replace("<ROLE_ARN>", &role_arn("gha-deploy"))
        .replace(
            "region: eu-west-1",
            "region: eu-west-1\n      refresh: true",
        )
        + "    - test -z \"$AWS_ACCESS_KEY_ID\" && echo \"served at $AWS_CONTAINER_CREDENTIALS_FULL_URI\"\n    - vault-ci stop\n";
    let run = run_job(&env, "converted", &ci_yml, "deploy", &[]);
    let seen = run.succeeded();
    assert_eq!(seen["arn"], assumed_role("gha-deploy", "gitlab-900-901"));
    assert!(
        run.lines()
            .iter()
            .any(|l| l.starts_with("served at http://127.0.0.1:")),
        "{}",
        run.log
    );
}

// ── Hostile twins: a clear one-line error, and no script line runs ───────────────────

#[test]
fn a_job_that_references_the_before_script_without_extends_has_no_token_and_is_told() {
    let env = runner(moto());
    let ci_yml = CONVERTED
        .replace("<ROLE_ARN>", &role_arn("gha-deploy"))
        .replace(
            "  extends: .vault-ci-assume-role\n",
            "  before_script:\n    - !reference [.vault-ci-assume-role, before_script]\n",
        );
    let run = run_job(&env, "no-id-tokens", &ci_yml, "deploy", &[]);
    run.refused(&[
        "this job has the component's before_script without its id_tokens and inputs",
        "extends: .vault-ci-assume-role",
    ]);
}

#[test]
fn a_token_for_another_audience_is_named() {
    let env = runner(moto());
    // The job's own id_tokens override the component's audience.
    let ci_yml = CONVERTED.replace("<ROLE_ARN>", &role_arn("gha-deploy")).replace(
        "  extends: .vault-ci-assume-role\n",
        "  extends: .vault-ci-assume-role\n  id_tokens:\n    VAULT_CI_ID_TOKEN:\n      aud: https://gitlab.com\n",
    );
    let run = run_job(&env, "wrong-aud", &ci_yml, "deploy", &[]);
    run.refused(&["sts.amazonaws.com", "https://gitlab.com"]);
}

#[test]
fn an_expired_token_is_refused_before_sts() {
    let env = runner(moto());
    let ci_yml = CONVERTED.replace("<ROLE_ARN>", &role_arn("gha-deploy"));
    let run = run_job_with(
        &env,
        "expired",
        &ci_yml,
        "deploy",
        &[],
        &["--exp-in", "-60"],
    );
    run.refused(&["expired"]);
}

#[test]
fn an_input_with_shell_metacharacters_is_a_value_never_a_command() {
    let env = runner(moto());
    let hostile = r#"arn:aws:iam::123456789012:role/x"; touch pwned-quote; echo "$(touch pwned-subst)`touch pwned-tick`"#;
    let ci_yml = CONVERTED.replace("<ROLE_ARN>", &format!("'{}'", hostile.replace('\'', "''")));
    let run = run_job(&env, "metachars", &ci_yml, "deploy", &[]);
    run.refused(&["role"]);
    let project = env.path("metachars");
    for planted in ["pwned-quote", "pwned-subst", "pwned-tick"] {
        assert!(
            !project.join(planted).exists(),
            "{planted} ran:\n{}",
            run.log
        );
    }
}

#[test]
fn the_component_embeds_install_sh_as_it_is() {
    let env = Env::new();
    env.run(
        "python3",
        [
            repo().join("scripts/pin-digests.py").to_str().unwrap(),
            "embed",
            "--check",
        ],
    )
    .success();
}
