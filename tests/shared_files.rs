//! The shared config and credentials files (issue 23, items 6 and 7), as the
//! SDKs read them: vault-ci's verdict on what would win over its endpoint is
//! held to boto3's and the JavaScript SDK's own, asked with files of many
//! shapes; and the profile writer among the lines and the writers it does not
//! own.

use std::collections::BTreeMap;
use std::path::Path;

use crate::harness::*;

/// Files of many shapes: (name, which file, its text). The shapes the SDKs
/// read differently from each other are here on purpose.
const SHAPES: &[(&str, &str, &str)] = &[
    (
        "creds-keys",
        "credentials",
        "[default]\naws_access_key_id = AKIA\naws_secret_access_key = x\n",
    ),
    (
        "creds-upper",
        "credentials",
        "[default]\nAWS_ACCESS_KEY_ID = AKIA\nAWS_SECRET_ACCESS_KEY = x\n",
    ),
    (
        "config-default-keys",
        "config",
        "[default]\naws_access_key_id = AKIA\naws_secret_access_key = x\n",
    ),
    (
        "config-profile-default-keys",
        "config",
        "[profile default]\naws_access_key_id = AKIA\naws_secret_access_key = x\n",
    ),
    (
        "config-role-source",
        "config",
        "[profile default]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = base\n[profile base]\naws_access_key_id = AKIA\naws_secret_access_key = x\n",
    ),
    (
        "config-process",
        "config",
        "[default]\ncredential_process = false\n",
    ),
    (
        "config-upper-process",
        "config",
        "[default]\nCredential_Process = false\n",
    ),
    (
        "creds-process",
        "credentials",
        "[default]\ncredential_process = false\n",
    ),
    (
        "config-sso-session",
        "config",
        "[default]\nsso_session = s\nsso_account_id = 1\nsso_role_name = r\n[sso-session s]\nsso_start_url = https://x.awsapps.com/start\nsso_region = us-east-1\n",
    ),
    (
        "config-sso-session-alone",
        "config",
        "[default]\nsso_session = s\n",
    ),
    (
        "config-sso-region-alone",
        "config",
        "[default]\nsso_region = us-east-1\n",
    ),
    (
        "config-sso-legacy",
        "config",
        "[default]\nsso_start_url = https://x.awsapps.com/start\nsso_region = us-east-1\nsso_account_id = 1\nsso_role_name = r\n",
    ),
    (
        "config-wif",
        "config",
        "[default]\nrole_arn = arn:aws:iam::1:role/x\nweb_identity_token_file = /nonexistent\n",
    ),
    (
        "config-wif-alone",
        "config",
        "[default]\nweb_identity_token_file = /nonexistent\n",
    ),
    (
        "config-role-alone",
        "config",
        "[default]\nrole_arn = arn:aws:iam::1:role/x\n",
    ),
    (
        "config-credential-source-alone",
        "config",
        "[default]\ncredential_source = Environment\n",
    ),
    (
        "config-source-alone",
        "config",
        "[default]\nsource_profile = base\n[profile base]\naws_access_key_id = AKIA\naws_secret_access_key = x\n",
    ),
    ("config-login", "config", "[default]\nlogin_session = x\n"),
    (
        "creds-empty-values",
        "credentials",
        "[default]\naws_access_key_id =\naws_secret_access_key =\n",
    ),
    (
        "creds-key-only",
        "credentials",
        "[default]\naws_access_key_id = AKIA\n",
    ),
    (
        "creds-secret-only",
        "credentials",
        "[default]\naws_secret_access_key = x\n",
    ),
    (
        "creds-comments",
        "credentials",
        "[default]\n# aws_access_key_id = AKIA\n; aws_secret_access_key = x\nregion = us-east-1\n",
    ),
    (
        "creds-inline-comment",
        "credentials",
        "[default]\nregion = x ; aws_access_key_id = AKIA\n",
    ),
    (
        "config-other-profile",
        "config",
        "[default]\nregion = us-east-1\n[profile other]\naws_access_key_id = AKIA\naws_secret_access_key = x\n",
    ),
    (
        "creds-profile-default",
        "credentials",
        "[profile default]\naws_access_key_id = AKIA\naws_secret_access_key = x\n",
    ),
    (
        "config-quoted-default",
        "config",
        "[profile \"default\"]\naws_access_key_id = AKIA\naws_secret_access_key = x\n",
    ),
    (
        "config-two-spaces",
        "config",
        "[profile  default]\naws_access_key_id = AKIA\naws_secret_access_key = x\n",
    ),
    (
        "config-tab",
        "config",
        "[profile\tdefault]\naws_access_key_id = AKIA\naws_secret_access_key = x\n",
    ),
    (
        "config-spaced-default",
        "config",
        "[ default ]\naws_access_key_id = AKIA\naws_secret_access_key = x\n",
    ),
    (
        "creds-spaced-default",
        "credentials",
        "[ default ]\naws_access_key_id = AKIA\naws_secret_access_key = x\n",
    ),
    (
        "creds-upper-section",
        "credentials",
        "[Default]\naws_access_key_id = AKIA\naws_secret_access_key = x\n",
    ),
    (
        "creds-colon",
        "credentials",
        "[default]\naws_access_key_id: AKIA\naws_secret_access_key: x\n",
    ),
    (
        "config-continuation",
        "config",
        "[default]\nregion = us-east-1\n  aws_access_key_id = AKIA\n  aws_secret_access_key = x\n",
    ),
    (
        "config-nested",
        "config",
        "[default]\ns3 =\n  aws_access_key_id = AKIA\n  aws_secret_access_key = x\n",
    ),
    (
        "creds-indented",
        "credentials",
        "[default]\n  aws_access_key_id = AKIA\n  aws_secret_access_key = x\n",
    ),
    (
        "creds-header-comment",
        "credentials",
        "[default] ; mine\naws_access_key_id = AKIA\naws_secret_access_key = x\n",
    ),
    (
        "creds-duplicate",
        "credentials",
        "[default]\nregion = x\n[other]\n[default]\naws_access_key_id = AKIA\naws_secret_access_key = x\n",
    ),
    (
        "creds-crlf",
        "credentials",
        "[default]\r\naws_access_key_id = AKIA\r\naws_secret_access_key = x\r\n",
    ),
    (
        "creds-nospace",
        "credentials",
        "[default]\naws_access_key_id=AKIA\naws_secret_access_key=x\n",
    ),
    (
        "creds-role-source",
        "credentials",
        "[default]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = base\n[base]\naws_access_key_id = AKIA\naws_secret_access_key = x\n",
    ),
    (
        "creds-garbage-line",
        "credentials",
        "[default]\nthis is not a key\naws_access_key_id = AKIA\naws_secret_access_key = x\n",
    ),
    (
        "creds-before-section",
        "credentials",
        "aws_access_key_id = AKIA\n[default]\nregion = x\n",
    ),
    (
        "creds-upper-default-section",
        "credentials",
        "[DEFAULT]\naws_access_key_id = AKIA\naws_secret_access_key = x\n[default]\nregion = x\n",
    ),
    (
        "creds-upper-default-alone",
        "credentials",
        "[DEFAULT]\naws_access_key_id = AKIA\naws_secret_access_key = x\n",
    ),
    (
        "config-empty-header",
        "config",
        "[]\naws_access_key_id = AKIA\n[default]\nregion = x\n",
    ),
    (
        "creds-proto",
        "credentials",
        "[default]\naws_access_key_id = AKIA\naws_secret_access_key = x\n[__proto__]\n",
    ),
    (
        "config-region-only",
        "config",
        "[default]\nregion = us-east-1\noutput = json\n",
    ),
    (
        "boto2-config",
        "boto",
        "[Credentials]\naws_access_key_id = AKIA\naws_secret_access_key = x\n",
    ),
    ("empty", "config", ""),
];

