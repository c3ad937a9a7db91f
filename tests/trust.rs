//! Trust policies only one repository can use: `trust-policy --check` against
//! the policies the AWS, GitHub and GitLab documentation show and the mistakes
//! published write-ups show (tests/fixtures/trust, each file's source in its
//! README), an issuer vault-ci does not know, the CloudFormation template
//! deployed on moto, and `token --trust-policy` on the operators IAM has beyond
//! the plain four.

use std::path::{Path, PathBuf};

use crate::harness::*;

fn fixtures(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/trust")
        .join(kind)
}

/// The README's table: each file and the severities `--check` must report, in order.
fn expected(kind: &str) -> Vec<(String, Vec<String>)> {
    let readme = std::fs::read_to_string(fixtures(kind).join("README.md")).unwrap();
    readme
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|line| {
            let cells: Vec<&str> = line.split(" | ").collect();
            let file = cells[0].trim_start_matches("| `").trim_end_matches('`');
            let column = cells
                .last()
                .unwrap()
                .trim_end_matches(" |")
                .replace("**", "");
            // `high`, `medium, low`, or `medium: why …`: the severities come first.
            let head = column.split([':', '.', '(']).next().unwrap_or_default();
            let severities = head
                .split([',', ' '])
                .filter(|w| ["high", "medium", "low", "broken"].contains(w))
                .map(str::to_string)
                .collect::<Vec<_>>();
            (file.to_string(), severities)
        })
        .collect()
}

/// The severity of each finding line of `--check`'s report, in order.
fn severities_reported(out: &Outcome) -> Vec<String> {
    out.stdout
        .lines()
        .filter(|l| !l.starts_with(' '))
        .map(|l| l.split(':').next().unwrap().to_string())
        .collect()
}

fn check(file: &Path) -> Outcome {
    Env::new().vault_ci(["trust-policy", "--check", file.to_str().unwrap()])
}

#[test]
fn the_documented_policies_pass_and_the_published_mistakes_are_named_with_their_fix() {
    for kind in ["safe", "unsafe"] {
        let table = expected(kind);
        assert!(table.len() >= 10, "{kind}: {table:?}");
        for (file, severities) in table {
            let out = check(&fixtures(kind).join(&file));
            // Best-practice notes aside: they are tested with the audit's fixtures.
            let reported: Vec<String> = severities_reported(&out)
                .into_iter()
                .filter(|severity| severity != "note")
                .collect();
            if severities.is_empty() {
                assert_eq!(out.code, Some(0), "{kind}/{file}:\n{out}");
                assert_eq!(reported, Vec::<String>::new(), "{kind}/{file}");
            } else {
                assert_eq!(out.code, Some(1), "{kind}/{file}:\n{out}");
                assert_eq!(reported, severities, "{kind}/{file}:\n{out}");
                assert!(out.stdout.contains("  fix: "), "{kind}/{file}:\n{out}");
            }
        }
    }
}

#[test]
fn an_aud_only_policy_is_open_to_every_repository_and_the_fix_is_printed() {
    let out = check(&fixtures("unsafe").join("github-aud-only-gist.json"));
    out.failure(1, &["1 finding"]);
    let first = out.stdout.lines().next().unwrap();
    assert!(first.starts_with("high: "), "{first}");
    assert!(
        first.contains("github-aud-only-gist.json:4: statement 1: "),
        "{first}"
    );
    assert!(first.contains("admits any repository on GitHub"), "{first}");
}

#[test]
fn a_file_that_is_no_policy_is_bad_usage() {
    let env = Env::new();
    let file = env.write("not.json", "[1, 2]");
    env.vault_ci(["trust-policy", "--check", file.to_str().unwrap()])
        .failure(2, &["--check", "not.json"]);
    let file = env.write("text.json", "hello");
    env.vault_ci(["trust-policy", "--check", file.to_str().unwrap()])
        .failure(2, &["is not JSON"]);
}

