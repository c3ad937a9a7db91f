//! The test harness: real peers on 127.0.0.1 (moto's STS, a GitHub-shaped token
//! endpoint, an HTTP proxy — see tests/peers/) and a builder that runs the real
//! vault-ci binary in a clean environment, so each test reads as a user's story.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};

use serde_json::Value;
use tempfile::TempDir;

pub const ACCOUNT: &str = "123456789012";

/// STS's answer (moto's too) to keys whose secret is wrong, as vault-ci quotes it.
pub const SIGNATURE_DOES_NOT_MATCH: &str = "SignatureDoesNotMatch: The request signature we \
    calculated does not match the signature you provided. Check your AWS Secret Access Key and \
    signing method. Consult the service documentation for details.";

/// The vault-ci under test: this build's, unless `VAULT_CI_TEST_BINARY` names another
/// (a cross-built `vault-ci.exe` or arm64 binary: scripts/test-platforms.sh), which is
/// then run through `VAULT_CI_TEST_LAUNCHER`, a space-separated prefix such as `wine`
/// or `qemu-aarch64-static` (empty: run it directly).
pub struct Binary {
    pub path: String,
    pub launcher: Vec<String>,
    /// A Windows binary (`.exe`): its commands are Windows programs.
    pub windows: bool,
}

pub fn binary() -> &'static Binary {
    static BINARY: OnceLock<Binary> = OnceLock::new();
    BINARY.get_or_init(|| {
        let path = std::env::var("VAULT_CI_TEST_BINARY")
            .ok()
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| env!("CARGO_BIN_EXE_vault-ci").to_string());
        let launcher = std::env::var("VAULT_CI_TEST_LAUNCHER")
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect();
        let windows = cfg!(windows) || path.to_ascii_lowercase().ends_with(".exe");
        Binary {
            path,
            launcher,
            windows,
        }
    })
}

/// A peer process. It exits when its stdin closes, i.e. when this test binary
/// exits, however it exits: no server outlives the tests.
pub struct Peer {
    pub info: Value,
    _stdin: Mutex<ChildStdin>,
    _child: Mutex<Child>,
}

impl Peer {
    fn start(args: &[&str]) -> Peer {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/peer.py");
        let mut child = Command::new(python())
            .arg(script)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start peer {args:?}: {e}"));
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let info: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("peer {args:?} did not start ({e}): {line:?}"));
        let stdin = child.stdin.take().unwrap();
        Peer {
            info,
            _stdin: Mutex::new(stdin),
            _child: Mutex::new(child),
        }
    }

    pub fn str(&self, pointer: &str) -> String {
        self.info
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("peer info has no {pointer}: {}", self.info))
            .to_string()
    }

    pub fn endpoint(&self) -> String {
        self.str("/endpoint")
    }

    pub fn role(&self, name: &str) -> String {
        self.str(&format!("/roles/{name}"))
    }

    /// What the peer recorded (token endpoint and proxy serve `/_log`).
    pub fn log(&self) -> Vec<Value> {
        self.fetch("/log")
    }

    /// The JSON list served at the URL the ready line has at `pointer`
    /// (`/log`, or the proxy's `/auth`).
    pub fn fetch(&self, pointer: &str) -> Vec<Value> {
        let url = self.str(pointer);
        let body = Command::new(python())
            .args([
                "-c",
                "import sys,urllib.request;print(urllib.request.urlopen(sys.argv[1]).read().decode())",
                &url,
            ])
            .output()
            .unwrap();
        serde_json::from_slice(&body.stdout).unwrap()
    }
}

fn python() -> &'static str {
    "python3"
}

/// moto without authentication: web-identity exchanges (moto answers those
/// with HTTP 500 when its IAM enforcement is on).
pub fn moto() -> &'static Peer {
    static PEER: OnceLock<Peer> = OnceLock::new();
    PEER.get_or_init(|| Peer::start(&["moto"]))
}

