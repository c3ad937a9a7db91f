//! What the AWS SDKs and CLIs read, and in which order, so vault-ci knows what
//! would win over the credentials it hands on: the environment variables of
//! their default credential chain and the shared files' default profile. Every
//! list of variables that vault-ci removes from a command, blanks for later
//! steps or refuses derives from the one table here.

use std::path::{Path, PathBuf};

use crate::env::Env;

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

/// Options that give a profile credentials of its own: keys, a role, a
/// process, SSO, a web-identity token file.
const GIVES_CREDENTIALS: &[&str] = &[
    "aws_access_key_id",
    "role_arn",
    "credential_process",
    "sso_session",
    "sso_start_url",
    "web_identity_token_file",
    "credential_source",
];

/// Whether the shared files give the default profile credentials, which every
/// SDK's chain takes before container credentials; says where. Read as the
/// SDKs read them: the config file's `[default]` and `[profile default]` both,
/// option names in any case (botocore lower-cases them).
pub fn profile_that_wins(env: &Env) -> Option<String> {
    let files = SharedFiles::of(env);
    let check = |path: &Path, sections: &[&str]| -> Option<String> {
        let text = crate::files::read_text(path, crate::net::MAX_BODY).ok()?;
        let ini = ini::Ini::load_from_str_opt(
            &text,
            ini::ParseOption {
                enabled_quote: false,
                enabled_escape: false,
                enabled_indented_mutiline_value: false,
                enabled_preserve_key_leading_whitespace: false,
            },
        )
        .ok()?;
        ini.iter().find_map(|(name, properties)| {
            let name = name?;
            if !sections.iter().any(|s| name.trim() == *s) {
                return None;
            }
            let key = properties.iter().find_map(|(key, _)| {
                let key = key.trim().to_ascii_lowercase();
                GIVES_CREDENTIALS.iter().find(|gives| **gives == key)
            })?;
            Some(format!("{} has {key} in [{name}]", path.display()))
        })
    };
    files
        .credentials
        .as_deref()
        .and_then(|path| check(path, &["default"]))
        .or_else(|| {
            files
                .config
                .as_deref()
                .and_then(|path| check(path, &["default", "profile default"]))
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
        assert_eq!(credential_variables().count(), 14);
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
            format!("{} has role_arn in [profile default]", config.display())
        );
        std::fs::write(&credentials, "[default]\nAWS_ACCESS_KEY_ID = AKIA\n").unwrap();
        assert_eq!(
            profile_that_wins(&env).unwrap(),
            format!(
                "{} has aws_access_key_id in [default]",
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