/// boto3 for each directory: "endpoint" when it takes the container
/// credentials offered at a local endpoint, what it took (or how it failed)
/// otherwise.
const BOTO3: &str = r#"
import json, os, sys, threading, http.server
import botocore.session

class Endpoint(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"AccessKeyId": "FROM-ENDPOINT", "SecretAccessKey": "s",
                           "Token": "t", "Expiration": "2999-01-01T00:00:00Z"}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args): pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Endpoint)
threading.Thread(target=server.serve_forever, daemon=True).start()
os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = f"http://127.0.0.1:{server.server_port}/"
os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "t"
verdicts = {}
for d in sys.argv[1:]:
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.path.join(d, "credentials")
    os.environ["AWS_CONFIG_FILE"] = os.path.join(d, "config")
    os.environ["BOTO_CONFIG"] = os.path.join(d, "boto")
    try:
        c = botocore.session.Session().get_credentials()
        method = c.method if c else None
        verdicts[os.path.basename(d)] = "endpoint" if method == "container-role" else f"files ({method})"
    except Exception as e:
        verdicts[os.path.basename(d)] = f"files (error: {type(e).__name__})"
print(json.dumps(verdicts))
"#;

fn verdicts(env: &Env, program: &str, args: &[String]) -> BTreeMap<String, String> {
    let out = env.run(program, args);
    out.success();
    let line = out.stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{program}: {e}\n{out}"))
}