/// moto enforcing SigV4 and IAM policies: the deploy user can do nothing but
/// sts:AssumeRole on the deploy role.
pub fn moto_auth() -> &'static Peer {
    static PEER: OnceLock<Peer> = OnceLock::new();
    PEER.get_or_init(|| Peer::start(&["moto", "--auth"]))
}

/// moto over HTTPS with a throwaway CA (`/ca_bundle`).
pub fn moto_tls() -> &'static Peer {
    static PEER: OnceLock<(Peer, TempDir)> = OnceLock::new();
    &PEER
        .get_or_init(|| {
            let dir = TempDir::new().unwrap();
            let peer = Peer::start(&["moto", "--tls", dir.path().to_str().unwrap()]);
            (peer, dir)
        })
        .0
}

/// An endpoint shaped like GitHub Actions' runner OIDC endpoint.
pub fn github() -> &'static Peer {
    static PEER: OnceLock<Peer> = OnceLock::new();
    PEER.get_or_init(|| github_endpoint(&[]))
}

/// A token endpoint for one test (e.g. `&["--fail", "2"]`); it stops when the
/// returned peer is dropped.
pub fn github_endpoint(args: &[&str]) -> Peer {
    let mut all = vec!["github-token"];
    all.extend_from_slice(args);
    Peer::start(&all)
}

/// Any peer of tests/peers/peer.py, for one test; it stops when dropped.
pub fn start_peer(args: &[&str]) -> Peer {
    Peer::start(args)
}

/// An STS that answers with scripted errors first (see tests/peers/README.md).
pub fn faulty_sts(args: &[&str]) -> Peer {
    let mut all = vec!["faulty-sts"];
    all.extend_from_slice(args);
    Peer::start(&all)
}

pub fn proxy() -> &'static Peer {
    static PEER: OnceLock<Peer> = OnceLock::new();
    PEER.get_or_init(|| Peer::start(&["proxy"]))
}

/// A GitHub-shaped RS256 token, e.g. `mint_token(&["--exp-in", "-60"])`, minted
/// in-process with the options of `peer.py mint-token` (`--aud`, `--sub`, `--iss`,
/// `--exp-in`, `--claims JSON`) and the same claims: GitHub's, for a push to main.
/// `--ci NAME` takes another CI's claim set instead, as its documentation shows
/// its tokens (see [`ci`]): `azure` (a pipeline's), `azure-connection`, `entra`,
/// `jenkins`, `forgejo`, `google`.
pub fn mint_token(args: &[&str]) -> String {
    tokens::mint(args)
}

/// An Azure DevOps endpoint of tests/peers/peer.py (`azure-token`), for one test.
pub fn azure_endpoint(args: &[&str]) -> Peer {
    let mut all = vec!["azure-token"];
    all.extend_from_slice(args);
    Peer::start(&all)
}

/// A Google metadata server of tests/peers/peer.py (`gcp-metadata`), for one test.
pub fn gcp_metadata(args: &[&str]) -> Peer {
    let mut all = vec!["gcp-metadata"];
    all.extend_from_slice(args);
    Peer::start(&all)
}

/// The jobs the `--ci` claim sets are for.
pub mod ci {
    pub const AZURE_ORG: &str = "acme";
    pub const AZURE_ORG_ID: &str = "0ca3ddd9-f0b0-4635-a98c-5866526961b6";
    pub const AZURE_PROJECT: &str = "web";
    pub const AZURE_PROJECT_ID: &str = "271ef6f7-5998-4b0f-86fb-4b54d9129990";
    pub const AZURE_CONNECTION: &str = "aws-deploy";
    pub const ENTRA_TENANT: &str = "ff882432-09b0-437b-bd22-ca13c0037ded";
    /// The subject Teleport's RFD 211 published for this tenant, organization and connection.
    pub const ENTRA_SUB: &str = "/eid1/c/pub/t/MiSI_7AJe0O9IsoTwAN97Q/a/rISbSSETf0KqFyZ8ppdXmA/sc/\
        0ca3ddd9-f0b0-4635-a98c-5866526961b6/64171687-7a59-4fce-b2c8-823278dcf176";
    pub const JENKINS_ISSUER: &str = "https://jenkins.acme.com/oidc";
    pub const JENKINS_JOB_URL: &str = "https://jenkins.acme.com/job/team/job/deploy/";
    pub const FORGEJO_INSTANCE: &str = "https://codeberg.org";
    pub const FORGEJO_REPOSITORY: &str = "acme/app";
    pub const GOOGLE_ACCOUNT_ID: &str = "100018646976219416293";
}