#[test]
fn the_cloudformation_template_deploys_the_role_trust_policy_prints() {
    let moto = moto();
    let mut env = Env::new();
    env.sts(moto)
        .set("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
        .set("AWS_SECRET_ACCESS_KEY", "secret");
    let scope = [
        "trust-policy",
        "--provider",
        "github",
        "--repo",
        "octo-org/app",
        "--branch",
        "main",
        "--account-id",
        ACCOUNT,
    ];
    let policy = env.vault_ci(scope).json();
    let mut args = scope.to_vec();
    // moto's CloudFormation has no AWS::IAM::OIDCProvider; the account has one already.
    args.extend(["--format", "cloudformation", "--existing-oidc-provider"]);
    let template = env.vault_ci(&args).success().stdout.clone();
    let file = env.write("role.json", &template);
    env.run(
        "aws",
        [
            "cloudformation",
            "deploy",
            "--template-file",
            file.to_str().unwrap(),
            "--stack-name",
            "ci-role",
            "--parameter-overrides",
            "RoleName=ci-deploy",
            "ManagedPolicyArns=arn:aws:iam::aws:policy/ReadOnlyAccess",
            "--capabilities",
            "CAPABILITY_NAMED_IAM",
        ],
    )
    .success();
    let role = env.run(
        "aws",
        [
            "iam",
            "get-role",
            "--role-name",
            "ci-deploy",
            "--output",
            "json",
        ],
    );
    assert_eq!(role.json()["Role"]["AssumeRolePolicyDocument"], policy);
    let saved = env.write("get-role.json", &role.stdout);
    let out = check(&saved);
    assert_eq!(out.code, Some(0), "{out}");
}

#[test]
fn assume_warns_about_a_trust_policy_open_to_others_before_it_is_used() {
    let env = Env::new();
    let policy = fixtures("unsafe").join("github-repo-star.json");
    let mut env = env;
    env.sts(moto());
    let token = env.write("t.jwt", &mint_token(&["--aud", "sts.amazonaws.com"]));
    let out = env.vault_ci([
        "assume",
        "--token-file",
        token.to_str().unwrap(),
        "--role-arn",
        &moto().role("gha-deploy"),
        "--trust-policy",
        policy.to_str().unwrap(),
        "--format",
        "json",
    ]);
    out.success();
    let warning = out
        .stderr
        .lines()
        .find(|l| l.contains("WARN --trust-policy high:"))
        .unwrap_or_else(|| panic!("no warning:\n{out}"));
    assert!(warning.contains("admits"), "{warning}");
    assert!(
        out.stderr
            .contains("fix: the Condition `vault-ci trust-policy --provider github"),
        "{out}"
    );
}

/// `vault-ci token --trust-policy POLICY` on a GitHub token for `sub`.
fn judge(env: &Env, sub: &str, policy: &serde_json::Value) -> Outcome {
    let token = env.write(
        "t.jwt",
        &mint_token(&["--aud", "sts.amazonaws.com", "--sub", sub]),
    );
    let policy = env.write("policy.json", &policy.to_string());
    env.vault_ci([
        "token",
        "--token-file",
        token.to_str().unwrap(),
        "--trust-policy",
        policy.to_str().unwrap(),
    ])
}

fn github_role(condition: serde_json::Value) -> serde_json::Value {
    serde_json::json!({ "Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": { "Federated": format!("arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com") },
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": condition,
    }]})
}

#[test]
fn token_refuses_what_ignore_case_if_exists_and_for_any_value_conditions_refuse() {
    let env = Env::new();
    let ours = "repo:octo-org/octo-repo:ref:refs/heads/main";
    let theirs = "repo:evil-org/octo-repo:ref:refs/heads/main";
    for (operator, value) in [
        (
            "StringEqualsIgnoreCase",
            "REPO:OCTO-ORG/OCTO-REPO:REF:REFS/HEADS/MAIN",
        ),
        ("StringLikeIfExists", "repo:octo-org/octo-repo:*"),
        ("ForAnyValue:StringLike", "repo:octo-org/*"),
    ] {
        let policy = github_role(serde_json::json!({
            operator: { "token.actions.githubusercontent.com:sub": value }
        }));
        let admitted = judge(&env, ours, &policy);
        admitted.success();
        assert!(
            admitted.stdout.contains("trust policy: admits this token"),
            "{operator}:\n{admitted}"
        );
        let refused = judge(&env, theirs, &policy);
        assert_eq!(refused.code, Some(1), "{operator}:\n{refused}");
        assert!(
            refused
                .stdout
                .contains("trust policy: does NOT admit this token"),
            "{refused}"
        );
        assert!(
            refused.stdout.contains(&format!(
                "{operator} token.actions.githubusercontent.com:sub wants {value}; the token has {theirs}"
            )),
            "{operator}:\n{refused}"
        );
    }
}

#[test]
fn token_says_so_when_only_sts_can_tell() {
    let env = Env::new();
    // Buildkite's documented shape: an address condition next to the claims.
    let policy = github_role(serde_json::json!({
        "StringLike": { "token.actions.githubusercontent.com:sub": "repo:octo-org/octo-repo:*" },
        "IpAddress": { "aws:SourceIp": "192.0.2.0/24" },
    }));
    let out = judge(&env, "repo:octo-org/octo-repo:ref:refs/heads/main", &policy);
    assert_eq!(out.code, Some(3), "{out}");
    assert!(
        out.stdout.contains("trust policy: may admit this token"),
        "{out}"
    );
    assert!(out.stdout.contains("IpAddress aws:SourceIp"), "{out}");
    // What vault-ci can tell still decides: another repository is refused.
    let out = judge(&env, "repo:evil-org/octo-repo:ref:refs/heads/main", &policy);
    assert_eq!(out.code, Some(1), "{out}");
}

