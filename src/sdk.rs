//! What the AWS SDKs and CLIs read, and in which order, so vault-ci knows what
//! would win over the credentials it hands on: the environment variables of
//! their default credential chain and the shared files' default profile. Every
//! list of variables that vault-ci removes from a command, blanks for later
//! steps or refuses derives from the one table here.

use std::path::{Path, PathBuf};

use crate::env::Env;
use crate::ini::Options;

/// The keys, as every SDK and CLI reads them from the environment.
pub const KEYS: [&str; 3] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
];

/// The region: `AWS_REGION` for the SDKs, `AWS_DEFAULT_REGION` for the CLIs.
pub const REGION: [&str; 2] = ["AWS_REGION", "AWS_DEFAULT_REGION"];

/// The container-credentials variables vault-ci's own endpoint is reached by.
pub const ENDPOINT_URI: &str = "AWS_CONTAINER_CREDENTIALS_FULL_URI";
pub const ENDPOINT_TOKEN: &str = "AWS_CONTAINER_AUTHORIZATION_TOKEN";
pub const ENDPOINT_TOKEN_FILE: &str = "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE";

/// One environment variable of the SDKs' default credential chain.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    pub name: &'static str,
    /// Set, alone or with its partner, it makes the SDK take credentials from
    /// somewhere: not a mere detail of another setting (a session name).
    pub selects: bool,
    /// Every SDK takes it empty as unset. Not so a profile name (an empty one
    /// names the profile "") or a relative container URI (an empty one still
    /// wins over the full one).
    pub empty_is_unset: bool,
}

const fn setting(name: &'static str, selects: bool, empty_is_unset: bool) -> Setting {
    Setting {
        name,
        selects,
        empty_is_unset,
    }
}

/// The chain's variables in the order the SDKs consult them: keys, the shared
/// files' profile, web identity, then container credentials (the relative URI
/// before the full one). Instance metadata, last, has no variable.
pub const CHAIN: &[Setting] = &[
    setting("AWS_ACCESS_KEY_ID", true, true),
    setting("AWS_SECRET_ACCESS_KEY", true, true),
    setting("AWS_SESSION_TOKEN", true, true),
    // botocore's older name for the session token.
    setting("AWS_SECURITY_TOKEN", true, true),
    setting("AWS_CREDENTIAL_EXPIRATION", true, true),
    setting("AWS_PROFILE", true, false),
    setting("AWS_DEFAULT_PROFILE", true, false),
    setting("AWS_WEB_IDENTITY_TOKEN_FILE", true, true),
    setting("AWS_ROLE_ARN", true, true),
    setting("AWS_ROLE_SESSION_NAME", false, true),
    // botocore's EC2 tools' key file, read before container credentials; set
    // empty, botocore fails on it.
    setting("AWS_CREDENTIAL_FILE", true, false),
    setting("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", true, false),
    setting(ENDPOINT_URI, true, true),
    setting(ENDPOINT_TOKEN, false, true),
    setting(ENDPOINT_TOKEN_FILE, false, true),
];

/// Every variable that makes a program use other credentials than the ones
/// vault-ci gives it: what a command under `--` goes without.
pub fn credential_variables() -> impl Iterator<Item = &'static str> {
    CHAIN.iter().map(|setting| setting.name)
}

/// The settings that select credentials before vault-ci's endpoint would.
fn before_endpoint() -> impl Iterator<Item = &'static Setting> {
    CHAIN
        .iter()
        .take_while(|setting| setting.name != ENDPOINT_URI)
        .filter(|setting| setting.selects)
}

/// What would win over the endpoint and is harmless once emptied: what later
/// steps get empty values of, since a step can set variables but not unset them.
pub fn blanked_for_endpoint() -> impl Iterator<Item = &'static str> {
    before_endpoint()
        .filter(|setting| setting.empty_is_unset)
        .map(|setting| setting.name)
}

