//! A named profile in the shared AWS files, as `aws configure` and
//! configure-aws-credentials' `aws-profile` write it: the keys in the
//! credentials file (`[NAME]`), the region in the config file (`[profile NAME]`,
//! `[default]`), every other profile kept as it was. For tools that run
//! `aws … --profile NAME`, as the official AWS orbs do; several profiles give
//! one job several accounts.
//!
//! Both files are replaced atomically and are owner-only (0600, their
//! directory 0700). A profile that is already there is kept unless
//! `--overwrite-aws-profile`.

use std::path::{Path, PathBuf};

use ini::{EscapePolicy, Ini, LineSeparator, ParseOption, WriteOption};

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

    /// `path`'s contents with `section` set to exactly `values`.
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
        let mut ini = Ini::load_from_str_opt(&text, parse_option()).map_err(|e| {
            Error::sink(format!(
                "--aws-profile {}: {shown} is not an AWS config file ({e}); fix or move it",
                self.name
            ))
        })?;
        if ini.section(Some(section)).is_some() && !self.overwrite {
            return Err(Error::usage(format!(
                "--aws-profile {}: {shown} already has [{section}]; pass --overwrite-aws-profile \
                 to replace it, or choose another name",
                self.name
            )));
        }
        // The profile is replaced whole: a key left from before (a role_arn,
        // say) would change what the new keys mean.
        ini.delete(Some(section));
        let mut setter = ini.with_section(Some(section));
        for (key, value) in values {
            setter.set(*key, *value);
        }
        if let Some((section, key, value)) = extra {
            ini.with_section(Some(section)).set(key, value);
        }
        let mut out = Vec::new();
        ini.write_to_opt(
            &mut out,
            WriteOption {
                escape_policy: EscapePolicy::Nothing,
                line_separator: LineSeparator::CR,
                kv_separator: " = ",
            },
        )
        .map_err(|e| Error::sink(format!("cannot write {shown}: {e}")))?;
        String::from_utf8(out).map_err(|_| Error::sink(format!("{shown}: not UTF-8")))
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
    } else {
        return Ok(());
    };
    Err(Error::usage(format!(
        "--aws-profile `{}` {why}",
        crate::text::one_line(name)
    )))
}

fn parse_option() -> ParseOption {
    // The AWS files know no quotes or escapes. They nest settings by indenting
    // them under a key with no value (`s3 =`): kept as keys of their own whose
    // indentation survives, so they are written back where they were.
    ParseOption {
        enabled_quote: false,
        enabled_escape: false,
        enabled_indented_mutiline_value: false,
        enabled_preserve_key_leading_whitespace: true,
    }
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
            "[default]\nregion = us-east-1\ns3 = \n  max_concurrent_requests = 20\n\n[profile old]\nregion = eu-west-1\n\n[profile deploy]\nregion = eu-west-1\n"
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
        ] {
            let err = profile(dir.path(), name, false).err().unwrap();
            assert!(err.message().ends_with(why), "{name}: {err}");
        }
    }
}