/// A role for an issuer no CI of vault-ci's is (an EKS cluster here).
fn eks_role(condition: serde_json::Value) -> serde_json::Value {
    let issuer = "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE";
    serde_json::json!({ "Statement": [{
        "Effect": "Allow",
        "Principal": { "Federated": format!("arn:aws:iam::{ACCOUNT}:oidc-provider/{issuer}") },
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": condition,
    }]})
}

#[test]
fn an_issuer_vault_ci_does_not_know_is_not_judged_and_never_passes() {
    let env = Env::new();
    let issuer = "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE";
    let policy = env.write(
        "eks.json",
        &eks_role(serde_json::json!({ "StringLike": {
            format!("{issuer}:sub"): "system:serviceaccount:deploy:*",
            format!("{issuer}:aud"): "sts.amazonaws.com",
        }}))
        .to_string(),
    );
    let out = check(&policy);
    out.failure(3, &["1 statement not judged"]);
    assert_eq!(
        out.stdout,
        format!(
            "not judged: {}:1: statement 1: the condition on {issuer}:sub: \
             vault-ci does not know the `sub` grammar of {issuer}\n",
            policy.display()
        )
    );
    // What needs no grammar is still judged: no `sub` at all is open to all.
    let open = env.write(
        "open.json",
        &eks_role(
            serde_json::json!({ "StringEquals": { format!("{issuer}:aud"): "sts.amazonaws.com" } }),
        )
        .to_string(),
    );
    let out = check(&open);
    out.failure(1, &["1 finding"]);
    assert!(
        out.stdout.starts_with(&format!(
            "high: {}:1: statement 1: no condition on {issuer}:sub admits any identity {issuer} issues tokens for",
            open.display()
        )),
        "{out}"
    );
}

/// `trust-policy` for one of issue 21's CIs, what `--check` says of it, and
/// what `token --trust-policy` says of a token of the job it names and of a
/// token of another.
fn written_checked_and_judged(policy_args: &[&str], ours: &[&str], theirs: &[&str]) {
    let env = Env::new();
    let mut args = vec!["trust-policy"];
    args.extend_from_slice(policy_args);
    args.extend(["--account-id", ACCOUNT]);
    let written = env.vault_ci(&args);
    let policy = written.json();
    let file = env.write("policy.json", &policy.to_string());
    let checked = check(&file);
    assert_eq!(checked.code, Some(0), "{policy_args:?}:\n{checked}");
    assert_eq!(checked.stdout, "", "{policy_args:?}");
    for (claims, admitted) in [(ours, true), (theirs, false)] {
        let token = env.write("t.jwt", &mint_token(claims));
        let out = env.vault_ci([
            "token",
            "--token-file",
            token.to_str().unwrap(),
            "--trust-policy",
            file.to_str().unwrap(),
        ]);
        let (code, verdict) = match admitted {
            true => (0, "trust policy: admits this token"),
            false => (1, "trust policy: does NOT admit this token"),
        };
        assert_eq!(
            out.code,
            Some(code),
            "{policy_args:?} {claims:?}:\n{out}\n{policy:#}"
        );
        assert!(out.stdout.contains(verdict), "{claims:?}:\n{out}");
    }
}

#[test]
fn each_new_cis_policy_passes_check_and_admits_its_job_alone() {
    use crate::harness::ci::*;
    let other_sub = format!("sc://{AZURE_ORG}/{AZURE_PROJECT}/other-connection");
    written_checked_and_judged(
        &[
            "--provider",
            "azure",
            "--org-id",
            AZURE_ORG_ID,
            "--organization",
            AZURE_ORG,
            "--project",
            AZURE_PROJECT,
            "--service-connection",
            AZURE_CONNECTION,
        ],
        &["--ci", "azure-connection"],
        &["--ci", "azure-connection", "--sub", &other_sub],
    );
    written_checked_and_judged(
        &[
            "--provider",
            "azure",
            "--org-id",
            AZURE_ORG_ID,
            "--organization",
            AZURE_ORG,
            "--project",
            AZURE_PROJECT,
            "--pipeline",
            "deploy",
        ],
        &["--ci", "azure"],
        &["--ci", "azure", "--sub", "p://acme/web/deploy-evil"],
    );
    written_checked_and_judged(
        &[
            "--provider",
            "jenkins",
            "--job",
            "team/deploy",
            "--issuer",
            JENKINS_ISSUER,
        ],
        &["--ci", "jenkins"],
        &[
            "--ci",
            "jenkins",
            "--sub",
            "https://jenkins.acme.com/job/team/job/deploy-evil/",
        ],
    );
    written_checked_and_judged(
        &[
            "--provider",
            "jenkins",
            "--job",
            "team/deploy",
            "--claim-template",
            "jenkins:${JOB_NAME}",
            "--issuer",
            JENKINS_ISSUER,
        ],
        &["--ci", "jenkins", "--sub", "jenkins:team/deploy"],
        &["--ci", "jenkins", "--sub", "jenkins:team/other"],
    );
    written_checked_and_judged(
        &[
            "--provider",
            "forgejo",
            "--repo",
            FORGEJO_REPOSITORY,
            "--branch",
            "main",
            "--audience",
            "https://codeberg.org/acme",
        ],
        &["--ci", "forgejo"],
        &[
            "--ci",
            "forgejo",
            "--sub",
            "repo:acme-evil/app:ref:refs/heads/main",
        ],
    );
    written_checked_and_judged(
        &[
            "--provider",
            "google",
            "--service-account-id",
            GOOGLE_ACCOUNT_ID,
        ],
        &["--ci", "google"],
        &[
            "--ci",
            "google",
            "--claims",
            r#"{"sub": "111111111111111111111", "azp": "111111111111111111111"}"#,
        ],
    );
}

