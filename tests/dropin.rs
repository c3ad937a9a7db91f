//! vault-ci as a drop-in replacement for aws-actions/configure-aws-credentials 6.2.3
//! ("CAC"): each test is a job as a user writes it, run once with CAC and once with
//! `uses: vault-ci/vault-ci@main`, against the same peers, by tests/runners/dropin.py.
//! It compares what a workflow can see — which steps failed, the later step's
//! identity, the exported variables, the outputs, the profile files, the STS role
//! requests, the credential lifetime, what reached the log — after the documented
//! normalisations listed in dropin.py (NORMALISATIONS), and nothing else.
//!
//! The scenarios' placeholders (`<sts>`, `<role:deploy>`, `<deploy-user-key>`, …)
//! are described in dropin.py. `<sts>` is what both tools get as `sts-endpoint`: a
//! recorder in front of moto. Each test also checks that CAC did what the scenario is
//! about, so that agreeing cannot mean that both did nothing.
//!
//! By hand: put a scenario (the YAML of a test) in a file and run
//! `python3 tests/runners/dropin.py FILE --vault-ci target/debug/vault-ci --keep DIR`:
//! it starts the peers itself, prints the report, and leaves both jobs (`DIR/cac/job.json`,
//! `DIR/vault-ci/job.json`) and their HOME, workspace and RUNNER_TEMP in DIR.
#![cfg(unix)]

use std::path::Path;

use serde_json::{Map, Value};

use crate::harness::*;

/// What dropin.py found.
struct Report(Value);

impl Report {
    /// What was compared of vault-ci's run.
    fn vault_ci(&self, key: &str) -> &Value {
        &self.0["compared"]["vault-ci"][key]
    }

    /// What was compared of CAC's run, e.g. `cac("caller ARN of the later step")`.
    fn cac(&self, key: &str) -> &Value {
        &self.0["compared"]["cac"][key]
    }

    fn cac_request(&self, n: usize) -> &Value {
        &self.cac("STS role requests")[n]
    }
}

/// The peers a scenario needs, as their ready lines.
fn peers(scenario: &str) -> Value {
    let mut peers = Map::new();
    if scenario.contains("sts: moto-auth") {
        peers.insert("moto-auth".into(), moto_auth().info.clone());
    } else {
        peers.insert("moto".into(), moto().info.clone());
    }
    if scenario.contains("id-token: write") || scenario.contains("<oidc-token>") {
        peers.insert("github".into(), github().info.clone());
    }
    if scenario.contains("<proxy>") {
        peers.insert("proxy".into(), proxy().info.clone());
    }
    Value::Object(peers)
}

fn compare(scenario: &str) -> Report {
    let env = Env::new();
    let file = env.write("scenario.yml", scenario);
    let runner = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/runners/dropin.py");
    let out = env.run(
        "python3",
        [
            runner.display().to_string(),
            file.display().to_string(),
            "--peers".into(),
            peers(scenario).to_string(),
            "--vault-ci".into(),
            env!("CARGO_BIN_EXE_vault-ci").into(),
            // The action as its release leaves it: this build's digest pinned in install.sh.
            "--action".into(),
            crate::packaging::released_packaging(&env)
                .display()
                .to_string(),
            "--keep".into(),
            env.path("runs").display().to_string(),
        ],
    );
    assert!(
        matches!(out.code, Some(0 | 1)),
        "dropin.py could not run the scenario:\n{out}"
    );
    Report(
        serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("dropin.py's report is not JSON ({e}):\n{out}")),
    )
}

/// Runs the scenario under both tools; they must agree.
#[track_caller]
fn assert_drop_in(scenario: &str) -> Report {
    let report = compare(scenario);
    if report.0["agree"] != true {
        let list = |key: &str| -> String {
            let items: Vec<String> = report.0[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| format!("  - {}\n", d.as_str().unwrap()))
                .collect();
            items.concat()
        };
        let run = |tool: &str| {
            let errors = report.0[tool]["errors"].as_array().unwrap();
            format!(
                "--- {tool}: steps {}{}\n{}\n",
                report.0[tool]["steps"],
                if errors.is_empty() {
                    String::new()
                } else {
                    format!(", errors {}", Value::Array(errors.clone()))
                },
                report.0[tool]["log"].as_str().unwrap()
            )
        };
        panic!(
            "vault-ci does not do what configure-aws-credentials does:\n{}\n\
             (after these normalisations:\n{}and by these rules:\n{})\n{}{}",
            list("differences"),
            list("normalisations"),
            list("comparison_rules"),
            run("cac"),
            run("vault-ci"),
        );
    }
    report
}

