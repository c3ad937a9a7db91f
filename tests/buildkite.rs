//! The Buildkite plugin (buildkite/), side by side with the plugin it replaces,
//! aws-assume-role-with-web-identity (its real hooks, tests/peers/): each public step of
//! tests/fixtures/buildkite/ runs as the agent runs plugin hooks (tests/runners/buildkite.py),
//! once as written and once with the reference changed to `vault-ci/vault-ci#v0`, with the
//! same stand-in `buildkite-agent` (it mints the token and records its arguments) and the
//! same moto. Both must export the same variables, give the command the same identity and
//! ask the agent for the same session tags.
#![cfg(unix)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::harness::*;
use crate::packaging::{path_without_vault_ci, preinstalled, released_packaging};
use crate::providers::buildkite_token;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn original() -> PathBuf {
    repo().join("tests/peers/aws-assume-role-with-web-identity-buildkite-plugin")
}

/// A Buildkite job's agent: BUILDKITE=true, a job ID, the stand-in `buildkite-agent`,
/// this build's vault-ci on PATH (a verified one: the release's digest pinned), moto.
fn agent(sts: &Peer) -> Env {
    let mut env = Env::new();
    // The agent's machine has a region, as an Elastic CI Stack's has.
    env.set("AWS_ENDPOINT_URL", sts.endpoint())
        .set("AWS_DEFAULT_REGION", "us-east-1")
        .set("BUILDKITE", "true")
        .set("BUILDKITE_BUILD_NUMBER", "12")
        .set("BUILDKITE_JOB_ID", "0190a1b2-c3d4-4e5f-8a9b-0c1d2e3f4a5b");
    let bin = preinstalled(&env);
    env.set(
        "PATH",
        format!("{}:{}", bin.display(), path_without_vault_ci()),
    )
    .fake_cli("buildkite-agent", &buildkite_token("deploy", "main"));
    env
}