#[test]
fn an_azure_service_connection_moving_to_entra_is_admitted_from_both_issuers() {
    use crate::harness::ci::*;
    let scope = [
        "--provider",
        "azure",
        "--org-id",
        AZURE_ORG_ID,
        "--organization",
        AZURE_ORG,
        "--project",
        AZURE_PROJECT,
        "--service-connection",
        AZURE_CONNECTION,
        "--service-connection-id",
        "64171687-7a59-4fce-b2c8-823278dcf176",
        "--tenant-id",
        ENTRA_TENANT,
    ];
    written_checked_and_judged(
        &scope,
        &["--ci", "entra"],
        &[
            "--ci",
            "entra",
            "--sub",
            &ENTRA_SUB.replace("64171687", "99999999"),
        ],
    );
    written_checked_and_judged(
        &scope,
        &["--ci", "azure-connection"],
        &["--ci", "azure", "--sub", "sc://acme/web/other"],
    );
    let env = Env::new();
    let mut args = vec!["trust-policy"];
    args.extend(scope);
    let policy = env.vault_ci(&args).json();
    let principals: Vec<&str> = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["Principal"]["Federated"].as_str().unwrap())
        .collect();
    assert_eq!(
        principals,
        [
            format!("arn:aws:iam::ACCOUNT_ID:oidc-provider/vstoken.dev.azure.com/{AZURE_ORG_ID}"),
            format!(
                "arn:aws:iam::ACCOUNT_ID:oidc-provider/login.microsoftonline.com/{ENTRA_TENANT}/v2.0"
            ),
        ]
    );
}

#[test]
fn googles_policy_names_the_built_in_principal_and_its_own_keys() {
    let env = Env::new();
    let policy = env
        .vault_ci([
            "trust-policy",
            "--provider",
            "google",
            "--service-account-id",
            "100018646976219416293",
            "--account-id",
            ACCOUNT,
        ])
        .json();
    assert_eq!(
        policy,
        serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": { "Federated": "accounts.google.com" },
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": { "StringEquals": {
                    "accounts.google.com:aud": "100018646976219416293",
                    "accounts.google.com:oaud": "sts.amazonaws.com",
                    "accounts.google.com:sub": "100018646976219416293",
                } },
            }],
        })
    );
    let template = env
        .vault_ci([
            "trust-policy",
            "--provider",
            "google",
            "--service-account-id",
            "100018646976219416293",
            "--format",
            "cloudformation",
        ])
        .json();
    assert!(
        template["Resources"].get("OidcProvider").is_none(),
        "{template:#}"
    );
}

// ── issue 24: the audit an AWS account needs ────────────────────────────────

/// audit/README.md's table: each file, the severities `--check` reports in
/// order, and its exit status.
fn audit_table() -> Vec<(String, Vec<String>, i32)> {
    table("audit")
}

fn table(kind: &str) -> Vec<(String, Vec<String>, i32)> {
    let readme = std::fs::read_to_string(fixtures(kind).join("README.md")).unwrap();
    readme
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|line| {
            let cells: Vec<&str> = line.split(" | ").collect();
            let file = cells[0].trim_start_matches("| `").trim_end_matches('`');
            let expected = cells.last().unwrap().trim_end_matches(" |");
            let (severities, exit) = expected.split_once(" (exit ").unwrap();
            let exit = exit.trim_end_matches(')').parse().unwrap();
            let severities = severities.split(", ").map(str::to_string).collect();
            (file.to_string(), severities, exit)
        })
        .collect()
}