#[track_caller]
fn assert_cac_succeeded(report: &Report) {
    assert_eq!(
        report.cac("steps").as_array().unwrap().last().unwrap(),
        "success",
        "{}",
        report.0["cac"]["log"]
    );
}

#[track_caller]
fn assert_cac_failed(report: &Report) {
    assert_eq!(
        report.cac("steps").as_array().unwrap().last().unwrap(),
        "failure",
        "{}",
        report.0["cac"]["log"]
    );
}

fn role_session(role: &str) -> String {
    format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role}/<default>")
}

// ── The combinations users write ────────────────────────────────────────────

#[test]
fn keys_only_are_exported_and_checked() {
    let report = assert_drop_in(
        r#"
sts: moto-auth
with:
  aws-region: us-east-1
  aws-access-key-id: <deploy-user-key>
  aws-secret-access-key: <deploy-user-secret>
  sts-endpoint: <sts>
"#,
    );
    assert_eq!(
        report.cac("caller ARN of the later step"),
        &format!("arn:aws:iam::{ACCOUNT}:user/deploy-user")
    );
}

#[test]
fn keys_and_a_role_export_the_role_session() {
    let report = assert_drop_in(
        r#"
sts: moto-auth
with:
  aws-region: us-east-1
  aws-access-key-id: <deploy-user-key>
  aws-secret-access-key: <deploy-user-secret>
  role-to-assume: <role:deploy>
  sts-endpoint: <sts>
"#,
    );
    assert_eq!(
        report.cac("caller ARN of the later step"),
        &role_session("deploy")
    );
}

#[test]
fn a_role_name_with_keys_is_completed_with_their_account() {
    let report = assert_drop_in(
        r#"
sts: moto-auth
with:
  aws-region: us-east-1
  aws-access-key-id: <deploy-user-key>
  aws-secret-access-key: <deploy-user-secret>
  role-to-assume: deploy
  sts-endpoint: <sts>
"#,
    );
    assert_eq!(
        report.cac_request(0)["RoleArn"],
        format!("arn:aws:iam::{ACCOUNT}:role/deploy")
    );
}

#[test]
fn oidc_and_a_role_export_the_role_session() {
    let report = assert_drop_in(
        r#"
permissions: {id-token: write}
with:
  aws-region: us-east-1
  role-to-assume: <role:gha-deploy>
  sts-endpoint: <sts>
"#,
    );
    assert_eq!(
        report.cac("caller ARN of the later step"),
        &role_session("gha-deploy")
    );
    assert_eq!(report.cac_request(0)["Action"], "AssumeRoleWithWebIdentity");
}

#[test]
fn role_chaining_from_an_earlier_step_assumes_the_next_role() {
    // configure-aws-credentials' two-step pattern: keys into deploy, then deploy into cfn.
    let report = assert_drop_in(
        r#"
sts: moto-auth
steps:
  - uses: ACTION
    with:
      aws-region: us-east-1
      aws-access-key-id: <deploy-user-key>
      aws-secret-access-key: <deploy-user-secret>
      role-to-assume: <role:deploy>
      sts-endpoint: <sts>
  - uses: ACTION
    with:
      aws-region: us-east-1
      role-chaining: true
      role-to-assume: <role:cfn>
      role-session-name: second-hop
      sts-endpoint: <sts>
"#,
    );
    assert_eq!(
        report.cac("caller ARN of the later step"),
        &assumed_role("cfn", "second-hop")
    );
}

