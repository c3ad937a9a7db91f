//! Bitbucket Pipelines: the README's recipe (its `step:` read from README.md, so what is
//! tested is what users copy), run as Bitbucket runs a step's script — every line in one
//! `sh` (dash: Bitbucket's images may have no bash), the step stopping at the first line
//! that exits non-zero, and no `set -e` — with
//! the variables Bitbucket gives a step with `oidc: true`, install.sh fetched from a
//! release on file:// (this build, its digest pinned as the release pins it), and moto.
#![cfg(unix)]

use std::path::Path;

use serde_json::Value;

use crate::harness::*;
use crate::packaging::{path_without_vault_ci, released_packaging};
use crate::providers::{BITBUCKET_REPO_UUID, BITBUCKET_WORKSPACE_UUID, bitbucket_token};

const VERSION: &str = env!("CARGO_PKG_VERSION");
const RELEASES: &str = "https://github.com/vault-ci/vault-ci/releases/download";

/// The README's Bitbucket Pipelines recipe: its step's script lines.
fn recipe() -> Vec<String> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = &readme[readme.find("### Bitbucket Pipelines").unwrap()..];
    let yaml = section
        .split("```yaml\n")
        .nth(1)
        .unwrap()
        .split("```")
        .next()
        .unwrap();
    let env = Env::new();
    let file = env.write("bitbucket-pipelines.yml", yaml);
    let script = "import json,sys,yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))";
    let doc: Value = env
        .run("python3", ["-c", script, file.to_str().unwrap()])
        .json();
    let step = &doc["pipelines"]["default"][0]["step"];
    assert_eq!(step["oidc"], true, "the recipe's step has oidc: true");
    step["script"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect()
}

/// A Bitbucket step with `oidc: true` (unless `token` is None), the repository variables
/// AWS_ROLE_ARN and VAULT_CI_INSTALL_URL (the releases' mirror: here, file://).
fn step(token: Option<String>) -> Env {
    let mut env = Env::new();
    env.sts(moto())
        .set("PATH", path_without_vault_ci())
        .set("CI", "true")
        .set("BITBUCKET_BUILD_NUMBER", "5")
        .set("BITBUCKET_REPO_UUID", BITBUCKET_REPO_UUID)
        .set("BITBUCKET_WORKSPACE", "acme")
        .set("BITBUCKET_REPO_SLUG", "app")
        .set("BITBUCKET_BRANCH", "main")
        .set("AWS_ROLE_ARN", moto().role("gha-deploy"));
    if let Some(token) = token {
        env.set("BITBUCKET_STEP_OIDC_TOKEN", token);
    }
    let clone = env.path("build");
    std::fs::create_dir_all(&clone).unwrap();
    env.set("BITBUCKET_CLONE_DIR", clone.display().to_string());
    // The release: the binary, and install.sh with its digest pinned.
    let download = env.path("release").join(format!("v{VERSION}"));
    std::fs::create_dir_all(&download).unwrap();
    let packaging = released_packaging(&env);
    std::fs::copy(packaging.join("install.sh"), download.join("install.sh")).unwrap();
    for asset in std::fs::read_dir(env.path("dist/assets")).unwrap() {
        let asset = asset.unwrap().path();
        std::fs::copy(&asset, download.join(asset.file_name().unwrap())).unwrap();
    }
    let mirror = format!("file://{}", env.path("release").display());
    env.set("VAULT_CI_INSTALL_URL", mirror);
    env
}

/// The recipe's lines, then `later`, in one dash; the step ends at the first line that
/// fails. The recipe's /tmp/aws.env is this test's own.
fn run(env: &Env, later: &str) -> Outcome {
    let mirror = format!("file://{}", env.path("release").display());
    let env_file = env.path("tmp-aws.env").display().to_string();
    let mut script = String::new();
    for line in recipe() {
        if line.starts_with("aws ") {
            continue; // the recipe's example of a later line; `later` is this test's
        }
        let line = line
            .replace(RELEASES, &mirror)
            .replace("/tmp/aws.env", &env_file);
        script.push_str(&format!(
            "{line}\nstatus=$?; [ $status = 0 ] || exit $status\n"
        ));
    }
    script.push_str(later);
    script.push('\n');
    env.run("dash", ["-c", &script])
}

#[test]
fn the_readme_recipe_gives_every_later_line_the_role() {
    let env = step(Some(bitbucket_token(BITBUCKET_REPO_UUID)));
    let out = run(
        &env,
        "aws sts get-caller-identity --query Arn --output text; echo \"region $AWS_REGION\"",
    );
    out.success();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        lines.contains(&assumed_role("gha-deploy", "bitbucket-5").as_str()),
        "{out}"
    );
    assert!(lines.contains(&"region eu-west-1"), "{out}");
    assert!(
        out.stderr
            .contains(&format!("vault-ci install: Using vault-ci {VERSION} from ")),
        "{out}"
    );
    // Nothing of the credentials in the clone directory (artifacts are taken from there).
    let clone = std::fs::read_dir(env.path("build")).unwrap().count();
    assert_eq!(clone, 0);
}

#[test]
fn a_step_without_oidc_is_told_in_one_line_and_nothing_is_exported() {
    let env = step(None);
    let out = run(&env, "echo \"later: ${AWS_ACCESS_KEY_ID:-none}\"");
    assert_eq!(out.code, Some(1), "{out}");
    assert!(!out.stdout.contains("later:"), "{out}");
    let errors: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("vault-ci: "))
        .collect();
    assert_eq!(errors.len(), 1, "{out}");
    assert!(
        errors[0].contains("BITBUCKET_STEP_OIDC_TOKEN is not set"),
        "{out}"
    );
    assert!(out.stderr.contains("oidc: true"), "{out}");
}

#[test]
fn an_expired_token_is_refused_and_nothing_is_exported() {
    let expired = mint_token(&[
        "--iss",
        "https://api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc",
        "--aud",
        &format!("ari:cloud:bitbucket::workspace/{BITBUCKET_WORKSPACE_UUID}"),
        "--exp-in",
        "-60",
    ]);
    let env = step(Some(expired));
    let out = run(&env, "echo later");
    assert_eq!(out.code, Some(1), "{out}");
    assert!(!out.stdout.contains("later"), "{out}");
    let error = out
        .stderr
        .lines()
        .find(|l| l.starts_with("vault-ci: "))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(error.contains("expired"), "{error}");
    assert!(!env.path("tmp-aws.env").exists());
}