#[test]
fn each_new_finding_class_and_each_place_policies_live_gets_its_verdict() {
    let table = audit_table();
    let files = std::fs::read_dir(fixtures("audit")).unwrap().count() - 1;
    assert_eq!(table.len(), files, "every fixture is in the README's table");
    for (file, severities, exit) in table {
        let path = fixtures("audit").join(&file);
        let out = check(&path);
        assert_eq!(out.code, Some(exit), "{file}:\n{out}");
        assert_eq!(severities_reported(&out), severities, "{file}:\n{out}");
        // Each finding says where: the file, its line, and the role.
        for line in out.stdout.lines().filter(|l| !l.starts_with(' ')) {
            let place = line.split_once(": ").unwrap().1;
            let after = place
                .strip_prefix(&format!("{}:", path.display()))
                .unwrap_or_else(|| panic!("{file}: {line}"));
            assert!(
                after.split(':').next().unwrap().parse::<usize>().is_ok(),
                "{line}"
            );
        }
    }
}

#[test]
fn a_folder_is_every_role_in_it_each_named_where_it_is() {
    let env = Env::new();
    let out = env.vault_ci([
        "trust-policy",
        "--check",
        fixtures("audit").to_str().unwrap(),
    ]);
    assert_eq!(out.code, Some(1), "{out}");
    assert!(out.stderr.contains("roles in 20 files"), "{out}");
    let dir = fixtures("audit");
    for expected in [
        format!(
            "high: {}:58: role gha-legacy: statement 1: no condition on token.actions.githubusercontent.com:sub admits any repository on GitHub",
            dir.join("account-authorization-details.json").display()
        ),
        format!(
            "medium: {}:37: GitHubReadOnly (AWS::IAM::Role): statement 1: token.actions.githubusercontent.com:sub \"repo:acme/*\" admits every present and future repository of acme",
            dir.join("cfn-roles.yaml").display()
        ),
        format!(
            "not judged: {}:27: DeployRole (AWS::IAM::Role): statement 1: the condition on token.actions.githubusercontent.com:sub: depends on GitHubOrg, RepositoryName, which the file leaves open: given `*`, token.actions.githubusercontent.com:sub \"repo:*/*:*\" admits any repository on GitHub",
            dir.join("cfn-parameters.yaml").display()
        ),
        format!(
            "medium: {}:139: aws_iam_role.github_org_readonly: statement 1: token.actions.githubusercontent.com:sub \"repo:ministryofjustice/*\" admits every present and future repository of ministryofjustice",
            dir.join("terraform-plan.json").display()
        ),
    ] {
        assert!(
            out.stdout.lines().any(|l| l == expected),
            "no line\n{expected}\nin\n{out}"
        );
    }
    // Several files at once, a folder among them.
    let out = env.vault_ci([
        "trust-policy",
        "--check",
        fixtures("safe")
            .join("github-docs-branch.json")
            .to_str()
            .unwrap(),
        fixtures("audit")
            .join("cognito-pool-guests.json")
            .to_str()
            .unwrap(),
    ]);
    assert_eq!(out.code, Some(0), "{out}");
    assert!(out.stderr.contains("2 roles in 2 files"), "{out}");
}

/// SARIF 2.1.0's schema, as Microsoft's SARIF SDK ships it (npm's
/// @microsoft/jest-sarif), put there by scripts/install-test-peers.sh.
fn sarif_schema() -> PathBuf {
    let schema =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/sarif/sarif-2.1.0-rtm.5.json");
    assert!(
        schema.is_file(),
        "no SARIF schema: run scripts/install-test-peers.sh"
    );
    schema
}

/// check-jsonschema's verdict on `file` against SARIF 2.1.0's schema. The
/// schema's patterns are JavaScript's (`]` alone is a literal): Python's `re`
/// reads them so too.
fn validate_sarif(file: &Path) -> Outcome {
    std::process::Command::new("python3")
        .args([
            "-m",
            "check_jsonschema",
            "--regex-variant",
            "python",
            "--schemafile",
        ])
        .arg(sarif_schema())
        .arg(file)
        .output()
        .into()
}

#[test]
fn sarif_is_valid_sarif_2_1_0_with_one_result_per_finding_each_placed() {
    let env = Env::new();
    let dir = fixtures("audit");
    let text = env.vault_ci(["trust-policy", "--check", dir.to_str().unwrap()]);
    let sarif = env.vault_ci([
        "trust-policy",
        "--check",
        dir.to_str().unwrap(),
        "--format",
        "sarif",
    ]);
    assert_eq!(sarif.code, text.code, "{sarif}");
    let file = env.write("results.sarif", &sarif.stdout);
    let valid = validate_sarif(&file);
    assert_eq!(valid.code, Some(0), "{valid}");
    // The validator does refuse what the schema does.
    let log: serde_json::Value = serde_json::from_str(&sarif.stdout).unwrap();
    let mut broken = log.clone();
    broken["runs"][0]["results"][0]["level"] = "severe".into();
    let bad = env.write("bad.sarif", &broken.to_string());
    assert_eq!(validate_sarif(&bad).code, Some(1));

    let run = &log["runs"][0];
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), severities_reported(&text).len());
    let rules: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    for result in results {
        let index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(result["ruleId"], rules[index]);
        let location = &result["locations"][0];
        assert!(
            location["physicalLocation"]["region"]["startLine"]
                .as_u64()
                .unwrap()
                > 0
        );
    }
    let legacy = results
        .iter()
        .find(|r| {
            r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]
                == "role gha-legacy/statement 1"
        })
        .unwrap();
    assert_eq!(legacy["ruleId"], "other-owners");
    assert_eq!(legacy["level"], "error");
    let physical = &legacy["locations"][0]["physicalLocation"];
    assert!(
        physical["artifactLocation"]["uri"]
            .as_str()
            .unwrap()
            .ends_with("audit/account-authorization-details.json")
    );
    assert_eq!(physical["region"]["startLine"], 58);
    assert!(legacy["message"]["text"].as_str().unwrap().contains("Fix: the Condition `vault-ci trust-policy --provider github --repo OWNER/REPO --account-id 123456789012` prints:"), "{legacy:#}");
    // GitHub code scanning's severity scale for each rule.
    for rule in run["tool"]["driver"]["rules"].as_array().unwrap() {
        let severity: f64 = rule["properties"]["security-severity"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((0.1..=10.0).contains(&severity), "{rule}");
    }
}