#[test]
fn oidc_then_role_chaining_in_a_second_step() {
    let report = assert_drop_in(
        r#"
permissions: {id-token: write}
steps:
  - uses: ACTION
    with:
      aws-region: us-east-1
      role-to-assume: <role:gha-deploy>
      sts-endpoint: <sts>
  - uses: ACTION
    with:
      aws-region: us-east-1
      role-chaining: true
      role-to-assume: <role:cfn>
      sts-endpoint: <sts>
"#,
    );
    assert_eq!(
        report.cac("caller ARN of the later step"),
        &role_session("cfn")
    );
}

#[test]
fn a_session_token_is_exported_with_the_keys() {
    // Temporary keys from an earlier step, as a user would pass them from secrets.
    let report = assert_drop_in(
        r#"
sts: moto-auth
steps:
  - id: temp
    env:
      AWS_ACCESS_KEY_ID: <deploy-user-key>
      AWS_SECRET_ACCESS_KEY: <deploy-user-secret>
      AWS_DEFAULT_REGION: us-east-1
      AWS_ENDPOINT_URL_STS: <moto>
    run: |
      read -r key secret token < <(aws sts assume-role --role-arn <role:deploy> --role-session-name temp \
        --query 'Credentials.[AccessKeyId,SecretAccessKey,SessionToken]' --output text)
      echo "::add-mask::$secret"
      echo "::add-mask::$token"
      printf 'key=%s\nsecret=%s\ntoken=%s\n' "$key" "$secret" "$token" >> "$GITHUB_OUTPUT"
  - uses: ACTION
    with:
      aws-region: us-east-1
      aws-access-key-id: ${{ steps.temp.outputs.key }}
      aws-secret-access-key: ${{ steps.temp.outputs.secret }}
      aws-session-token: ${{ steps.temp.outputs.token }}
      sts-endpoint: <sts>
"#,
    );
    assert_eq!(
        report.cac("caller ARN of the later step"),
        &assumed_role("deploy", "temp")
    );
    assert_eq!(report.cac("exported")["AWS_SESSION_TOKEN"], "<set>");
}

#[test]
fn the_china_partition_with_its_audience() {
    // moto keeps web-identity sessions in the aws partition whatever the region, so its
    // GetCallerIdentity in cn-north-1 answers with a placeholder identity: what is
    // compared here is what each tool asks of STS and exports.
    let report = assert_drop_in(
        r#"
permissions: {id-token: write}
with:
  aws-region: cn-north-1
  role-to-assume: arn:aws-cn:iam::<account>:role/gha-deploy
  audience: sts.amazonaws.com.cn
  sts-endpoint: <sts>
"#,
    );
    let request = report.cac_request(0);
    assert_eq!(
        request["RoleArn"],
        format!("arn:aws-cn:iam::{ACCOUNT}:role/gha-deploy")
    );
    assert_eq!(request["WebIdentityToken"]["aud"], "sts.amazonaws.com.cn");
    assert_eq!(report.cac("exported")["AWS_REGION"], "cn-north-1");
}

#[test]
fn mixed_case_booleans_are_booleans() {
    // Quoted, as from `${{ vars.X }}`; a plain `True` is a YAML boolean to GitHub already.
    let report = assert_drop_in(
        r#"
permissions: {id-token: write}
with:
  aws-region: us-east-1
  role-to-assume: <role:gha-deploy>
  output-credentials: 'True'
  mask-aws-account-id: 'FALSE'
  role-chaining: 'False'
  unset-current-credentials: True
  sts-endpoint: <sts>
"#,
    );
    assert_cac_succeeded(&report);
    assert_eq!(
        report.cac("outputs")["aws-access-key-id"],
        "= AWS_ACCESS_KEY_ID"
    );
    assert_eq!(report.0["cac"]["account_in_log"], true);
}

#[test]
fn an_invalid_boolean_fails_in_both() {
    // `yes` is a string in YAML 1.2, which is how GitHub reads the workflow.
    let report = assert_drop_in(
        r#"
permissions: {id-token: write}
with:
  aws-region: us-east-1
  role-to-assume: <role:gha-deploy>
  output-credentials: yes
  sts-endpoint: <sts>
"#,
    );
    assert_cac_failed(&report);
}

