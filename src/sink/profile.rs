//! A named profile in the shared AWS files, as `aws configure` and
//! configure-aws-credentials' `aws-profile` write it: the keys in the
//! credentials file (`[NAME]`), the region in the config file (`[profile NAME]`,
//! `[default]`), every other profile kept as it was. For tools that run
//! `aws … --profile NAME`, as the official AWS orbs do; several profiles give
//! one job several accounts.
//!
//! Both files are replaced atomically and are owner-only (0600, their
//! directory 0700). A profile that is already there is kept unless
//! `--overwrite-aws-profile`. Every line vault-ci does not own — comments,
//! other profiles, settings it does not know — stays byte for byte
//! (`crate::ini`). Several jobs under one HOME write the same files: each
//! takes a lock next to each file (`credentials.lock`) from the moment it
//! reads it until its replacement is in place (and taken back, if a later
//! destination fails), so that no writer loses another's profile.

use std::path::{Path, PathBuf};

use super::{Delivery, Order, Sink};
use crate::env::Env;
use crate::error::{Error, Result};
use crate::files::{Placed, Replacement, stage_replacement};

pub struct Profile {
    name: String,
    credentials: PathBuf,
    config: PathBuf,
    overwrite: bool,
    /// Where the region goes: the profile's section, the default profile's.
    profile_region: bool,
    default_region: bool,
    staged: Vec<Replacement>,
    placed: Vec<Placed>,
    /// The locks held from the first read to the end of the delivery.
    locks: Vec<std::fs::File>,
}

impl Profile {
    /// Checks the name and that the profile may be written, before any request.
    pub fn new(
        name: &str,
        overwrite: bool,
        (profile_region, default_region): (bool, bool),
        env: &Env,
    ) -> Result<Profile> {
        validate_name(name)?;
        let home = || {
            env.path("HOME")
                .or_else(|| env.path("USERPROFILE"))
                .map(|home| home.join(".aws"))
        };
        let file = |var: &str, default: &str| {
            env.path(var)
                .or_else(|| home().map(|dir| dir.join(default)))
                .ok_or_else(|| {
                    Error::usage(format!(
                        "--aws-profile {name}: neither {var} nor HOME is set, so there is no place for the {default} file"
                    ))
                })
        };
        let profile = Profile {
            name: name.to_string(),
            credentials: file("AWS_SHARED_CREDENTIALS_FILE", "credentials")?,
            config: file("AWS_CONFIG_FILE", "config")?,
            overwrite,
            profile_region,
            default_region,
            staged: Vec::new(),
            placed: Vec::new(),
            locks: Vec::new(),
        };
        // Refused now, before a token is spent; checked again when written.
        profile.merged(&profile.credentials, &profile.name, &[])?;
        profile.merged(&profile.config, &profile.config_section(), &[])?;
        Ok(profile)
    }

    /// The config file's name for the profile: `default`, or `profile NAME`.
    fn config_section(&self) -> String {
        if self.name == "default" {
            "default".into()
        } else {
            format!("profile {}", self.name)
        }
    }

    /// Whether `header` is this profile's in `path`, as botocore takes it: in
    /// the config file `[profile "NAME"]` and `[profile  NAME]` too.
    fn is_ours(&self, path: &Path, header: &str) -> bool {
        if path == self.config {
            crate::ini::botocore_profile(header).as_deref() == Some(self.name.as_str())
        } else {
            header == self.name
        }
    }

    /// `path`'s contents with the profile's section set to exactly `values`.
    fn merged(&self, path: &Path, section: &str, values: &[(&str, &str)]) -> Result<String> {
        self.edited(path, section, values, None)
    }