#[test]
fn json_gives_scripts_every_finding_with_its_place_and_fix() {
    let env = Env::new();
    let file = fixtures("audit").join("account-authorization-details.json");
    let out = env.vault_ci([
        "trust-policy",
        "--check",
        file.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(out.code, Some(1), "{out}");
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["exit"], 1);
    assert_eq!(report["files"][0]["kind"], "account-authorization-details");
    assert_eq!(report["files"][0]["roles"], 3);
    let finding = &report["findings"][0];
    assert_eq!(finding["rule"], "other-owners");
    assert_eq!(finding["severity"], "high");
    assert_eq!(finding["line"], 58);
    assert_eq!(finding["role"], "role gha-legacy");
    assert_eq!(
        finding["fix"]["command"],
        "vault-ci trust-policy --provider github --repo OWNER/REPO --account-id 123456789012"
    );
    assert_eq!(
        finding["fix"]["condition"]["StringLike"]["token.actions.githubusercontent.com:sub"],
        "repo:OWNER/REPO:*"
    );
}

#[test]
fn notes_of_best_practice_fail_only_under_strict() {
    let env = Env::new();
    let guests = fixtures("audit").join("cognito-pool-guests.json");
    let out = env.vault_ci(["trust-policy", "--check", guests.to_str().unwrap()]);
    assert_eq!(out.code, Some(0), "{out}");
    assert!(out.stderr.contains("(1 note of best practice)"), "{out}");
    let strict = env.vault_ci([
        "trust-policy",
        "--check",
        guests.to_str().unwrap(),
        "--strict",
    ]);
    assert_eq!(strict.code, Some(1), "{strict}");
}

#[test]
fn trust_policy_writes_only_what_its_own_check_finds_tight() {
    let env = Env::new();
    let refused = [
        (
            &["--provider", "github", "--repo", "*/*"][..],
            "vault-ci: --repo `*/*` must name one exactly: a wildcard would admit every name that matches, present and future; run trust-policy once per repo",
        ),
        (
            &["--provider", "github", "--repo", "octo*/app"],
            "vault-ci: --repo `octo*/app` must name one exactly: a wildcard would admit every name that matches, present and future; run trust-policy once per repo",
        ),
        (
            &["--provider", "github", "--repo", "octo-org/app?"],
            "vault-ci: --repo `octo-org/app?` must name one exactly: a wildcard would admit every name that matches, present and future; run trust-policy once per repo",
        ),
        (
            &["--provider", "github", "--repo", "octo-org/${aws:username}"],
            "vault-ci: --repo `octo-org/${aws:username}` must name one exactly: `$` would start an IAM policy variable; run trust-policy once per repo",
        ),
        (
            &["--provider", "gitlab", "--project-path", "*/*"],
            "vault-ci: --project-path `*/*` must name one exactly: a wildcard would admit every name that matches, present and future; run trust-policy once per project path",
        ),
        (
            &[
                "--provider",
                "github",
                "--repo",
                "octo-org/app",
                "--environment",
                "prod*",
            ],
            "vault-ci: --environment `prod*` must name one exactly: a wildcard would admit every name that matches, present and future; run trust-policy once per environment",
        ),
        (
            &[
                "--provider",
                "circleci",
                "--org-id",
                "0ca3ddd9-f0b0-4635-a98c-5866526961b6",
            ],
            "vault-ci: these flags would write a trust policy that admits every present and future project of the CircleCI organization 0ca3ddd9-f0b0-4635-a98c-5866526961b6 (trust-policy --check: medium): name one, e.g. vault-ci trust-policy --provider circleci --org-id 0ca3ddd9-f0b0-4635-a98c-5866526961b6 --project-id PROJECT_ID",
        ),
        (
            &["--provider", "buildkite", "--organization", "acme"],
            "vault-ci: these flags would write a trust policy that admits every present and future pipeline of the Buildkite organization acme (trust-policy --check: medium): name one, e.g. vault-ci trust-policy --provider buildkite --organization acme --pipeline PIPELINE",
        ),
    ];
    for (args, error) in refused {
        let mut argv = vec!["trust-policy"];
        argv.extend_from_slice(args);
        let out = env.vault_ci(&argv);
        out.fails(2, error);
        assert_eq!(out.stdout, "", "{args:?}");
    }
    // Refs take wildcards: they choose among one repository's.
    let out = env.vault_ci([
        "trust-policy",
        "--provider",
        "github",
        "--repo",
        "octo-org/app",
        "--tag",
        "v*",
    ]);
    let file = env.write("tags.json", &out.success().stdout);
    assert_eq!(check(&file).code, Some(0));
    // --check's formats are not a policy's.
    env.vault_ci(["trust-policy", "--provider", "github", "--repo", "o/r", "--format", "sarif"])
        .fails(2, "vault-ci: --format sarif is for --check's findings; a trust policy is json or cloudformation");
}

#[test]
fn real_policies_get_the_verdict_they_were_given_by_hand() {
    let readme = std::fs::read_to_string(fixtures("corpus").join("README.md")).unwrap();
    let by_hand: Vec<&str> = readme
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| l.split(" | ").nth(3).unwrap().split(':').next().unwrap())
        .collect();
    let table = table("corpus");
    let files = std::fs::read_dir(fixtures("corpus")).unwrap().count() - 1;
    assert_eq!(
        table.len(),
        files,
        "every file of the corpus is in its README"
    );
    for ((file, severities, exit), hand) in table.into_iter().zip(by_hand) {
        let out = check(&fixtures("corpus").join(&file));
        assert_eq!(out.code, Some(exit), "{file}:\n{out}");
        assert_eq!(severities_reported(&out), severities, "{file}:\n{out}");
        // No all-clear for what is loose; no finding against what is tight.
        match hand {
            "loose" => assert_ne!(exit, 0, "{file}"),
            "tight" => assert_ne!(exit, 1, "{file}"),
            other => panic!("{file}: by hand `{other}`"),
        }
    }
}