/// A variable set here that would win over the endpoint and cannot be emptied.
pub fn unremovable_for_endpoint(env: &Env) -> Option<&'static str> {
    before_endpoint()
        .filter(|setting| !setting.empty_is_unset)
        .map(|setting| setting.name)
        .find(|name| env.get(name).is_some())
}

/// The shared credentials and config files, where the SDKs look for them.
pub struct SharedFiles {
    pub credentials: Option<PathBuf>,
    pub config: Option<PathBuf>,
}

impl SharedFiles {
    pub fn of(env: &Env) -> SharedFiles {
        let home = || {
            env.path("HOME")
                .or_else(|| env.path("USERPROFILE"))
                .map(|home| home.join(".aws"))
        };
        SharedFiles {
            credentials: env
                .path("AWS_SHARED_CREDENTIALS_FILE")
                .or_else(|| home().map(|dir| dir.join("credentials"))),
            config: env
                .path("AWS_CONFIG_FILE")
                .or_else(|| home().map(|dir| dir.join("config"))),
        }
    }
}

/// Options that make botocore (the aws CLI, boto3) take credentials from the
/// default profile, or fail trying, before container credentials: what its
/// assume-role, web-identity, SSO, shared-file, login, process and config-file
/// providers look for (botocore/credentials.py).
const BOTOCORE_SELECTS: &[&str] = &[
    "aws_access_key_id",
    "role_arn",
    "web_identity_token_file",
    "sso_account_id",
    "sso_role_name",
    "login_session",
    "credential_process",
];

/// The option that makes the JavaScript SDK v3 take credentials from the
/// default profile, or fail trying (@aws-sdk/credential-provider-ini's
/// resolveProfileData): it wants keys in pairs and roles with a source.
fn javascript_selects(profile: &Options) -> Option<&'static str> {
    let has = |name: &str| profile.contains_key(name);
    let sso = [
        "sso_start_url",
        "sso_account_id",
        "sso_session",
        "sso_region",
        "sso_role_name",
    ];
    if has("aws_access_key_id") && has("aws_secret_access_key") {
        Some("aws_access_key_id")
    } else if has("role_arn")
        && [
            "source_profile",
            "credential_source",
            "web_identity_token_file",
        ]
        .into_iter()
        .any(has)
    {
        Some("role_arn")
    } else if has("credential_process") {
        Some("credential_process")
    } else if let Some(name) = sso.into_iter().find(|name| has(name)) {
        Some(name)
    } else if has("login_session") {
        Some("login_session")
    } else {
        None
    }
}

/// A file's text as the SDKs find it: None where they find none (no file, a
/// directory); an error where vault-ci will not read it (a FIFO, a device,
/// too large), as the SDKs would hang on it or choke.
fn shared_file(path: &Path) -> Result<Option<String>, String> {
    if path.is_dir() {
        return Ok(None);
    }
    match crate::files::read_text(path, crate::net::MAX_BODY) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{} cannot be read ({e})", shown(path))),
    }
}

fn shown(path: &Path) -> String {
    crate::text::one_line(&path.display().to_string()).into_owned()
}

/// Where a profile's option was found: the file, the section's header.
struct Found {
    path: PathBuf,
    header: String,
    option: &'static str,
}