#[test]
fn what_would_win_over_the_endpoint_is_what_boto3_and_the_javascript_sdk_would_take() {
    let env = Env::new();
    let token = env.write("t.jwt", &mint_token(&[]));
    let mut dirs = Vec::new();
    for (name, file, text) in SHAPES {
        let dir = env.path(name);
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join(file), text).unwrap();
        dirs.push(dir.display().to_string());
    }
    let mut boto3 = vec!["-c".to_string(), BOTO3.to_string()];
    boto3.extend(dirs.iter().cloned());
    let boto3 = verdicts(&env, "python3", &boto3);
    let chain = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/consumers/chain.mjs");
    let mut node = vec![chain.display().to_string()];
    node.extend(dirs.iter().cloned());
    let node = verdicts(&env, "node", &node);

    let mut disagree = Vec::new();
    for (name, _, _) in SHAPES {
        let dir = env.path(name);
        let mut env = Env::new();
        env.set(
            "AWS_SHARED_CREDENTIALS_FILE",
            dir.join("credentials").display().to_string(),
        )
        .set("AWS_CONFIG_FILE", dir.join("config").display().to_string())
        .set("BOTO_CONFIG", dir.join("boto").display().to_string());
        // --duration 1 is refused after the shared files are looked at: no request.
        let out = env.vault_ci([
            "assume",
            "--token-file",
            token.to_str().unwrap(),
            "--role-arn",
            "arn:aws:iam::123456789012:role/x",
            "--duration",
            "1",
            "--refresh",
            "--",
            "true",
        ]);
        assert_eq!(out.code, Some(2), "{name}: {out}");
        let refused = out.stderr.contains("before vault-ci's endpoint")
            || out.stderr.contains("before reaching vault-ci's endpoint");
        let sdks_take_files = boto3[*name] != "endpoint" || node[*name] != "endpoint";
        if refused != sdks_take_files {
            disagree.push(format!(
                "{name}: vault-ci {}, boto3 {}, the JavaScript SDK {}\n  {}",
                if refused { "refuses" } else { "serves" },
                boto3[*name],
                node[*name],
                out.stderr
                    .lines()
                    .find(|l| l.starts_with("vault-ci: "))
                    .unwrap_or_default()
            ));
        }
    }
    assert!(
        disagree.is_empty(),
        "vault-ci and the SDKs disagree:\n{}",
        disagree.join("\n")
    );
}

/// A job that writes profiles into its HOME's shared files: a web-identity
/// token for moto's role.
fn profile_writer() -> (Env, std::path::PathBuf) {
    let mut env = Env::new();
    env.sts(moto());
    let token = env.write("t.jwt", &mint_token(&[]));
    (env, token)
}

fn write_profile(env: &Env, token: &Path, name: &str) -> std::process::Command {
    env.vault_ci_command([
        "assume",
        "--token-file",
        token.to_str().unwrap(),
        "--role-arn",
        &moto().role("gha-deploy"),
        "--aws-profile",
        name,
        "--overwrite-aws-profile",
    ])
}