#[test]
fn aws_region_from_the_job_env_when_the_input_is_empty() {
    let report = assert_drop_in(
        r#"
permissions: {id-token: write}
env:
  AWS_REGION: eu-central-1
with:
  role-to-assume: <role:gha-deploy>
  sts-endpoint: <sts>
"#,
    );
    assert_eq!(report.cac("exported")["AWS_DEFAULT_REGION"], "eu-central-1");
}

// ── One per input ───────────────────────────────────────────────────────────

#[test]
fn aws_region_is_exported_for_later_steps() {
    let report = assert_drop_in(
        r#"
permissions: {id-token: write}
with:
  aws-region: eu-west-1
  role-to-assume: <role:gha-deploy>
  sts-endpoint: <sts>
"#,
    );
    assert_eq!(report.cac("exported")["AWS_REGION"], "eu-west-1");
    assert_eq!(report.cac("exported")["AWS_DEFAULT_REGION"], "eu-west-1");
}

/// A difference the README lists: the same job, and each tool does what the test says.
fn assert_deliberate_difference(scenario: &str) -> Report {
    let report = compare(scenario);
    assert_eq!(
        report.0["agree"], false,
        "the difference is gone: update the README's list"
    );
    report
}

#[test]
fn without_aws_region_cac_fails_and_vault_ci_exports_no_region() {
    // Listed in the README: vault-ci needs no region (STS's global partition defaults to
    // us-east-1) and exports none, so later tools keep their own.
    let report = assert_deliberate_difference(
        r#"
permissions: {id-token: write}
with:
  role-to-assume: <role:gha-deploy>
  sts-endpoint: <sts>
"#,
    );
    assert_cac_failed(&report);
    assert_eq!(report.vault_ci("steps"), &serde_json::json!(["success"]));
    assert_eq!(report.vault_ci("exported").get("AWS_REGION"), None);
}

#[test]
fn an_access_key_without_its_secret_fails_in_both() {
    let report = assert_drop_in(
        r#"
sts: moto-auth
with:
  aws-region: us-east-1
  aws-access-key-id: <deploy-user-key>
  role-to-assume: <role:deploy>
  sts-endpoint: <sts>
"#,
    );
    assert_cac_failed(&report);
}

#[test]
fn web_identity_token_file_is_exchanged_for_the_role() {
    // No `id-token: write`: the token comes from a file in the workspace.
    let report = assert_drop_in(
        r#"
files:
  token: <oidc-token>
with:
  aws-region: us-east-1
  role-to-assume: <role:gha-deploy>
  web-identity-token-file: token
  sts-endpoint: <sts>
"#,
    );
    assert_eq!(
        report.cac("caller ARN of the later step"),
        &role_session("gha-deploy")
    );
    assert_eq!(report.cac_request(0)["Action"], "AssumeRoleWithWebIdentity");
}

#[test]
fn audience_is_the_oidc_tokens_audience() {
    let report = assert_drop_in(
        r#"
permissions: {id-token: write}
with:
  aws-region: us-east-1
  role-to-assume: <role:gha-deploy>
  audience: my-aws-audience
  sts-endpoint: <sts>
"#,
    );
    assert_eq!(
        report.cac_request(0)["WebIdentityToken"]["aud"],
        "my-aws-audience"
    );
}

#[test]
fn http_proxy_carries_the_sts_requests() {
    let report = assert_drop_in(
        r#"
permissions: {id-token: write}
with:
  aws-region: us-east-1
  role-to-assume: <role:gha-deploy>
  http-proxy: <proxy>
  sts-endpoint: <sts>
"#,
    );
    assert_eq!(report.cac("STS through the proxy"), true);
}

#[test]
fn no_proxy_star_sends_sts_around_the_proxy() {
    let report = assert_drop_in(
        r#"
permissions: {id-token: write}
with:
  aws-region: us-east-1
  role-to-assume: <role:gha-deploy>
  http-proxy: <proxy>
  no-proxy: '*'
  sts-endpoint: <sts>
"#,
    );
    assert_eq!(report.cac("STS through the proxy"), false);
    assert_cac_succeeded(&report);
}