/// The README's code-scanning workflow: its `vault-ci trust-policy --check …`
/// line, run over a repository whose pull request loosens a role.
#[test]
fn the_readmes_code_scanning_workflow_shows_the_pull_request_that_loosens_a_role() {
    // The README's, or the docs' page it moves to.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let pages = std::fs::read_dir(root.join("docs"))
        .into_iter()
        .flatten()
        .map(|entry| entry.unwrap().path())
        .chain([root.join("README.md")]);
    let readme: String = pages
        .filter(|page| page.extension().is_some_and(|e| e == "md"))
        .map(|page| std::fs::read_to_string(page).unwrap())
        .collect();
    let workflow = readme
        .split("# .github/workflows/trust-policies.yml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the README's code-scanning workflow");
    for needed in [
        "security-events: write",
        "github/codeql-action/upload-sarif@",
        "sarif_file: trust-policies.sarif",
    ] {
        assert!(workflow.contains(needed), "{needed}:\n{workflow}");
    }
    let command = workflow
        .lines()
        .find_map(|l| l.split_once("vault-ci trust-policy "))
        .map(|(_, args)| args.split(" > ").next().unwrap().to_string())
        .unwrap();
    let args: Vec<&str> = command.split_whitespace().collect();
    assert_eq!(args, ["--check", "infra/", "--format", "sarif"]);

    let env = Env::new();
    std::fs::create_dir_all(env.path("infra")).unwrap();
    let template = |sub: &str| {
        format!(
            "Resources:\n  Deploy:\n    Type: AWS::IAM::Role\n    Properties:\n      AssumeRolePolicyDocument:\n        Statement:\n          - Effect: Allow\n            Action: sts:AssumeRoleWithWebIdentity\n            Principal:\n              Federated: !Sub arn:aws:iam::${{AWS::AccountId}}:oidc-provider/token.actions.githubusercontent.com\n            Condition:\n              StringEquals:\n                token.actions.githubusercontent.com:aud: sts.amazonaws.com\n              StringLike:\n                token.actions.githubusercontent.com:sub: {sub}\n"
        )
    };
    let scan = |sub: &str| -> (Outcome, serde_json::Value) {
        env.write("infra/roles.yaml", &template(sub));
        let mut argv = vec!["trust-policy"];
        argv.extend(&args);
        let out = env.vault_ci(&argv);
        let file = env.write("trust-policies.sarif", &out.stdout);
        let valid = validate_sarif(&file);
        assert_eq!(valid.code, Some(0), "{valid}");
        let log = serde_json::from_str(&out.stdout).unwrap();
        (out, log)
    };
    // main: one environment of one repository.
    let (before, log) = scan("repo:acme@1234/app@5678:environment:prod");
    assert_eq!(before.code, Some(0), "{before}");
    assert_eq!(log["runs"][0]["results"], serde_json::json!([]));
    // The pull request: every repository of acme.
    let (after, log) = scan("repo:acme/*");
    assert_eq!(after.code, Some(1), "{after}");
    let result = &log["runs"][0]["results"][0];
    assert_eq!(result["ruleId"], "whole-owner");
    assert_eq!(result["level"], "error");
    let physical = &result["locations"][0]["physicalLocation"];
    assert_eq!(physical["artifactLocation"]["uri"], "infra/roles.yaml");
    assert_eq!(
        physical["region"]["startLine"], 15,
        "the line the pull request changed"
    );
}