mod tokens {
    use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    use ring::rand::{SecureRandom, SystemRandom};
    use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
    use serde_json::{Value, json};

    /// A fixed RSA-2048 key for test tokens only (PKCS#1 DER): nothing verifies
    /// their signature but its shape, and a fixed key costs no key generation.
    const KEY: &[u8] = include_bytes!("fixtures/token-signing-key.der");

    struct Rs256(RsaKeyPair);

    impl signature::Signer<Vec<u8>> for Rs256 {
        fn try_sign(&self, message: &[u8]) -> Result<Vec<u8>, signature::Error> {
            let mut signature = vec![0; self.0.public().modulus_len()];
            self.0
                .sign(
                    &RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    message,
                    &mut signature,
                )
                .map_err(|_| signature::Error::new())?;
            Ok(signature)
        }
    }

    impl JwtSigner for Rs256 {
        fn algorithm(&self) -> Algorithm {
            Algorithm::RS256
        }
    }

    /// jsonwebtoken's backend for the tests: RS256 signing through ring.
    static RING: CryptoProvider = CryptoProvider {
        signer_factory: |algorithm, key| {
            assert_eq!(*algorithm, Algorithm::RS256, "test tokens are RS256");
            let pair = RsaKeyPair::from_der(key.as_bytes()).expect("the fixture is an RSA key");
            Ok(Box::new(Rs256(pair)) as Box<dyn JwtSigner>)
        },
        verifier_factory: |_, _| -> jsonwebtoken::errors::Result<Box<dyn JwtVerifier>> {
            Err(jsonwebtoken::errors::ErrorKind::InvalidAlgorithm.into())
        },
        key_utils: KeyUtils::new_unimplemented(),
    };