/// The step converted as its README says: the plugin reference changed, nothing else.
fn converted(step: &str) -> String {
    let mut out = String::new();
    for line in step.lines() {
        match line.find("aws-assume-role-with-web-identity#v1") {
            Some(at) => {
                let end = line[at..].find(':').map_or(line.len(), |e| at + e);
                out.push_str(&format!(
                    "{}vault-ci/vault-ci#v0{}",
                    &line[..at],
                    &line[end..]
                ));
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

struct StepRun {
    report: Value,
    agent_args: Vec<String>,
}

impl StepRun {
    fn exported(&self) -> BTreeSet<String> {
        self.report["env"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    }

    fn var(&self, name: &str) -> &str {
        self.report["env"][name]
            .as_str()
            .unwrap_or_else(|| panic!("{name} not exported:\n{}", self.report))
    }

    fn log(&self) -> &str {
        self.report["log"].as_str().unwrap()
    }

    #[track_caller]
    fn succeeded(&self) -> &Self {
        assert_eq!(self.report["result"], "success", "{}", self.report);
        self
    }

    /// Failed in its hook with one `vault-ci: ` line holding `fragments`, nothing exported.
    #[track_caller]
    fn refused(&self, fragments: &[&str]) {
        assert_eq!(self.report["result"], "failure", "{}", self.report);
        let errors: Vec<&str> = self
            .log()
            .lines()
            .filter(|l| l.starts_with("vault-ci: "))
            .collect();
        assert_eq!(errors.len(), 1, "{}", self.log());
        for fragment in fragments {
            assert!(errors[0].contains(fragment), "{fragment:?}: {}", errors[0]);
        }
        assert_eq!(self.report["env"], serde_json::json!({}), "{}", self.report);
    }
}

/// Runs `step` (with `command` added) with both plugins available, as the agent would.
fn run_step(env: &Env, name: &str, step: &str, command: &str) -> StepRun {
    let file = env.write(
        &format!("{name}.step.yml"),
        &format!(
            "{step}command: {}\n",
            serde_json::to_string(command).unwrap()
        ),
    );
    let ours = released_packaging(env).join("buildkite");
    let report = env
        .run(
            "python3",
            [
                repo().join("tests/runners/buildkite.py").to_str().unwrap(),
                "bootstrap",
                file.to_str().unwrap(),
                "--plugin",
                &format!("aws-assume-role-with-web-identity={}", original().display()),
                "--plugin",
                &format!("vault-ci={}", ours.display()),
            ],
        )
        .json();
    let agent_args = env.fake_cli_args("buildkite-agent");
    let _ = std::fs::remove_file(env.path("buildkite-agent.args"));
    StepRun { report, agent_args }
}

const WHO: &str = "aws sts get-caller-identity --query Arn --output text";

fn side_by_side(fixture: &str, command: &str) -> (StepRun, StepRun) {
    let env = agent(moto());
    let step =
        std::fs::read_to_string(repo().join("tests/fixtures/buildkite").join(fixture)).unwrap();
    let written = run_step(&env, "as-written", &step, command);
    let ours = run_step(&env, "converted", &converted(&step), command);
    written.succeeded();
    ours.succeeded();
    // The same variables, plus the expiry vault-ci adds (prefixed like the keys).
    let prefix = written
        .exported()
        .iter()
        .find_map(|n| n.strip_suffix("AWS_ACCESS_KEY_ID").map(str::to_string))
        .expect("the original exported keys");
    let mut expected = written.exported();
    expected.insert(format!("{prefix}AWS_CREDENTIAL_EXPIRATION"));
    assert_eq!(
        ours.exported(),
        expected,
        "{}\n{}",
        written.report,
        ours.report
    );
    for region in ["AWS_REGION", "AWS_DEFAULT_REGION"] {
        assert_eq!(
            ours.report["env"][region], written.report["env"][region],
            "{region}"
        );
    }
    // The command's identity: the last line it printed.
    let arn = |run: &StepRun| run.log().lines().last().unwrap_or_default().to_string();
    assert!(
        arn(&written).contains(":assumed-role/"),
        "{}",
        written.log()
    );
    assert_eq!(arn(&ours), arn(&written));
    // The same session tags asked of the agent, in the same words.
    let tags = |run: &StepRun| {
        run.agent_args
            .iter()
            .position(|a| a == "--aws-session-tag")
            .map(|i| run.agent_args[i + 1].clone())
    };
    assert_eq!(tags(&ours), tags(&written));
    (written, ours)
}

#[test]
fn buildkites_own_role_arn_spelling_with_session_tags_is_a_one_line_change() {
    let (written, ours) = side_by_side("agent-lint.yml", WHO);
    assert_eq!(
        ours.agent_args,
        [
            "oidc",
            "request-token",
            "--audience",
            "sts.amazonaws.com",
            "--aws-session-tag",
            "organization_slug,organization_id,pipeline_slug"
        ]
    );
    assert_eq!(ours.agent_args, written.agent_args);
    assert!(
        ours.log().lines().last().unwrap().ends_with(
            ":assumed-role/pipeline-buildkite-agent/buildkite-job-0190a1b2-c3d4-4e5f-8a9b-0c1d2e3f4a5b"
        ),
        "{}",
        ours.log()
    );
}

#[test]
fn the_documented_ssm_step_keeps_the_steps_region_and_asks_for_the_same_tags() {
    let (_, ours) = side_by_side("docs-ssm.yml", WHO);
    // Neither touches the region the step set.
    assert!(
        ours.report["env"]["AWS_REGION"].is_null(),
        "{}",
        ours.report
    );
}

#[test]
fn every_documented_option_prefix_region_session_and_pre_command_hook_alike() {
    let prefixed = "AWS_ACCESS_KEY_ID=$MY_PREFIX_AWS_ACCESS_KEY_ID \
        AWS_SECRET_ACCESS_KEY=$MY_PREFIX_AWS_SECRET_ACCESS_KEY \
        AWS_SESSION_TOKEN=$MY_PREFIX_AWS_SESSION_TOKEN aws sts get-caller-identity --query Arn --output text";
    let (written, ours) = side_by_side("readme-options.yml", prefixed);
    assert_eq!(ours.var("AWS_REGION"), "eu-west-1");
    assert_eq!(ours.var("AWS_DEFAULT_REGION"), "eu-west-1");
    assert!(ours.report["env"]["AWS_ACCESS_KEY_ID"].is_null());
    assert!(
        ours.log()
            .lines()
            .last()
            .unwrap()
            .ends_with(":assumed-role/example-role/deploy-job"),
        "{}",
        ours.log()
    );
    // Both ran in the pre-command hook: the environment hook passed.
    assert!(written.log().contains("Skipping environment hook"));
}

const STEP: &str = r#"label: deploy
plugins:
  - vault-ci/vault-ci#v0:
      role-arn: <ROLE>
"#;

#[test]
fn the_extras_chain_allowed_accounts_and_refresh_work_in_a_step() {
    let env = agent(moto());
    let step = STEP.replace("<ROLE>", &moto().role("gha-deploy"))
        + &format!(
            "      chain: {}\n      allowed-account-ids: [\"{ACCOUNT}\"]\n",
            moto().role("cfn")
        );
    let run = run_step(&env, "chain", &step, WHO);
    run.succeeded();
    assert!(
        run.log()
            .lines()
            .last()
            .unwrap()
            .contains(":assumed-role/cfn/"),
        "{}",
        run.log()
    );

    let other = STEP.replace("<ROLE>", &moto().role("gha-deploy"))
        + "      allowed-account-ids: 210987654321\n";
    run_step(&env, "allowed", &other, WHO).refused(&["210987654321"]);

    let refresh = STEP.replace("<ROLE>", &moto().role("gha-deploy")) + "      refresh: true\n";
    let run = run_step(
        &env,
        "refresh",
        &refresh,
        &format!("test -z \"$AWS_ACCESS_KEY_ID\" && {WHO} && vault-ci stop"),
    );
    run.succeeded();
    assert!(
        run.var("AWS_CONTAINER_CREDENTIALS_FULL_URI")
            .starts_with("http://127.0.0.1:")
    );
}

// ── Hostile twins: one line, nothing exported ───────────────────────────────────────

#[test]
fn an_option_with_a_line_break_is_refused_and_nothing_is_exported() {
    let env = agent(moto());
    for (option, value) in [
        ("region", "\"eu-west-1\\nexport AWS_PROFILE=x\""),
        ("role-arn", "\"arn:aws:iam::123456789012:role/a\\nb\""),
        ("role-session-name", "\"a\\rb\""),
    ] {
        let role = match option {
            "role-arn" => String::new(),
            _ => format!("      role-arn: {}\n", moto().role("gha-deploy")),
        };
        let step = format!(
            "label: x\nplugins:\n  - vault-ci/vault-ci#v0:\n{role}      {option}: {value}\n"
        );
        let run = run_step(&env, option, &step, WHO);
        run.refused(&[&format!("the {option} option has a line break in it")]);
    }
}

#[test]
fn an_expired_token_or_an_agent_that_cannot_mint_is_refused_before_sts() {
    let mut env = agent(moto());
    let expired = mint_token(&[
        "--iss",
        "https://agent.buildkite.com",
        "--aud",
        "sts.amazonaws.com",
        "--exp-in",
        "-60",
    ]);
    env.fake_cli("buildkite-agent", &expired);
    let step = STEP.replace("<ROLE>", &moto().role("gha-deploy"));
    run_step(&env, "expired", &step, WHO).refused(&["expired"]);

    // An agent without OIDC (an old one, or a job token without the permission).
    std::fs::write(
        env.path("bin/buildkite-agent"),
        "#!/bin/sh\necho 'fatal: failed to get OIDC token: 403 Forbidden' >&2\nexit 1\n",
    )
    .unwrap();
    run_step(&env, "agent", &step, WHO)
        .refused(&["`buildkite-agent oidc …` failed", "403 Forbidden"]);
}

#[test]
fn a_missing_role_a_string_of_tags_and_an_unknown_option_are_named() {
    let env = agent(moto());
    let no_role = "label: x\nplugins:\n  - vault-ci/vault-ci#v0:\n      region: eu-west-1\n";
    run_step(&env, "no-role", no_role, WHO).refused(&["the role-arn option is missing"]);
    let tags = STEP.replace("<ROLE>", &moto().role("gha-deploy"))
        + "      session-tags: organization_slug\n";
    run_step(&env, "tags", &tags, WHO).refused(&["session-tags option is a string"]);
    let unknown = STEP.replace("<ROLE>", &moto().role("gha-deploy")) + "      rolearn: x\n";
    run_step(&env, "unknown", &unknown, WHO).refused(&["no option rolearn"]);
}

#[test]
fn the_plugins_schema_takes_both_spellings_and_refuses_what_the_hook_refuses() {
    let env = Env::new();
    let plugin = repo().join("buildkite/plugin.yml");
    let script = r#"
import json, sys, yaml, jsonschema
schema = yaml.safe_load(open(sys.argv[1]))["configuration"]
jsonschema.Draft7Validator.check_schema(schema)
valid = jsonschema.Draft7Validator(schema)
for config in json.loads(sys.argv[2]):
    print("ok" if valid.is_valid(config) else "refused")
"#;
    let configs = serde_json::json!([
        {"role-arn": "arn:aws:iam::1:role/a", "session-tags": ["organization_slug"]},
        {"role_arn": "arn:aws:iam::1:role/a", "role_session_duration": 1800, "credential_name_prefix": "P_"},
        {"role-arn": "arn:aws:iam::1:role/a", "region": "eu-west-1\nx"},
        {"region": "eu-west-1"},
        {"role-arn": "arn:aws:iam::1:role/a", "session-tags": "organization_slug"},
        {"role-arn": "arn:aws:iam::1:role/a", "hook": "post-command"},
        {"role-arn": "arn:aws:iam::1:role/a", "refresh": true, "chain": "cfn", "allowed-account-ids": ["123456789012"]},
    ]);
    let out = env.run(
        "python3",
        ["-c", script, plugin.to_str().unwrap(), &configs.to_string()],
    );
    out.success();
    assert_eq!(
        out.stdout.lines().collect::<Vec<_>>(),
        ["ok", "ok", "refused", "refused", "refused", "refused", "ok"]
    );
}