#[test]
fn no_proxy_for_other_hosts_keeps_the_proxy() {
    let report = assert_drop_in(
        r#"
permissions: {id-token: write}
with:
  aws-region: us-east-1
  role-to-assume: <role:gha-deploy>
  http-proxy: <proxy>
  no-proxy: example.com,.internal
  sts-endpoint: <sts>
"#,
    );
    assert_eq!(report.cac("STS through the proxy"), true);
}

#[test]
fn mask_aws_account_id_keeps_the_account_out_of_the_log() {
    let report = assert_drop_in(
        r#"
permissions: {id-token: write}
with:
  aws-region: us-east-1
  role-to-assume: <role:gha-deploy>
  mask-aws-account-id: true
  sts-endpoint: <sts>
"#,
    );
    assert_eq!(report.cac("account id in the log"), false);
    assert_cac_succeeded(&report);
}

#[test]
fn role_duration_seconds_sets_the_lifetime() {
    let report = assert_drop_in(
        r#"
permissions: {id-token: write}
with:
  aws-region: us-east-1
  role-to-assume: <role:gha-deploy>
  role-duration-seconds: 1800
  output-credentials: true
  sts-endpoint: <sts>
"#,
    );
    assert_eq!(report.cac("lifetime (s, to the minute)"), 1800);
    assert_eq!(report.cac_request(0)["DurationSeconds"], "1800");
}

#[test]
fn role_external_id_is_sent_with_assume_role() {
    let report = assert_drop_in(
        r#"
sts: moto-auth
with:
  aws-region: us-east-1
  aws-access-key-id: <deploy-user-key>
  aws-secret-access-key: <deploy-user-secret>
  role-to-assume: <role:deploy>
  role-external-id: ext-4d2f
  sts-endpoint: <sts>
"#,
    );
    assert_eq!(report.cac_request(0)["ExternalId"], "ext-4d2f");
}

#[test]
fn role_session_name_names_the_session() {
    let report = assert_drop_in(
        r#"
permissions: {id-token: write}
with:
  aws-region: us-east-1
  role-to-assume: <role:gha-deploy>
  role-session-name: deploy-42
  sts-endpoint: <sts>
"#,
    );
    assert_eq!(
        report.cac("caller ARN of the later step"),
        &assumed_role("gha-deploy", "deploy-42")
    );
}

#[test]
fn role_skip_session_tagging_sends_no_tags() {
    let report = assert_drop_in(
        r#"
sts: moto-auth
with:
  aws-region: us-east-1
  aws-access-key-id: <deploy-user-key>
  aws-secret-access-key: <deploy-user-secret>
  role-to-assume: <role:deploy>
  role-skip-session-tagging: true
  sts-endpoint: <sts>
"#,
    );
    assert_eq!(report.cac_request(0)["Action"], "AssumeRole");
    assert!(report.cac_request(0).get("Tags").is_none());
}

#[test]
fn transitive_tag_keys_make_session_tags_transitive() {
    let report = assert_drop_in(
        r#"
sts: moto-auth
with:
  aws-region: us-east-1
  aws-access-key-id: <deploy-user-key>
  aws-secret-access-key: <deploy-user-secret>
  role-to-assume: <role:deploy>
  transitive-tag-keys: |
    Repository
    Workflow
  sts-endpoint: <sts>
"#,
    );
    assert_eq!(
        report.cac_request(0)["TransitiveTagKeys"],
        serde_json::json!(["Repository", "Workflow"])
    );
}

#[test]
fn a_transitive_key_that_is_no_tag_is_refused_where_cac_drops_it() {
    // Listed in the README: nothing is silently ignored.
    let report = assert_deliberate_difference(
        r#"
sts: moto-auth
with:
  aws-region: us-east-1
  aws-access-key-id: <deploy-user-key>
  aws-secret-access-key: <deploy-user-secret>
  role-to-assume: <role:deploy>
  transitive-tag-keys: |
    Repository
    NotATag
  sts-endpoint: <sts>
"#,
    );
    assert_cac_succeeded(&report);
    assert_eq!(report.vault_ci("steps"), &serde_json::json!(["failure"]));
    assert!(
        report.0["vault-ci"]["log"].as_str().unwrap().contains(
            "--transitive-tag-key (from the input transitive-tag-keys, \
                 VAULT_CI_TRANSITIVE_TAG_KEY) NotATag is not one of the session's tags"
        ),
        "the refusal names the input the value came from"
    );
    assert_eq!(report.vault_ci("STS role requests"), &serde_json::json!([]));
}