    fn hex(bytes: usize) -> String {
        let mut buf = vec![0u8; bytes];
        SystemRandom::new().fill(&mut buf).unwrap();
        buf.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn mint(args: &[&str]) -> String {
        let _ = RING.install_default();
        let option = |name: &str| {
            args.iter()
                .position(|a| *a == name)
                .map(|i| {
                    args.get(i + 1)
                        .unwrap_or_else(|| panic!("{name} needs a value"))
                })
                .map(|v| v.to_string())
        };
        for (i, arg) in args.iter().enumerate() {
            let known = ["--aud", "--sub", "--iss", "--exp-in", "--claims", "--ci"];
            assert!(
                !arg.starts_with("--")
                    || known.contains(arg)
                    || i > 0 && known.contains(&args[i - 1]),
                "mint_token: unknown option {arg}"
            );
        }
        let repository = "octo-org/octo-repo";
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let exp = now + option("--exp-in").map_or(300, |v| v.parse().expect("--exp-in SECONDS"));
        if let Some(ci) = option("--ci").filter(|ci| ci != "github") {
            let mut claims = other_ci(&ci, now, exp);
            for (name, flag) in [("sub", "--sub"), ("aud", "--aud"), ("iss", "--iss")] {
                if let Some(value) = option(flag) {
                    claims[name] = json!(value);
                }
            }
            if let Some(extra) = option("--claims") {
                let extra: Value = serde_json::from_str(&extra).expect("--claims JSON");
                for (k, v) in extra.as_object().expect("--claims is an object") {
                    claims[k] = v.clone();
                }
            }
            let mut header = Header::new(Algorithm::RS256);
            // The oidc-provider plugin's kid is the credential's ID.
            header.kid = Some(match ci.as_str() {
                "jenkins" => "aws-oidc".into(),
                _ => hex(20),
            });
            return jsonwebtoken::encode(&header, &claims, &EncodingKey::from_rsa_der(KEY))
                .unwrap();
        }
        // GitHub's documented timing: exp = iat + 300, nbf = iat - 600; an
        // expired token keeps them consistent by moving iat back.
        let iat = now.min(exp - 300);
        let sha = hex(20);
        let workflow_ref = format!("{repository}/.github/workflows/deploy.yml@refs/heads/main");
        let mut claims = json!({
            "jti": hex(16),
            "sub": option("--sub").unwrap_or_else(|| format!("repo:{repository}:ref:refs/heads/main")),
            "aud": option("--aud").unwrap_or_else(|| "https://github.com/octo-org".into()),
            "ref": "refs/heads/main",
            "sha": sha,
            "repository": repository,
            "repository_owner": "octo-org",
            "repository_owner_id": "65",
            "run_id": (u64::from_str_radix(&hex(4), 16).unwrap() % 10_000_000_000).to_string(),
            "run_number": "10",
            "run_attempt": "1",
            "repository_visibility": "private",
            "repository_id": "74",
            "actor_id": "12",
            "actor": "octocat",
            "workflow": "deploy",
            "head_ref": "",
            "base_ref": "",
            "event_name": "push",
            "ref_protected": "false",
            "ref_type": "branch",
            "workflow_ref": workflow_ref,
            "workflow_sha": sha,
            "job_workflow_ref": workflow_ref,
            "job_workflow_sha": sha,
            "runner_environment": "github-hosted",
            "iss": option("--iss").unwrap_or_else(|| "https://token.actions.githubusercontent.com".into()),
            "nbf": iat - 600,
            "exp": exp,
            "iat": iat,
        });
        if let Some(extra) = option("--claims") {
            let extra: Value = serde_json::from_str(&extra).expect("--claims JSON");
            for (k, v) in extra.as_object().expect("--claims is an object") {
                claims[k] = v.clone();
            }
        }
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some("0F7B2C5A9E1D3B4C6A8F0E2D4C6B8A0F1E3D5C7B".into());
        header.x5t = Some("D3ssWp4dO0xqjw4tTGuKDx49XHs".into());
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_rsa_der(KEY)).unwrap()
    }