/// Whether the shared files give the default profile credentials that an SDK
/// would take, or fail on, before container credentials; says where, and
/// which SDKs. Read as each SDK reads them (`crate::ini`): the config file's
/// `[default]` and `[profile default]` (and what botocore's shell-like split
/// takes for the latter), option names in any case for botocore, a
/// `[DEFAULT]` section's options given to every profile by configparser, boto
/// 2's config file (`BOTO_CONFIG`, `~/.boto`, `/etc/boto.cfg`), which botocore
/// reads last. A file botocore cannot read at all counts too: the aws CLI and
/// boto3 fail on it before they reach the endpoint.
pub fn profile_that_wins(env: &Env) -> Option<String> {
    let files = SharedFiles::of(env);
    let read = |path: &Option<PathBuf>| -> Result<Option<(PathBuf, String)>, String> {
        match path {
            Some(path) => Ok(shared_file(path)?.map(|text| (path.clone(), text))),
            None => Ok(None),
        }
    };
    let credentials = match read(&files.credentials) {
        Ok(file) => file,
        Err(why) => return Some(why),
    };
    let config = match read(&files.config) {
        Ok(file) => file,
        Err(why) => return Some(why),
    };
    let botocore = |file: &Option<(PathBuf, String)>| match file {
        Some((path, text)) => crate::ini::botocore(text).map_err(|why| {
            format!(
                "{} is no file boto3 and the aws CLI can read ({why}), so they would fail before \
                 reaching vault-ci's endpoint",
                shown(path)
            )
        }),
        None => Ok(Vec::new()),
    };
    let (boto_credentials, boto_config) = match (botocore(&credentials), botocore(&config)) {
        (Ok(c), Ok(f)) => (c, f),
        (Err(why), _) | (_, Err(why)) => return Some(why),
    };
    // botocore: the config file's last default section, then the credentials
    // file's [default] over it, option by option.
    let mut boto: Vec<(PathBuf, String, Options)> = Vec::new();
    if let (Some((path, _)), Some((header, options))) = (
        &credentials,
        boto_credentials.into_iter().find(|(h, _)| h == "default"),
    ) {
        boto.push((path.clone(), header, options));
    }
    if let (Some((path, _)), Some((header, options))) = (
        &config,
        boto_config
            .into_iter()
            .rfind(|(h, _)| crate::ini::botocore_profile(h).as_deref() == Some("default")),
    ) {
        boto.push((path.clone(), header, options));
    }
    let boto_found = BOTOCORE_SELECTS.iter().find_map(|option| {
        boto.iter()
            .find(|(_, _, options)| options.contains_key(*option))
            .map(|(path, header, _)| Found {
                path: path.clone(),
                header: header.clone(),
                option,
            })
    });
    let boto_found = boto_found.or_else(|| boto2_config(env));

    // The JavaScript SDK: the config file's [default], or its [profile
    // default] instead, then the credentials file's [default] over it.
    let mut js: Vec<(PathBuf, &str, Options)> = Vec::new();
    if let Some((path, text)) = &config {
        let sections = crate::ini::javascript(text);
        let section = |name: &str| {
            sections
                .iter()
                .find(|(s, _)| s == name)
                .map(|(_, o)| o.clone())
        };
        if let Some(options) = section("profile.default") {
            js.push((path.clone(), "profile default", options));
        } else if let Some(options) = section("default") {
            js.push((path.clone(), "default", options));
        }
    }
    if let Some((path, text)) = &credentials
        && let Some((_, options)) = crate::ini::javascript(text)
            .into_iter()
            .find(|(s, _)| s == "default")
    {
        js.insert(0, (path.clone(), "default", options));
    }
    let mut merged = Options::new();
    for (_, _, options) in js.iter().rev() {
        merged.extend(options.clone());
    }
    let js_found = javascript_selects(&merged).and_then(|option| {
        js.iter()
            .find(|(_, _, options)| options.contains_key(option))
            .map(|(path, header, _)| Found {
                path: path.clone(),
                header: header.to_string(),
                option,
            })
    });

    let (found, who) = match (boto_found, js_found) {
        (Some(found), Some(_)) => (found, "every AWS SDK"),
        (Some(found), None) => (found, "boto3 and the aws CLI"),
        (None, Some(found)) => (found, "the AWS SDK for JavaScript"),
        (None, None) => return None,
    };
    Some(format!(
        "{} has {} in [{}], which {who} would use before vault-ci's endpoint",
        shown(&found.path),
        found.option,
        found.header
    ))
}