#[test]
fn inline_session_policy_is_sent_as_the_session_policy() {
    let report = assert_drop_in(
        r#"
permissions: {id-token: write}
with:
  aws-region: us-east-1
  role-to-assume: <role:gha-deploy>
  inline-session-policy: >-
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
    "Action": "s3:GetObject", "Resource": "arn:aws:s3:::artifacts/*"}]}
  sts-endpoint: <sts>
"#,
    );
    assert_eq!(
        report.cac_request(0)["Policy"]["Statement"][0]["Action"],
        "s3:GetObject"
    );
}

#[test]
fn managed_session_policies_are_sent_one_per_line() {
    let report = assert_drop_in(
        r#"
permissions: {id-token: write}
with:
  aws-region: us-east-1
  role-to-assume: <role:gha-deploy>
  managed-session-policies: |
    arn:aws:iam::aws:policy/ReadOnlyAccess
    arn:aws:iam::<account>:policy/deploy-boundary
  sts-endpoint: <sts>
"#,
    );
    assert_eq!(
        report.cac_request(0)["PolicyArns"],
        serde_json::json!([
            "arn:aws:iam::aws:policy/ReadOnlyAccess",
            format!("arn:aws:iam::{ACCOUNT}:policy/deploy-boundary")
        ])
    );
}

#[test]
fn output_credentials_sets_the_credential_outputs() {
    let report = assert_drop_in(
        r#"
permissions: {id-token: write}
with:
  aws-region: us-east-1
  role-to-assume: <role:gha-deploy>
  output-credentials: true
  sts-endpoint: <sts>
"#,
    );
    let outputs = report.cac("outputs");
    assert_eq!(outputs["aws-session-token"], "= AWS_SESSION_TOKEN");
    assert_eq!(outputs["aws-expiration"], "<instant>");
}

#[test]
fn output_env_credentials_false_leaves_the_environment_alone() {
    let report = assert_drop_in(
        r#"
permissions: {id-token: write}
with:
  aws-region: us-east-1
  role-to-assume: <role:gha-deploy>
  output-env-credentials: false
  output-credentials: true
  sts-endpoint: <sts>
"#,
    );
    assert_eq!(report.cac("exported"), &serde_json::json!({}));
    assert_eq!(report.cac("outputs")["aws-access-key-id"], "<set>");
}

#[test]
fn unset_current_credentials_replaces_what_an_earlier_step_exported() {
    let report = assert_drop_in(
        r#"
permissions: {id-token: write}
steps:
  - run: |
      echo "AWS_ACCESS_KEY_ID=AKIASTALESTALESTALE1" >> "$GITHUB_ENV"
      echo "AWS_SECRET_ACCESS_KEY=stale-secret" >> "$GITHUB_ENV"
      echo "AWS_SESSION_TOKEN=stale-token" >> "$GITHUB_ENV"
      echo "AWS_REGION=ap-south-1" >> "$GITHUB_ENV"
  - uses: ACTION
    with:
      aws-region: us-east-1
      role-to-assume: <role:gha-deploy>
      unset-current-credentials: true
      sts-endpoint: <sts>
"#,
    );
    assert_eq!(
        report.cac("caller ARN of the later step"),
        &role_session("gha-deploy")
    );
}

#[test]
fn transient_sts_errors_are_retried_by_default() {
    let report = assert_drop_in(
        r#"
permissions: {id-token: write}
sts-faults: ["503:ServiceUnavailable", "503:ServiceUnavailable", "503:ServiceUnavailable"]
with:
  aws-region: us-east-1
  role-to-assume: <role:gha-deploy>
  sts-endpoint: <sts>
"#,
    );
    assert_cac_succeeded(&report);
}