    /// The claims each CI's documentation (or a published token) shows, with
    /// `exp` as asked and the rest of the timing as that CI sets it.
    fn other_ci(ci: &str, now: i64, exp: i64) -> Value {
        use super::ci::*;
        let uuid = || {
            let h = hex(16);
            format!(
                "{}-{}-{}-{}-{}",
                &h[..8],
                &h[8..12],
                &h[12..16],
                &h[16..20],
                &h[20..]
            )
        };
        let iat = now.min(exp - 300);
        match ci {
            // Azure DevOps-issued: a pipeline's own token, five minutes to live.
            "azure" => json!({
                "jti": uuid(), "sub": format!("p://{AZURE_ORG}/{AZURE_PROJECT}/deploy"),
                "aud": "api://AzureADTokenExchange", "org_id": AZURE_ORG_ID,
                "prj_id": AZURE_PROJECT_ID, "def_id": "1", "rpo_id": "acme/app",
                "rpo_uri": "https://dev.azure.com/acme/web/_git/app", "rpo_ver": hex(20),
                "rpo_ref": "refs/heads/main", "run_id": "5",
                "iss": format!("https://vstoken.dev.azure.com/{AZURE_ORG_ID}"),
                "nbf": iat - 600, "exp": exp, "iat": iat,
            }),
            // A service connection's token: the standard claims alone.
            "azure-connection" => json!({
                "jti": uuid(),
                "sub": format!("sc://{AZURE_ORG}/{AZURE_PROJECT}/{AZURE_CONNECTION}"),
                "aud": "api://AzureADTokenExchange",
                "iss": format!("https://vstoken.dev.azure.com/{AZURE_ORG_ID}"),
                "nbf": iat - 600, "exp": exp, "iat": iat,
            }),
            // The Microsoft Entra issuer's token for the same service connection.
            "entra" => json!({
                "aud": "fb60f99c-7a34-4190-8149-302f77469936",
                "iss": format!("https://login.microsoftonline.com/{ENTRA_TENANT}/v2.0"),
                "iat": iat, "nbf": iat, "exp": exp, "aio": hex(24),
                "azp": "499b84ac-1321-427f-aa17-267ca6975798", "azpacr": "2", "idtyp": "app",
                "oid": uuid(), "rh": format!("1.{}.", hex(20)), "sub": ENTRA_SUB,
                "tid": ENTRA_TENANT, "uti": hex(11), "ver": "2.0",
                "xms_ficinfo": "CAAQARgAIAA", "xms_idrel": "7 30",
            }),
            // The oidc-provider plugin's defaults: sub ${JOB_URL}, build_number an integer.
            "jenkins" => json!({
                "iss": JENKINS_ISSUER, "aud": "sts.amazonaws.com", "exp": exp, "iat": iat,
                "sub": JENKINS_JOB_URL, "build_number": 42,
            }),
            // Forgejo's documented claims, for a push to main.
            "forgejo" => json!({
                "actor": "user1", "aud": format!("{FORGEJO_INSTANCE}/acme"), "event_name": "push",
                "exp": exp, "iat": iat, "iss": format!("{FORGEJO_INSTANCE}/api/actions"), "nbf": iat,
                "ref": "refs/heads/main", "ref_protected": "false", "ref_type": "branch",
                "repository": FORGEJO_REPOSITORY, "repository_owner": "acme", "run_attempt": "1",
                "run_id": "43", "run_number": "43", "sha": hex(20),
                "sub": format!("repo:{FORGEJO_REPOSITORY}:ref:refs/heads/main"),
                "workflow": "deploy.yml",
                "workflow_ref": format!("{FORGEJO_REPOSITORY}/.forgejo/workflows/deploy.yml@refs/heads/main"),
            }),
            // A service account's token from the metadata server (format=full).
            "google" => json!({
                "aud": "sts.amazonaws.com", "azp": GOOGLE_ACCOUNT_ID,
                "email": "deploy@acme-build.iam.gserviceaccount.com", "email_verified": true,
                "exp": exp, "iat": iat, "iss": "https://accounts.google.com", "sub": GOOGLE_ACCOUNT_ID,
            }),
            other => panic!("mint_token: no claim set for --ci {other}"),
        }
    }
}

pub fn assumed_role(role: &str, session: &str) -> String {
    format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}")
}

/// A clean working directory and environment: only PATH (for sh, aws, python)
/// and what the test sets, so nothing on this machine leaks into a test.
pub struct Env {
    pub dir: TempDir,
    vars: BTreeMap<String, String>,
}

