//! The token endpoints of the CIs that hand tokens out over HTTP, each as that
//! CI's behaves (tests/peers/peer.py: Azure DevOps' `Oidctoken - Create`, POST
//! only and bearer-checked; Google's metadata server, which wants and sends
//! `Metadata-Flavor: Google`; Forgejo's, GitHub's shape), and each with its
//! hostile twins: a refusal, an HTML page, an answer that never ends or does not
//! come, a token for another audience. Whatever goes wrong, nothing is
//! delivered, no secret is shown, and what is retried is only what can change.

use crate::harness::*;
use crate::providers::{azure_job, cloud_build_step, forgejo_job};

/// `assume` into an env file, one attempt per second at most.
fn assume(extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "assume",
        "--role-arn",
        &moto().role("gha-deploy"),
        "--env-file",
        "aws.env",
    ]
    .map(String::from)
    .to_vec();
    args.extend(extra.iter().map(|a| a.to_string()));
    args
}

#[track_caller]
fn nothing_delivered(env: &Env, out: &Outcome, secrets: &[String]) {
    assert!(
        !env.path("aws.env").exists(),
        "an env file was written:\n{out}"
    );
    for secret in secrets {
        assert!(
            !out.stderr.contains(secret.as_str()),
            "a secret was shown:\n{out}"
        );
        assert!(
            !out.stdout.contains(secret.as_str()),
            "a secret was shown:\n{out}"
        );
    }
}

// ── Azure DevOps ───────────────────────────────────────────────────────────

#[test]
fn azure_refuses_another_jobs_access_token_and_is_not_asked_again() {
    let endpoint = azure_endpoint(&[]);
    let mut env = azure_job(&endpoint);
    env.set("SYSTEM_ACCESSTOKEN", "another-jobs-token");
    let out = env.vault_ci(assume(&[]));
    out.fails(
        1,
        "vault-ci: Azure DevOps' OIDC token endpoint answered HTTP 401 Unauthorized: \
         SYSTEM_ACCESSTOKEN was refused: map this job's own System.AccessToken into the step \
         (env: SYSTEM_ACCESSTOKEN: $(System.AccessToken))",
    );
    nothing_delivered(&env, &out, &["another-jobs-token".into()]);
    assert_eq!(endpoint.log().len(), 1, "a refusal was retried");
}

#[test]
fn azures_sign_in_page_is_a_refusal_not_a_token() {
    let endpoint = azure_endpoint(&["--html"]);
    let env = azure_job(&endpoint);
    let out = env.vault_ci(assume(&[]));
    out.fails(
        1,
        "vault-ci: Azure DevOps' OIDC token endpoint answered HTTP 203 Non Authoritative \
         Information with an HTML page, not a token: SYSTEM_ACCESSTOKEN was refused: map this \
         job's own System.AccessToken into the step (env: SYSTEM_ACCESSTOKEN: $(System.AccessToken))",
    );
    nothing_delivered(&env, &out, &[endpoint.str("/access_token")]);
}

#[test]
fn an_azure_service_connection_no_task_references_is_named() {
    let endpoint = azure_endpoint(&[]);
    let env = azure_job(&endpoint);
    let unknown = "11111111-2222-4333-8444-555555555555";
    env.vault_ci(assume(&["--service-connection-id", unknown]))
        .fails(
            1,
            &format!(
                "vault-ci: Azure DevOps' OIDC token endpoint answered HTTP 404 Not Found for the \
                 service connection {unknown}: no task of this pipeline references it (a task input \
                 such as azureSubscription must name it), or it is not its ID (the resourceId in its \
                 settings page's URL)"
            ),
        );
}

#[test]
fn an_endless_or_a_late_azure_answer_is_cut_off() {
    let endpoint = azure_endpoint(&["--huge", &(8u64 << 20).to_string()]);
    let env = azure_job(&endpoint);
    let out = env.vault_ci(assume(&[]));
    out.fails(
        1,
        "vault-ci: Azure DevOps' OIDC token endpoint sent an unexpected reply: the answer is larger \
         than 1048576 bytes; is SYSTEM_OIDCREQUESTURI right?",
    );
    nothing_delivered(&env, &out, &[endpoint.str("/access_token")]);
    assert_eq!(endpoint.log().len(), 1, "it was retried");

    let endpoint = azure_endpoint(&["--slow", "5"]);
    let env = azure_job(&endpoint);
    let out = env.vault_ci(assume(&["--attempt-timeout", "1", "--max-attempts", "2"]));
    out.fails_matching(
        1,
        "vault-ci: cannot reach Azure DevOps' OIDC token endpoint: .*timed out.* \\(gave up after 2 attempts\\)",
    );
    nothing_delivered(&env, &out, &[endpoint.str("/access_token")]);
    assert_eq!(endpoint.log().len(), 2);
}

#[test]
fn azure_down_for_a_moment_is_asked_again() {
    let endpoint = azure_endpoint(&["--fail", "2"]);
    let env = azure_job(&endpoint);
    let out = env.vault_ci(assume(&[]));
    out.success();
    assert!(
        out.stderr
            .contains("Azure DevOps' OIDC token endpoint answered HTTP 503 Service Unavailable"),
        "{out}"
    );
    assert_eq!(endpoint.log().len(), 3);
}