#[test]
fn disable_retry_gives_up_on_transient_errors() {
    // CAC's SDK still makes three attempts; the action adds none.
    let report = assert_drop_in(
        r#"
permissions: {id-token: write}
sts-faults: ["503:ServiceUnavailable", "503:ServiceUnavailable", "503:ServiceUnavailable"]
with:
  aws-region: us-east-1
  role-to-assume: <role:gha-deploy>
  disable-retry: true
  sts-endpoint: <sts>
"#,
    );
    assert_cac_failed(&report);
}

#[test]
fn retry_max_attempts_one_fails_on_three_transient_errors() {
    let report = assert_drop_in(
        r#"
permissions: {id-token: write}
sts-faults: ["503:ServiceUnavailable", "503:ServiceUnavailable", "503:ServiceUnavailable"]
with:
  aws-region: us-east-1
  role-to-assume: <role:gha-deploy>
  retry-max-attempts: 1
  sts-endpoint: <sts>
"#,
    );
    assert_cac_failed(&report);
}

#[test]
fn retry_max_attempts_counts_every_attempt_where_cacs_sdk_adds_its_own() {
    // Listed in the README: one attempt of CAC is three of its SDK's; vault-ci's
    // retry-max-attempts is the number of requests, and 1 means exactly one.
    let report = assert_deliberate_difference(
        r#"
permissions: {id-token: write}
sts-faults: ["503:ServiceUnavailable", "503:ServiceUnavailable"]
with:
  aws-region: us-east-1
  role-to-assume: <role:gha-deploy>
  retry-max-attempts: 1
  sts-endpoint: <sts>
"#,
    );
    assert_cac_succeeded(&report);
    assert_eq!(report.vault_ci("steps"), &serde_json::json!(["failure"]));
}

#[test]
fn special_characters_workaround_yields_keys_without_special_characters() {
    let report = assert_drop_in(
        r#"
permissions: {id-token: write}
with:
  aws-region: us-east-1
  role-to-assume: <role:gha-deploy>
  special-characters-workaround: true
  sts-endpoint: <sts>
"#,
    );
    assert_eq!(report.cac("final secret key has special characters"), false);
}

#[test]
fn use_existing_credentials_keeps_valid_credentials_and_assumes_nothing() {
    let report = assert_drop_in(
        r#"
sts: moto-auth
files:
  ~/.aws/credentials: |
    [default]
    aws_access_key_id = <deploy-user-key>
    aws_secret_access_key = <deploy-user-secret>
with:
  aws-region: us-east-1
  role-to-assume: <role:deploy>
  use-existing-credentials: true
  sts-endpoint: <sts>
"#,
    );
    assert_eq!(
        report.cac("caller ARN of the later step"),
        &format!("arn:aws:iam::{ACCOUNT}:user/deploy-user")
    );
    assert_eq!(report.cac("STS role requests"), &serde_json::json!([]));
}

#[test]
fn allowed_account_ids_matching_lets_the_step_succeed() {
    let report = assert_drop_in(
        r#"
permissions: {id-token: write}
with:
  aws-region: us-east-1
  role-to-assume: <role:gha-deploy>
  allowed-account-ids: 111111111111, <account>
  sts-endpoint: <sts>
"#,
    );
    assert_cac_succeeded(&report);
}

#[test]
fn allowed_account_ids_not_matching_fails_the_step() {
    let report = assert_drop_in(
        r#"
permissions: {id-token: write}
with:
  aws-region: us-east-1
  role-to-assume: <role:gha-deploy>
  allowed-account-ids: 111111111111
  sts-endpoint: <sts>
"#,
    );
    assert_cac_failed(&report);
}

#[test]
fn force_skip_oidc_with_a_role_and_neither_keys_nor_a_token_file_fails() {
    let report = assert_drop_in(
        r#"
permissions: {id-token: write}
with:
  aws-region: us-east-1
  role-to-assume: <role:gha-deploy>
  force-skip-oidc: true
  sts-endpoint: <sts>
"#,
    );
    assert_cac_failed(&report);
    assert_eq!(report.cac("STS role requests"), &serde_json::json!([]));
}