impl Env {
    pub fn new() -> Env {
        let dir = TempDir::new().unwrap();
        let mut vars = BTreeMap::new();
        for keep in ["PATH", "PYENV_ROOT", "SYSTEMROOT", "LANG"] {
            if let Ok(value) = std::env::var(keep) {
                vars.insert(keep.to_string(), value);
            }
        }
        // A launcher's own settings (WINEPREFIX, WINEDEBUG, QEMU_…) reach it.
        if !binary().launcher.is_empty() {
            for (name, value) in std::env::vars() {
                if name.starts_with("WINE") || name.starts_with("QEMU_") {
                    vars.insert(name, value);
                }
            }
        }
        let home = dir.path().join("home");
        std::fs::create_dir(&home).unwrap();
        vars.insert("HOME".into(), home.display().to_string());
        vars.insert(
            "AWS_CONFIG_FILE".into(),
            home.join("aws-config").display().to_string(),
        );
        vars.insert(
            "AWS_SHARED_CREDENTIALS_FILE".into(),
            home.join("aws-credentials").display().to_string(),
        );
        // No instance metadata here: vault-ci, the aws CLI and the SDKs would
        // each wait for 169.254.169.254 as their last resort. The tests of the
        // instance's role remove this and point them at an endpoint of their own.
        vars.insert("AWS_EC2_METADATA_DISABLED".into(), "true".into());
        // botocore (the aws CLI, boto3) gives a credentials endpoint one second and
        // one attempt: on a loaded two-core machine a served step can miss that.
        // How fast the endpoint answers is bench/'s to measure, not a test's.
        vars.insert("AWS_METADATA_SERVICE_TIMEOUT".into(), "10".into());
        vars.insert("AWS_METADATA_SERVICE_NUM_ATTEMPTS".into(), "3".into());
        Env { dir, vars }
    }

    pub fn set(&mut self, name: &str, value: impl Into<String>) -> &mut Self {
        self.vars.insert(name.to_string(), value.into());
        self
    }

    pub fn remove(&mut self, name: &str) -> &mut Self {
        self.vars.remove(name);
        self
    }

    /// Points vault-ci and every AWS tool run under it at this STS peer.
    pub fn sts(&mut self, peer: &Peer) -> &mut Self {
        self.set("AWS_ENDPOINT_URL", peer.endpoint())
            .set("AWS_REGION", "us-east-1")
            .set("AWS_DEFAULT_REGION", "us-east-1")
    }

    /// The AssumeRole-only deploy user's keys, as a CI secret would provide them.
    pub fn deploy_user(&mut self, peer: &Peer) -> &mut Self {
        self.set("AWS_ACCESS_KEY_ID", peer.str("/deploy_user/access_key_id"))
            .set(
                "AWS_SECRET_ACCESS_KEY",
                peer.str("/deploy_user/secret_access_key"),
            )
    }

    /// A GitHub Actions step with `permissions: id-token: write`.
    pub fn github_actions(&mut self) -> &mut Self {
        self.github_actions_with(github())
    }

    /// The same, with a token endpoint of the test's own, whose log only it sees.
    pub fn github_actions_with(&mut self, gh: &Peer) -> &mut Self {
        let env_file = self.path("github_env");
        let output_file = self.path("github_output");
        std::fs::write(&env_file, "").unwrap();
        std::fs::write(&output_file, "").unwrap();
        self.set("GITHUB_ACTIONS", "true")
            .set("CI", "true")
            .set("GITHUB_RUN_ID", "4242")
            .set("GITHUB_RUN_ATTEMPT", "2")
            .set("GITHUB_REPOSITORY", "octo-org/octo-repo")
            .set("ACTIONS_ID_TOKEN_REQUEST_URL", gh.str("/url"))
            .set("ACTIONS_ID_TOKEN_REQUEST_TOKEN", gh.str("/request_token"))
            .set("GITHUB_ENV", env_file.display().to_string())
            .set("GITHUB_OUTPUT", output_file.display().to_string())
    }

    /// Puts a stand-in for a CI's own CLI (`buildkite-agent`, `circleci`) first on
    /// PATH: it records its arguments in `<name>.args` and prints `token`.
    #[cfg(unix)]
    pub fn fake_cli(&mut self, name: &str, token: &str) -> &mut Self {
        use std::os::unix::fs::PermissionsExt;
        let bin = self.path("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let script = bin.join(name);
        let args_file = self.path(&format!("{name}.args"));
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{}'\nprintf '%s\\n' '{token}'\n",
                args_file.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = format!(
            "{}:{}",
            bin.display(),
            self.vars.get("PATH").cloned().unwrap_or_default()
        );
        self.set("PATH", path)
    }

    /// The arguments a fake CLI was called with, one per line.
    #[cfg(unix)]
    pub fn fake_cli_args(&self, name: &str) -> Vec<String> {
        self.read(&format!("{name}.args"))
            .lines()
            .map(str::to_string)
            .collect()
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_default()
    }

    /// The file `name` (under the test's directory, or a whole path) holds
    /// exactly `expected`.
    #[track_caller]
    pub fn file_is(&self, name: impl AsRef<Path>, expected: &str) {
        let path = self.dir.path().join(name);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        assert_eq!(text, expected, "{} differs", path.display());
    }

    /// Runs vault-ci with these arguments in this environment.
    pub fn vault_ci<I, S>(&self, args: I) -> Outcome
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.vault_ci_command(args).output().into()
    }