    /// As [`Self::merged`], and `extra`'s key set in its section, the rest of
    /// which stays: the default profile's region, say.
    fn edited(
        &self,
        path: &Path,
        section: &str,
        values: &[(&str, &str)],
        extra: Option<(&str, &str, &str)>,
    ) -> Result<String> {
        let shown = path.display();
        let text = match crate::files::read_text(path, crate::net::MAX_BODY) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => {
                return Err(Error::sink(format!(
                    "--aws-profile {}: cannot read {shown}: {e}",
                    self.name
                )));
            }
        };
        let mut doc = crate::ini::Document::parse(&text).map_err(|e| {
            Error::sink(format!(
                "--aws-profile {}: {shown} is not an AWS config file the aws CLI can read ({e}); \
                 fix or move it",
                self.name
            ))
        })?;
        // configparser gives [DEFAULT]'s options to every profile: a role or
        // keys there would change what the new profile means.
        if let Some(option) = doc.defaults().into_iter().find(|o| gives_credentials(o)) {
            return Err(Error::usage(format!(
                "--aws-profile {}: {shown} has {option} in [DEFAULT], which the aws CLI and \
                 boto3 give every profile, this one too: move it into the profiles it is for",
                self.name
            )));
        }
        let is_ours = |header: &str| self.is_ours(path, header);
        if let Some(header) = doc.headers(is_ours).first()
            && !self.overwrite
        {
            return Err(Error::usage(format!(
                "--aws-profile {}: {shown} already has [{header}]; pass --overwrite-aws-profile \
                 to replace it, or choose another name",
                self.name
            )));
        }
        // The profile is replaced whole: a key left from before (a role_arn,
        // say) would change what the new keys mean.
        if !values.is_empty() || extra.is_none() {
            doc.replace(is_ours, section, values);
        }
        if let Some((section, key, value)) = extra {
            let same = |header: &str| header == section;
            if section == "default" && path == self.config {
                doc.set(
                    |h| crate::ini::botocore_profile(h).as_deref() == Some("default"),
                    section,
                    key,
                    value,
                );
            } else {
                doc.set(same, section, key, value);
            }
        }
        Ok(doc.text())
    }

    /// Takes `path`'s lock (`path.lock`), waiting a while for another writer.
    fn lock(&mut self, path: &Path) -> Result<()> {
        let mut name = path.as_os_str().to_owned();
        name.push(".lock");
        let lock = std::path::PathBuf::from(name);
        let fail = |e: std::io::Error| {
            Error::sink(format!(
                "--aws-profile {}: cannot lock {}: {e}",
                self.name,
                lock.display()
            ))
        };
        if let Some(dir) = lock.parent().filter(|d| !d.as_os_str().is_empty()) {
            private_dir(dir).map_err(fail)?;
        }
        let file = open_lock(&lock).map_err(fail)?;
        let deadline = std::time::Instant::now() + LOCK_WAIT;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(Error::sink(format!(
                        "--aws-profile {}: {} stayed locked for {} s by another process writing \
                         the same files (another vault-ci?); run again once it is done",
                        self.name,
                        lock.display(),
                        LOCK_WAIT.as_secs()
                    )));
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(fail(e)),
            }
        }
        self.locks.push(file);
        Ok(())
    }

    fn stage_file(&mut self, path: &Path, text: &str) -> Result<()> {
        let fail = |e: std::io::Error| {
            Error::sink(format!(
                "--aws-profile {}: cannot write {}: {e}",
                self.name,
                path.display()
            ))
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            private_dir(dir).map_err(fail)?;
        }
        let staged = stage_replacement(path, text.as_bytes()).map_err(fail)?;
        self.staged.push(staged);
        Ok(())
    }
}

/// The names IAM tools accept, as configure-aws-credentials checks them.
fn validate_name(name: &str) -> Result<()> {
    let why = if name.trim().is_empty() {
        "must not be empty"
    } else if name.chars().any(char::is_whitespace) {
        "must not contain whitespace"
    } else if name.contains(['[', ']']) {
        "must not contain brackets"
    } else if name.contains(['/', '\\']) {
        "must not contain path separators"
    } else if name.chars().any(char::is_control) {
        "must not contain control characters"
    } else if name.eq_ignore_ascii_case("default") && name != "default" {
        // Python's configparser gives a [DEFAULT] section's options to every
        // profile: [prod] would get these keys. Other readers fold case.
        "must not be `default` in other letters: the aws CLI and boto3 would give its keys to \
         every profile; use `default`, or another name"
    } else {
        return Ok(());
    };
    Err(Error::usage(format!(
        "--aws-profile `{}` {why}",
        crate::text::one_line(name)
    )))
}

/// How long a writer waits for another's lock: writers hold it for moments.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Options that give a profile credentials or a way to them.
fn gives_credentials(option: &str) -> bool {
    option.starts_with("aws_")
        || option.starts_with("sso_")
        || option.starts_with("credential_")
        || [
            "role_arn",
            "source_profile",
            "web_identity_token_file",
            "login_session",
        ]
        .contains(&option)
}

/// The lock file, owner-only, never reached through a symbolic link.
fn open_lock(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    #[cfg(windows)]
    if !path.exists() {
        match crate::platform::create_owner_only(path, false) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(e),
            _ => {}
        }
    }
    options.open(path)
}

/// Creates `dir` (and its parents) owner-only if it is missing.
fn private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

impl Sink for Profile {
    fn order(&self) -> Order {
        Order::Replace
    }