#[test]
fn action_timeout_s_fails_a_step_that_waits_too_long() {
    let report = assert_drop_in(
        r#"
permissions: {id-token: write}
sts-delay: 3
with:
  aws-region: us-east-1
  role-to-assume: <role:gha-deploy>
  action-timeout-s: 1
  sts-endpoint: <sts>
"#,
    );
    assert_cac_failed(&report);
}

#[test]
fn custom_tags_are_added_to_the_session_tags() {
    let report = assert_drop_in(
        r#"
sts: moto-auth
with:
  aws-region: us-east-1
  aws-access-key-id: <deploy-user-key>
  aws-secret-access-key: <deploy-user-secret>
  role-to-assume: <role:deploy>
  custom-tags: '{"Team": "platform", "CostCenter": 1.50}'
  sts-endpoint: <sts>
"#,
    );
    let tags = &report.cac_request(0)["Tags"];
    assert_eq!(tags["Team"], "platform");
    assert_eq!(tags["CostCenter"], "1.5");
}

#[test]
fn sts_endpoint_receives_every_sts_request() {
    let report = assert_drop_in(
        r#"
sts: moto-auth
with:
  aws-region: eu-west-1
  aws-access-key-id: <deploy-user-key>
  aws-secret-access-key: <deploy-user-secret>
  role-to-assume: <role:deploy>
  role-skip-session-tagging: true
  sts-endpoint: <sts>
"#,
    );
    assert_eq!(report.cac_request(0)["signed"], "eu-west-1/sts");
    assert_eq!(
        report.cac("caller ARN of the later step"),
        &role_session("deploy")
    );
}

#[test]
fn aws_profile_writes_the_profile_files_instead_of_the_environment() {
    let report = assert_drop_in(
        r#"
sts: moto-auth
with:
  aws-region: eu-west-1
  aws-access-key-id: <deploy-user-key>
  aws-secret-access-key: <deploy-user-secret>
  aws-profile: dev
  sts-endpoint: <sts>
"#,
    );
    let profiles = report.cac("profile files");
    assert_eq!(
        profiles["config"]["sections"]["profile dev"]["region"],
        "eu-west-1"
    );
    assert_eq!(profiles["credentials"]["mode"], "0o600");
    assert_eq!(report.cac("exported"), &serde_json::json!({}));
    assert_eq!(
        report.cac("caller ARN of the later step"),
        &format!("arn:aws:iam::{ACCOUNT}:user/deploy-user")
    );
}

#[test]
fn an_existing_profile_is_kept_without_overwrite_aws_profile() {
    let report = assert_drop_in(
        r#"
sts: moto-auth
files:
  ~/.aws/credentials: |
    [dev]
    aws_access_key_id = AKIAOLDOLDOLDOLDOLD1
    aws_secret_access_key = old-secret
with:
  aws-region: us-east-1
  aws-access-key-id: <deploy-user-key>
  aws-secret-access-key: <deploy-user-secret>
  aws-profile: dev
  sts-endpoint: <sts>
"#,
    );
    assert_cac_failed(&report);
}

#[test]
fn overwrite_aws_profile_replaces_an_existing_profile() {
    let report = assert_drop_in(
        r#"
sts: moto-auth
files:
  ~/.aws/credentials: |
    [dev]
    aws_access_key_id = AKIAOLDOLDOLDOLDOLD1
    aws_secret_access_key = old-secret
    [other]
    aws_access_key_id = AKIAOTHEROTHEROTHER1
    aws_secret_access_key = other-secret
with:
  aws-region: us-east-1
  aws-access-key-id: <deploy-user-key>
  aws-secret-access-key: <deploy-user-secret>
  aws-profile: dev
  overwrite-aws-profile: true
  sts-endpoint: <sts>
"#,
    );
    assert_eq!(
        report.cac("caller ARN of the later step"),
        &format!("arn:aws:iam::{ACCOUNT}:user/deploy-user")
    );
    assert!(report.cac("profile files")["credentials"]["sections"]["other"].is_object());
}