    /// The command that runs the vault-ci under test ([`binary`]) with these arguments.
    pub fn vault_ci_command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let binary = binary();
        match binary.launcher.split_first() {
            None => self.command(&binary.path, args),
            Some((launcher, prefix)) => {
                let mut command = self.command(launcher, prefix);
                command.arg(&binary.path).args(args);
                command
            }
        }
    }

    /// Runs any program (the aws CLI, sh, python) in this environment.
    pub fn run<I, S>(&self, program: &str, args: I) -> Outcome
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.command(program, args).output().into()
    }

    pub fn command<I, S>(&self, program: &str, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut command = Command::new(program);
        command
            .args(args)
            .env_clear()
            .envs(&self.vars)
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        default_job_signals(&mut command);
        command
    }

    /// Runs vault-ci with `args` followed by `-- sh -c …` for a command that exits
    /// 42 on SIGTERM, sends SIGTERM to vault-ci's pid once the command is up, and
    /// returns the exit code vault-ci ends with.
    #[cfg(unix)]
    pub fn exit_code_after_sigterm(&self, args: &[String]) -> Option<i32> {
        use std::io::{BufRead, BufReader};
        let mut argv = args.to_vec();
        argv.extend(
            [
                "--",
                "sh",
                "-c",
                "trap 'exit 42' TERM; echo ready; while :; do sleep 0.1; done",
            ]
            .map(String::from),
        );
        let mut child = self
            .vault_ci_command(&argv)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready");
        let killed = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        child.wait().unwrap().code()
    }

    /// `aws sts get-caller-identity` with extra variables (e.g. from a sink),
    /// returning the caller ARN.
    pub fn caller_arn(&self, extra: &BTreeMap<String, String>) -> String {
        let mut command = self.command("aws", ["sts", "get-caller-identity", "--output", "json"]);
        command.envs(extra);
        let outcome: Outcome = command.output().into();
        outcome.json()["Arn"].as_str().unwrap().to_string()
    }
}