/// boto 2's config file, whose `[Credentials]` botocore takes before
/// container credentials: `BOTO_CONFIG` alone if set, else `/etc/boto.cfg`
/// and `~/.boto`.
fn boto2_config(env: &Env) -> Option<Found> {
    let candidates: Vec<PathBuf> = match env.get("BOTO_CONFIG") {
        Some(path) => vec![PathBuf::from(path)],
        None => [
            Some(PathBuf::from("/etc/boto.cfg")),
            env.path("HOME").map(|h| h.join(".boto")),
        ]
        .into_iter()
        .flatten()
        .collect(),
    };
    candidates.into_iter().find_map(|path| {
        let text = shared_file(&path).ok()??;
        let sections = crate::ini::botocore(&text).ok()?;
        let (_, options) = sections.into_iter().find(|(h, _)| h == "Credentials")?;
        options.contains_key("aws_access_key_id").then(|| Found {
            path,
            header: "Credentials".into(),
            option: "aws_access_key_id",
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lists_of_variables_follow_from_the_chain() {
        assert_eq!(
            blanked_for_endpoint().collect::<Vec<_>>(),
            [
                "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY",
                "AWS_SESSION_TOKEN",
                "AWS_SECURITY_TOKEN",
                "AWS_CREDENTIAL_EXPIRATION",
                "AWS_WEB_IDENTITY_TOKEN_FILE",
                "AWS_ROLE_ARN",
            ]
        );
        let unremovable = |name: &str| unremovable_for_endpoint(&Env::of([(name, "x")]));
        assert_eq!(unremovable("AWS_PROFILE"), Some("AWS_PROFILE"));
        assert_eq!(
            unremovable("AWS_DEFAULT_PROFILE"),
            Some("AWS_DEFAULT_PROFILE")
        );
        assert_eq!(
            unremovable("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"),
            Some("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
        );
        for harmless in ["AWS_ACCESS_KEY_ID", "AWS_ROLE_SESSION_NAME", ENDPOINT_URI] {
            assert_eq!(unremovable(harmless), None, "{harmless}");
        }
        assert_eq!(
            unremovable("AWS_CREDENTIAL_FILE"),
            Some("AWS_CREDENTIAL_FILE")
        );
        assert_eq!(credential_variables().count(), 15);
    }

    #[test]
    fn a_default_profile_with_credentials_is_found_as_the_sdks_read_the_files() {
        let dir = tempfile::tempdir().unwrap();
        let credentials = dir.path().join("credentials");
        let config = dir.path().join("config");
        let env = Env::of([
            ("AWS_SHARED_CREDENTIALS_FILE", credentials.to_str().unwrap()),
            ("AWS_CONFIG_FILE", config.to_str().unwrap()),
        ]);
        assert_eq!(profile_that_wins(&env), None);
        std::fs::write(
            &config,
            "[default]\nregion = eu-west-1\n[profile x]\nrole_arn = y\n",
        )
        .unwrap();
        assert_eq!(profile_that_wins(&env), None);
        std::fs::write(&config, "[profile default]\nRole_ARN = y\n").unwrap();
        assert_eq!(
            profile_that_wins(&env).unwrap(),
            format!(
                "{} has role_arn in [profile default], which boto3 and the aws CLI would use \
                 before vault-ci's endpoint",
                config.display()
            )
        );
        std::fs::write(
            &credentials,
            "[default]\naws_access_key_id = AKIA\naws_secret_access_key = x\n",
        )
        .unwrap();
        assert_eq!(
            profile_that_wins(&env).unwrap(),
            format!(
                "{} has aws_access_key_id in [default], which every AWS SDK would use before \
                 vault-ci's endpoint",
                credentials.display()
            )
        );
    }

    #[test]
    fn the_shared_files_default_to_the_home_directory() {
        let files = SharedFiles::of(&Env::of([("HOME", "/home/ci")]));
        assert_eq!(
            files.credentials.unwrap(),
            Path::new("/home/ci/.aws/credentials")
        );
        assert_eq!(files.config.unwrap(), Path::new("/home/ci/.aws/config"));
        assert!(SharedFiles::of(&Env::default()).config.is_none());
    }
}