#[test]
fn the_profile_writer_keeps_every_line_it_does_not_own() {
    let (env, token) = profile_writer();
    let config = "# Team settings: ask #platform before changing\n\
                  [default]\n\
                  region = eu-central-1 ; kept as written\n\
                  cli_pager=\n\
                  \n\
                  ; the old deploy profile\n\
                  [profile  deploy]\n\
                  role_arn = arn:aws:iam::123456789012:role/old\n\
                  source_profile = base\n\
                  # why it is here\n\
                  [profile base]\n\
                  Some_Future_Option: yes\n\
                  s3 =\n  max_concurrent_requests = 20\n\
                  [sso-session corp]\n\
                  sso_region = eu-west-1";
    let credentials = "# written by hand\r\n[base]\r\naws_access_key_id = AKIABASE\r\naws_secret_access_key = secret\r\n";
    env.write("home/aws-config", config);
    env.write("home/aws-credentials", credentials);
    let out: Outcome = write_profile(&env, &token, "deploy").output().into();
    out.success();
    // [profile  deploy] was the aws CLI's deploy profile: replaced where it was,
    // its comments kept; nothing else changed.
    env.file_is(
        "home/aws-config",
        "# Team settings: ask #platform before changing\n\
         [default]\n\
         region = eu-central-1 ; kept as written\n\
         cli_pager=\n\
         \n\
         ; the old deploy profile\n\
         [profile deploy]\n\
         region = us-east-1\n\
         # why it is here\n\
         [profile base]\n\
         Some_Future_Option: yes\n\
         s3 =\n  max_concurrent_requests = 20\n\
         [sso-session corp]\n\
         sso_region = eu-west-1",
    );
    let written = env.read("home/aws-credentials");
    let (kept, added) = written.split_at(credentials.len());
    assert_eq!(kept, credentials);
    assert!(
        added.starts_with("\r\n[deploy]\r\naws_access_key_id = "),
        "{written:?}"
    );
    // What the aws CLI reads from them.
    let region = env.run("aws", ["configure", "get", "region", "--profile", "deploy"]);
    region.success().stdout_is("us-east-1\n");
    let role = env.run(
        "aws",
        ["configure", "get", "role_arn", "--profile", "deploy"],
    );
    assert_eq!(role.code, Some(1), "the old role_arn stayed:\n{role}");
}

#[test]
fn several_jobs_writing_profiles_under_one_home_lose_none() {
    let (env, token) = profile_writer();
    let names: Vec<String> = (0..12).map(|i| format!("job{i}")).collect();
    let children: Vec<_> = names
        .iter()
        .map(|name| {
            write_profile(&env, &token, name)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let credentials = env.read("home/aws-credentials");
    let config = env.read("home/aws-config");
    for name in &names {
        assert!(
            credentials.contains(&format!("[{name}]\n")),
            "{name} lost:\n{credentials}"
        );
        assert!(
            config.contains(&format!("[profile {name}]\n")),
            "{name} lost:\n{config}"
        );
    }
}

#[test]
fn a_default_section_that_configparser_gives_every_profile_is_never_written_or_inherited() {
    let (env, token) = profile_writer();
    for name in ["DEFAULT", "Default"] {
        let out: Outcome = write_profile(&env, &token, name).output().into();
        out.fails(
            2,
            &format!(
                "vault-ci: --aws-profile `{name}` must not be `default` in other letters: the aws \
                 CLI and boto3 would give its keys to every profile; use `default`, or another name"
            ),
        );
    }
    // Someone else's [DEFAULT] with a role: the new profile would assume it.
    env.write(
        "home/aws-credentials",
        "[DEFAULT]\nrole_arn = arn:aws:iam::123456789012:role/other\n",
    );
    let out: Outcome = write_profile(&env, &token, "deploy").output().into();
    out.fails(
        2,
        &format!(
            "vault-ci: --aws-profile deploy: {} has role_arn in [DEFAULT], which the aws CLI and \
             boto3 give every profile, this one too: move it into the profiles it is for",
            env.path("home/aws-credentials").display()
        ),
    );
    env.file_is(
        "home/aws-credentials",
        "[DEFAULT]\nrole_arn = arn:aws:iam::123456789012:role/other\n",
    );
}