pub struct Outcome {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl From<std::io::Result<std::process::Output>> for Outcome {
    fn from(output: std::io::Result<std::process::Output>) -> Self {
        let output = output.expect("the program could not be started");
        Outcome {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Outcome {
    #[track_caller]
    pub fn success(&self) -> &Self {
        assert_eq!(self.code, Some(0), "expected success:\n{self}");
        self
    }

    /// A failure with this exit code, told on stderr in exactly one `vault-ci: `
    /// line, which is `line` (prefix included), whole. Hint and usage lines
    /// indented under it may follow.
    #[track_caller]
    pub fn fails(&self, code: i32, line: &str) -> &Self {
        let error = self.error_line(code);
        assert_eq!(error, line, "the error line differs:\n{self}");
        self
    }

    /// The same, for a line with parts the test cannot know (a time another
    /// process chose, the resolver's words): `pattern` is a regex matched against
    /// the whole line. What the test knows (its paths, a peer's port) goes into
    /// [`Outcome::fails`] with `format!`.
    #[track_caller]
    pub fn fails_matching(&self, code: i32, pattern: &str) -> &Self {
        let error = self.error_line(code);
        let whole = regex_lite::Regex::new(&format!("^(?:{pattern})$"))
            .unwrap_or_else(|e| panic!("bad pattern {pattern:?}: {e}"));
        assert!(
            whole.is_match(error),
            "the error line does not match\n  {pattern}\n{self}"
        );
        self
    }

    /// The exit code, and the one `vault-ci: ` line of stderr; no panic.
    #[track_caller]
    fn error_line(&self, code: i32) -> &str {
        assert_eq!(self.code, Some(code), "expected exit {code}:\n{self}");
        assert!(
            !self.stderr.contains("panicked") && !self.stderr.contains("internal error at"),
            "panic:\n{self}"
        );
        let errors: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| l.starts_with("vault-ci: "))
            .collect();
        match errors[..] {
            [line] => line,
            _ => panic!("expected one `vault-ci: ` line:\n{self}"),
        }
    }

    /// Legacy, for tests/packaging.rs and tests/trust.rs until they move to
    /// [`Outcome::fails`]: a failure whose first `vault-ci: ` line contains every
    /// fragment. New tests state the whole line.
    #[track_caller]
    pub fn failure(&self, code: i32, fragments: &[&str]) -> &Self {
        assert_eq!(self.code, Some(code), "expected exit {code}:\n{self}");
        let error = self
            .stderr
            .lines()
            .find(|l| l.starts_with("vault-ci: "))
            .unwrap_or_else(|| panic!("no `vault-ci: ` error line:\n{self}"));
        for fragment in fragments {
            assert!(
                error.contains(fragment),
                "error line lacks {fragment:?}:\n{error}"
            );
        }
        assert!(!self.stderr.contains("panicked"), "panic:\n{self}");
        self
    }

    /// stderr has this whole line: a hint under the error, a log line.
    #[track_caller]
    pub fn stderr_has_line(&self, line: &str) -> &Self {
        assert!(
            self.stderr.lines().any(|l| l == line),
            "stderr lacks the line\n  {line}\n{self}"
        );
        self
    }

    /// stdout, exactly.
    #[track_caller]
    pub fn stdout_is(&self, expected: &str) -> &Self {
        assert_eq!(self.stdout, expected, "stdout differs:\n{self}");
        self
    }

    #[track_caller]
    pub fn json(&self) -> Value {
        self.success();
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{self}"))
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit: {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Reads a GITHUB_ENV / GITHUB_OUTPUT file as the runner does (the runner-files
/// crate), as a Windows runner when the binary under test is a Windows one.
pub fn parse_github_file(text: &str) -> BTreeMap<String, String> {
    let runner = if binary().windows {
        runner_files::Runner::Windows
    } else {
        runner_files::Runner::Unix
    };
    runner_files::read(text, runner)
        .unwrap_or_else(|why| panic!("the runner would refuse the file: {why}\n{text}"))
        .into_iter()
        .collect()
}

/// Reads `export NAME='value'` lines the way a shell does: by sourcing them.
pub fn source_exports(env: &Env, file: &Path) -> BTreeMap<String, String> {
    let script = format!(
        ". '{}' && env | grep '^AWS_'",
        file.display().to_string().replace('\'', r"'\''")
    );
    let out = env.run("sh", ["-c", &script]);
    out.success();
    out.stdout
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Every program a test runs starts with SIGINT and SIGQUIT at their defaults, as a CI
/// job's steps do, even when the tests themselves were started in the background of a
/// shell (`.ci/run &`), which starts them ignored: an ignored signal stays ignored across
/// exec (and a shell cannot trap it), so the tests that send one would see nothing happen.
fn default_job_signals(command: &mut Command) {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: signal(2) is async-signal-safe, as pre_exec requires.
        unsafe {
            command.pre_exec(|| {
                libc::signal(libc::SIGINT, libc::SIG_DFL);
                libc::signal(libc::SIGQUIT, libc::SIG_DFL);
                Ok(())
            });
        }
    }
    #[cfg(not(unix))]
    let _ = command;
}