    fn stage(&mut self, delivery: &Delivery) -> Result<()> {
        // The plan gives a profile only a session's keys to hold.
        let Some(out) = &delivery.session else {
            return Ok(());
        };
        let creds = &out.credentials;
        let mut keys = vec![
            ("aws_access_key_id", creds.access_key_id.as_str()),
            ("aws_secret_access_key", creds.secret_access_key.expose()),
        ];
        if let Some(token) = &creds.session_token {
            keys.push(("aws_session_token", token.expose()));
        }
        // In one order, credentials then config: two writers cannot each hold one.
        let (credentials_path, config_path) = (self.credentials.clone(), self.config.clone());
        self.lock(&credentials_path)?;
        if config_path != credentials_path {
            self.lock(&config_path)?;
        }
        let credentials = self.merged(&self.credentials, &self.name, &keys)?;
        let config = match &out.region {
            Some(region) if self.profile_region || self.default_region => {
                let section = self.config_section();
                let own: &[(&str, &str)] = if self.profile_region {
                    &[("region", region)]
                } else {
                    &[]
                };
                let default = self
                    .default_region
                    .then_some(("default", "region", region.as_str()));
                Some(self.edited(&self.config, &section, own, default)?)
            }
            _ => None,
        };
        let path = self.credentials.clone();
        self.stage_file(&path, &credentials)?;
        if let Some(config) = config {
            let path = self.config.clone();
            self.stage_file(&path, &config)?;
        }
        Ok(())
    }

    fn commit(&mut self) -> Result<()> {
        for staged in std::mem::take(&mut self.staged) {
            let placed = staged.commit().map_err(|e| {
                Error::sink(format!(
                    "--aws-profile {}: cannot replace a file: {e}",
                    self.name
                ))
            })?;
            self.placed.push(placed);
        }
        Ok(())
    }

    fn revoke(&mut self) {
        for placed in self.placed.drain(..).rev() {
            if let Err(e) = placed.undo() {
                tracing::warn!(
                    "--aws-profile {}: cannot put back a file as it was: {e}",
                    self.name
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(dir: &Path, name: &str, overwrite: bool) -> Result<Profile> {
        let credentials = dir.join("credentials");
        let config = dir.join("config");
        let env = Env::of([
            ("AWS_SHARED_CREDENTIALS_FILE", credentials.to_str().unwrap()),
            ("AWS_CONFIG_FILE", config.to_str().unwrap()),
        ]);
        Profile::new(name, overwrite, (true, false), &env)
    }

    #[test]
    fn a_profile_joins_the_others_and_nested_settings_survive() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config"),
            "[default]\nregion = us-east-1\ns3 =\n  max_concurrent_requests = 20\n\n[profile old]\nregion = eu-west-1\n",
        )
        .unwrap();
        let mut sink = profile(dir.path(), "deploy", false).unwrap();
        sink.stage(&Delivery::keys(super::super::tests::output()))
            .unwrap();
        sink.commit().unwrap();
        let config = std::fs::read_to_string(dir.path().join("config")).unwrap();
        assert_eq!(
            config,
            "[default]\nregion = us-east-1\ns3 =\n  max_concurrent_requests = 20\n\n[profile old]\nregion = eu-west-1\n\n[profile deploy]\nregion = eu-west-1\n"
        );
        let credentials = std::fs::read_to_string(dir.path().join("credentials")).unwrap();
        assert_eq!(
            credentials,
            "[deploy]\naws_access_key_id = ASIAEXAMPLE\naws_secret_access_key = secret/key+=\naws_session_token = token\n"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("credentials"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn an_existing_profile_is_kept_unless_overwriting_is_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("credentials"),
            "[deploy]\naws_access_key_id = AKIAOLD\nrole_arn = arn:aws:iam::1:role/x\n",
        )
        .unwrap();
        let err = profile(dir.path(), "deploy", false).err().unwrap();
        assert!(err.message().ends_with("already has [deploy]; pass --overwrite-aws-profile to replace it, or choose another name"), "{err}");
        let mut sink = profile(dir.path(), "deploy", true).unwrap();
        sink.stage(&Delivery::keys(super::super::tests::output()))
            .unwrap();
        sink.commit().unwrap();
        let credentials = std::fs::read_to_string(dir.path().join("credentials")).unwrap();
        assert!(
            !credentials.contains("role_arn") && !credentials.contains("AKIAOLD"),
            "{credentials}"
        );
    }

    #[test]
    fn names_tools_cannot_use_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for (name, why) in [
            ("", "must not be empty"),
            ("a b", "must not contain whitespace"),
            ("a]b", "must not contain brackets"),
            ("../x", "must not contain path separators"),
            (
                "DEFAULT",
                "must not be `default` in other letters: the aws CLI and boto3 would give its \
                 keys to every profile; use `default`, or another name",
            ),
        ] {
            let err = profile(dir.path(), name, false).err().unwrap();
            assert!(err.message().ends_with(why), "{name}: {err}");
        }
    }
}