#[test]
fn an_azure_token_for_another_audience_is_refused_before_sts() {
    let endpoint = azure_endpoint(&["--aud", "api://SomethingElse"]);
    let env = azure_job(&endpoint);
    let out = env.vault_ci(assume(&[]));
    out.fails(
        1,
        "vault-ci: Azure DevOps' OIDC token endpoint answered a token for audience \
         api://SomethingElse, not api://AzureADTokenExchange or fb60f99c-7a34-4190-8149-302f77469936: \
         Azure DevOps sets the audience itself; is SYSTEM_OIDCREQUESTURI right?",
    );
    nothing_delivered(&env, &out, &[endpoint.str("/access_token")]);
}

// ── Google's metadata server ───────────────────────────────────────────────

#[test]
fn an_impostor_without_metadata_flavor_is_not_believed() {
    let metadata = gcp_metadata(&["--no-flavor"]);
    let env = cloud_build_step(&metadata);
    let out = env.vault_ci(assume(&[]));
    out.fails(
        1,
        "vault-ci: what answered at 127.0.0.1 is not Google's metadata server (no \
         `Metadata-Flavor: Google` in its answer); is GCE_METADATA_HOST right?",
    );
    nothing_delivered(&env, &out, &[]);
}

#[test]
fn a_captive_portals_page_and_a_missing_service_account_are_named() {
    let metadata = gcp_metadata(&["--html"]);
    let env = cloud_build_step(&metadata);
    env.vault_ci(assume(&[])).fails(
        1,
        "vault-ci: Google's metadata server answered HTTP 200 OK with an HTML page, not a token: \
         the identity token was refused to this runtime",
    );
    let metadata = gcp_metadata(&["--no-account"]);
    let env = cloud_build_step(&metadata);
    env.vault_ci(assume(&[])).fails(
        1,
        "vault-ci: Google's metadata server answered HTTP 404 Not Found: this runtime has no default \
         service account; give the build or service one",
    );
    assert_eq!(
        metadata.log().len(),
        1,
        "a missing account was asked for again"
    );
}

#[test]
fn an_endless_a_late_or_a_failing_metadata_server() {
    let metadata = gcp_metadata(&["--huge", &(8u64 << 20).to_string()]);
    let env = cloud_build_step(&metadata);
    env.vault_ci(assume(&[])).fails(
        1,
        "vault-ci: Google's metadata server sent an unexpected reply: the answer is larger than \
         1048576 bytes; is GCE_METADATA_HOST right?",
    );
    let metadata = gcp_metadata(&["--slow", "5"]);
    let env = cloud_build_step(&metadata);
    env.vault_ci(assume(&["--attempt-timeout", "1", "--max-attempts", "2"]))
        .fails_matching(
            1,
            "vault-ci: cannot reach Google's metadata server: .*timed out.* \\(gave up after 2 attempts\\)",
        );
    let metadata = gcp_metadata(&["--fail", "1"]);
    let env = cloud_build_step(&metadata);
    env.vault_ci(assume(&[])).success();
    assert_eq!(metadata.log().len(), 2);
}

#[test]
fn a_google_token_for_another_audience_is_refused_before_sts() {
    let metadata = gcp_metadata(&["--aud", "https://elsewhere.example"]);
    let env = cloud_build_step(&metadata);
    let out = env.vault_ci(assume(&[]));
    out.fails(
        1,
        "vault-ci: Google's metadata server answered a token for audience https://elsewhere.example, \
         not the sts.amazonaws.com it was asked for; is GCE_METADATA_HOST right?",
    );
    nothing_delivered(&env, &out, &[]);
}

// ── Forgejo ─────────────────────────────────────────────────────────────────

#[test]
fn forgejo_refuses_another_jobs_request_token() {
    let endpoint = github_endpoint(&["--flavor", "forgejo"]);
    let mut env = forgejo_job(&endpoint);
    env.set("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "another-jobs-token");
    let out = env.vault_ci(assume(&[]));
    out.fails(
        1,
        "vault-ci: Forgejo's OIDC token endpoint answered HTTP 401 Unauthorized: the request token \
         was refused: it belongs to another job or has expired; request the token in the job that \
         uses it",
    );
    nothing_delivered(&env, &out, &["another-jobs-token".into()]);
    assert_eq!(endpoint.log().len(), 1);
}

#[test]
fn forgejos_hostile_twins_endless_late_or_for_another_audience() {
    let endpoint = github_endpoint(&["--flavor", "forgejo", "--huge", &(8u64 << 20).to_string()]);
    let env = forgejo_job(&endpoint);
    env.vault_ci(assume(&[])).fails(
        1,
        "vault-ci: Forgejo's OIDC token endpoint sent an unexpected reply: the answer is larger \
         than 1048576 bytes; is ACTIONS_ID_TOKEN_REQUEST_URL right?",
    );
    let endpoint = github_endpoint(&["--flavor", "forgejo", "--slow", "5"]);
    let env = forgejo_job(&endpoint);
    env.vault_ci(assume(&["--attempt-timeout", "1", "--max-attempts", "2"]))
        .fails_matching(
            1,
            "vault-ci: cannot reach Forgejo's OIDC token endpoint: .*timed out.* \\(gave up after 2 attempts\\)",
        );
    let endpoint = github_endpoint(&["--flavor", "forgejo", "--aud", "https://codeberg.org/acme"]);
    let env = forgejo_job(&endpoint);
    let out = env.vault_ci(assume(&[]));
    out.fails(
        1,
        "vault-ci: Forgejo's OIDC token endpoint answered a token for audience \
         https://codeberg.org/acme, not the sts.amazonaws.com it was asked for; is \
         ACTIONS_ID_TOKEN_REQUEST_URL right?",
    );
    nothing_delivered(&env, &out, &[endpoint.str("/request_token")]);
}