#[test]
fn a_configured_gitlab_sub_makes_a_default_pattern_admit_nothing_and_a_short_one_a_note() {
    let env = Env::new();
    let policy = fixtures("safe").join("gitlab-docs-aws.json");
    let file = policy.to_str().unwrap();
    let answer = env.write(
        "project.json",
        r#"{"id": 42, "path_with_namespace": "mygroup/myproject", "ci_id_token_sub_claim_components": ["project_path", "ref"]}"#,
    );
    for components in [
        "project_path,ref".to_string(),
        format!("@{}", answer.display()),
    ] {
        let out = env.vault_ci([
            "trust-policy",
            "--check",
            file,
            "--gitlab-sub-claims",
            &components,
        ]);
        assert_eq!(out.code, Some(1), "{out}");
        out.stdout_is(&format!(
            "broken: {file}:12: statement 1: gitlab.example.com:sub \"project_path:mygroup/myproject:ref_type:branch:ref:main\" \
             admits no token of a project whose `sub` is configured to project_path, ref (--gitlab-sub-claims): \
             each reads project_path:GROUP/PROJECT:ref:REF\n"
        ));
    }
    // The default components: the default `sub` fits, nothing to say.
    env.vault_ci([
        "trust-policy",
        "--check",
        file,
        "--gitlab-sub-claims",
        "project_path,ref_type,ref",
    ])
    .success()
    .stdout_is("");
    let short = env.write(
        "short.json",
        &std::fs::read_to_string(&policy)
            .unwrap()
            .replace("ref_type:branch:ref:main", "ref:main"),
    );
    let out = env.vault_ci([
        "trust-policy",
        "--check",
        short.to_str().unwrap(),
        "--gitlab-sub-claims",
        "project_path,ref",
    ]);
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(severities_reported(&out), ["note"], "{out}");
    env.vault_ci(["trust-policy", "--check", file, "--gitlab-sub-claims", "project_path"]).fails(
        2,
        "vault-ci: --gitlab-sub-claims: `project_path` is not a sub GitLab can be configured to \
         (project_path,ref_type,ref, project_path,ref,ref_type, project_path,ref, project_path,ref_type)",
    );
}

#[test]
fn a_customised_github_sub_makes_a_default_pattern_admit_nothing() {
    let env = Env::new();
    let policy = fixtures("safe").join("github-docs-branch.json");
    let answer = env.write(
        "sub.json",
        r#"{"use_default": false, "include_claim_keys": ["repo", "context", "job_workflow_ref"]}"#,
    );
    for keys in [
        "repo,context,job_workflow_ref".to_string(),
        format!("@{}", answer.display()),
    ] {
        let out = env.vault_ci([
            "trust-policy",
            "--check",
            policy.to_str().unwrap(),
            "--github-sub-claims",
            &keys,
        ]);
        assert_eq!(out.code, Some(1), "{out}");
        assert_eq!(severities_reported(&out)[0], "broken", "{out}");
        assert!(out.stdout.contains("(--github-sub-claims): each reads repo:…:<ref:REF|environment:NAME|pull_request>:job_workflow_ref:…"), "{out}");
    }
    env.vault_ci(["trust-policy", "--check", policy.to_str().unwrap(), "--github-sub-claims", "Repo"])
        .fails(2, "vault-ci: --github-sub-claims: `Repo` is no list of claim keys (repo,context,job_workflow_ref)");
}

#[test]
fn nothing_read_is_no_all_clear() {
    let env = Env::new();
    std::fs::create_dir_all(env.path("infra")).unwrap();
    env.write("infra/package.json", r#"{"name": "x"}"#);
    env.write(
        "infra/bucket.yaml",
        "Resources:\n  B:\n    Type: AWS::S3::Bucket\n",
    );
    let infra = env.path("infra");
    env.vault_ci(["trust-policy", "--check", infra.to_str().unwrap()])
        .fails(
            2,
            &format!(
                "vault-ci: --check {}: no role's trust policy in it; name a policy document, a \
             CloudFormation template, a terraform show -json file or aws iam output",
                infra.display()
            ),
        );
}
