//! `VAULT_CI_<OPTION>` variables: every option can come from one, as CI
//! configurations (the action's inputs, the orb's parameters) set them. A name
//! that is no option's is a typo that would otherwise be ignored in silence —
//! `VAULT_CI_ENVFILE=aws.env` printing the keys into the job log instead — so it
//! is refused, with the name meant. The names come from clap's own `env`
//! attributes: they cannot drift from the options.

use std::ffi::OsString;

use clap::CommandFactory;

use super::Cli;
use crate::env::Env;
use crate::error::{Error, Result};

const PREFIX: &str = "VAULT_CI_";

/// What vault-ci reads or writes that is no option: the log filter, what
/// `--serve` hands later steps and its background process, GitLab's
/// conventional token variable.
const OWN: &[&str] = &[
    "VAULT_CI_LOG",
    "VAULT_CI_SERVE_LOG",
    "VAULT_CI_SERVE_DAEMON",
    "VAULT_CI_ID_TOKEN",
];

/// Families of names that are no option's: `--chain`'s `VAULT_CI_ROLE_<NAME>`,
/// install.sh's settings, and the GitLab component's inputs, which its jobs carry.
const FAMILIES: &[&str] = &["VAULT_CI_ROLE_", "VAULT_CI_INSTALL_", "VAULT_CI_INPUT_"];

/// What `--allowed-account-id`'s variable is called by the rule "VAULT_CI_ and
/// the option": the action names it after configure-aws-credentials' plural
/// input instead. Both are taken.
pub const SINGULAR_ACCOUNT_IDS: &str = "VAULT_CI_ALLOWED_ACCOUNT_ID";
const PLURAL_ACCOUNT_IDS: &str = "VAULT_CI_ALLOWED_ACCOUNT_IDS";

/// Every option's variable, of every command.
pub fn option_variables() -> Vec<String> {
    fn walk(command: &clap::Command, names: &mut Vec<String>) {
        for arg in command.get_arguments() {
            if let Some(name) = arg.get_env().and_then(|n| n.to_str()) {
                names.push(name.to_string());
            }
        }
        for sub in command.get_subcommands() {
            walk(sub, names);
        }
    }
    let mut names = Vec::new();
    walk(&Cli::command(), &mut names);
    names.sort();
    names.dedup();
    names
}

/// Whether vault-ci reads (or writes) a variable of this name.
pub fn known(name: &str) -> bool {
    OWN.contains(&name)
        || name == SINGULAR_ACCOUNT_IDS
        || option_variables().iter().any(|known| known == name)
        || FAMILIES.iter().any(|family| {
            name.strip_prefix(family)
                .is_some_and(|member| !member.is_empty())
        })
}

/// Refuses a `VAULT_CI_*` variable vault-ci does not know, naming the nearest
/// one it does; and the two spellings of the account guard set to different values.
pub fn check(env: &Env) -> Result<()> {
    let options = option_variables();
    for name in env.names() {
        let Some(name) = name.to_str().filter(|n| n.starts_with(PREFIX)) else {
            continue;
        };
        if !known(name) {
            let nearest = nearest(name, options.iter().map(String::as_str));
            let meant = match nearest {
                Some(meant) => format!("did you mean {meant}? Rename it"),
                None => "`vault-ci assume --help` lists the options, each with its variable; \
                         rename it"
                    .to_string(),
            };
            return Err(Error::usage(format!(
                "{name} is set, and vault-ci has no such setting: {meant}, or unset it"
            )));
        }
    }
    if let (Some(singular), Some(plural)) =
        (env.get(SINGULAR_ACCOUNT_IDS), env.get(PLURAL_ACCOUNT_IDS))
        && singular != plural
    {
        return Err(Error::usage(format!(
            "{SINGULAR_ACCOUNT_IDS} and {PLURAL_ACCOUNT_IDS} are both set, to different accounts: \
             keep one"
        )));
    }
    Ok(())
}

/// The known name closest to a misspelt one, when it is close enough to be
/// what was meant.
fn nearest<'a>(name: &str, known: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    // The shared prefix would make every name look alike.
    let tail = |n: &str| n.strip_prefix(PREFIX).unwrap_or(n).to_ascii_uppercase();
    let name = tail(name);
    known
        .map(|candidate| (strsim::jaro_winkler(&name, &tail(candidate)), candidate))
        .filter(|(score, _)| *score >= 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

/// Where an option's value came from, for an error about it: the action's
/// input or the variable, when the command line did not give the option
/// (`flag` is its long form). None when it did.
pub fn origin(flag: &str, argv: &[OsString], env: &Env) -> Option<String> {
    let variable = variable_of(flag, argv, env)?;
    Some(match action_input(&variable, env) {
        Some(input) => format!("the input {input}, {variable}"),
        None => variable,
    })
}

/// A refusal that names an option the command line did not give (the first
/// `--option` of the message) says where its value came from instead:
/// `--duration (VAULT_CI_DURATION) 60 is out of range`.
pub fn attribute(message: &str, argv: &[OsString], env: &Env) -> String {
    let Some(at) = message.find("--") else {
        return message.to_string();
    };
    let end = message[at + 2..]
        .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
        .map_or(message.len(), |end| at + 2 + end);
    let flag = &message[at..end];
    match origin(flag, argv, env) {
        Some(origin) if flag.len() > 2 => {
            format!(
                "{}{flag} (from {origin}){}",
                &message[..at],
                &message[end..]
            )
        }
        _ => message.to_string(),
    }
}

/// The action's input that sets `variable`, when vault-ci runs as the action:
/// action.yml maps each input to one `VAULT_CI_*` variable, on a line of its own.
fn action_input(variable: &str, env: &Env) -> Option<String> {
    let action = env.path("GITHUB_ACTION_PATH")?.join("action.yml");
    let text = crate::files::read_text(&action, crate::net::MAX_BODY).ok()?;
    if text.lines().next()? != "name: vault-ci" {
        return None;
    }
    text.lines().find_map(|line| {
        let (name, value) = line.trim().split_once(": ")?;
        let input = value.strip_prefix("${{ inputs.")?.strip_suffix(" }}")?;
        (name == variable).then(|| input.to_string())
    })
}

fn variable_of(flag: &str, argv: &[OsString], env: &Env) -> Option<String> {
    let on_command_line = argv.iter().any(|arg| {
        arg.to_str()
            .is_some_and(|arg| arg == flag || arg.starts_with(&format!("{flag}=")))
    });
    if on_command_line {
        return None;
    }
    let long = flag.strip_prefix("--")?;
    let command = Cli::command();
    let mut commands = vec![&command];
    while let Some(command) = commands.pop() {
        let arg = command
            .get_arguments()
            .find(|arg| arg.get_long() == Some(long));
        if let Some(variable) = arg.and_then(|arg| arg.get_env()).and_then(|v| v.to_str())
            && env.has(variable)
        {
            // The singular spelling, which main copies to the plural clap reads.
            if variable == PLURAL_ACCOUNT_IDS
                && env.get(SINGULAR_ACCOUNT_IDS).is_some()
                && env.get(SINGULAR_ACCOUNT_IDS) == env.get(PLURAL_ACCOUNT_IDS)
            {
                return Some(SINGULAR_ACCOUNT_IDS.to_string());
            }
            return Some(variable.to_string());
        }
        commands.extend(command.get_subcommands());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_misspelt_variable_is_refused_with_the_one_meant() {
        let refused = |name: &str| {
            check(&Env::of([(name, "x")]))
                .unwrap_err()
                .message()
                .to_string()
        };
        assert_eq!(
            refused("VAULT_CI_ENVFILE"),
            "VAULT_CI_ENVFILE is set, and vault-ci has no such setting: did you mean \
             VAULT_CI_ENV_FILE? Rename it, or unset it"
        );
        assert_eq!(
            refused("VAULT_CI_ALLOWED_ACCOUNT"),
            "VAULT_CI_ALLOWED_ACCOUNT is set, and vault-ci has no such setting: did you mean \
             VAULT_CI_ALLOWED_ACCOUNT_IDS? Rename it, or unset it"
        );
        assert_eq!(
            refused("VAULT_CI_XYZZY"),
            "VAULT_CI_XYZZY is set, and vault-ci has no such setting: `vault-ci assume --help` \
             lists the options, each with its variable; rename it, or unset it"
        );
    }

    #[test]
    fn every_options_variable_and_vault_cis_own_are_known() {
        let env = Env::of([
            ("VAULT_CI_ENV_FILE", "aws.env"),
            ("VAULT_CI_ALLOWED_ACCOUNT_ID", "123456789012"),
            (
                "VAULT_CI_ROLE_DEPLOY",
                "arn:aws:iam::123456789012:role/deploy",
            ),
            ("VAULT_CI_SERVE_LOG", "/tmp/x/serve.log"),
            ("VAULT_CI_LOG", "debug"),
            ("VAULT_CI_ID_TOKEN", "t"),
            ("VAULT_CI_INSTALL_DIR", "/opt/bin"),
            (
                "VAULT_CI_INPUT_ROLE_ARN",
                "arn:aws:iam::123456789012:role/deploy",
            ),
            ("GITHUB_ACTIONS", "true"),
        ]);
        check(&env).unwrap();
        assert!(option_variables().len() > 50);
        assert!(!known("VAULT_CI_ROLE_"));
        assert!(!known("VAULT_CI_"));
    }

    #[test]
    fn the_two_spellings_of_the_account_guard_must_agree() {
        let env = Env::of([
            ("VAULT_CI_ALLOWED_ACCOUNT_ID", "123456789012"),
            ("VAULT_CI_ALLOWED_ACCOUNT_IDS", "210987654321"),
        ]);
        assert_eq!(
            check(&env).unwrap_err().message(),
            "VAULT_CI_ALLOWED_ACCOUNT_ID and VAULT_CI_ALLOWED_ACCOUNT_IDS are both set, to \
             different accounts: keep one"
        );
    }

    #[test]
    fn a_refusal_says_which_variable_gave_the_value() {
        let env = Env::of([("VAULT_CI_DURATION", "60")]);
        let argv = [OsString::from("vault-ci"), OsString::from("assume")];
        assert_eq!(
            attribute(
                "--duration 60 is out of range: STS accepts 900 to 43200 seconds",
                &argv,
                &env
            ),
            "--duration (from VAULT_CI_DURATION) 60 is out of range: STS accepts 900 to 43200 seconds"
        );
        let given = [OsString::from("assume"), OsString::from("--duration")];
        assert_eq!(
            attribute("--duration 60 is out", &given, &env),
            "--duration 60 is out"
        );
        assert_eq!(attribute("no option here", &argv, &env), "no option here");
    }

    #[test]
    fn a_value_the_action_set_is_named_by_its_input() {
        let root = env!("CARGO_MANIFEST_DIR");
        let env = Env::of([("VAULT_CI_DURATION", "abc"), ("GITHUB_ACTION_PATH", root)]);
        let argv = [OsString::from("vault-ci"), OsString::from("assume")];
        assert_eq!(
            origin("--duration", &argv, &env).as_deref(),
            Some("the input role-duration-seconds, VAULT_CI_DURATION")
        );
    }

    #[test]
    fn a_value_came_from_the_variable_when_the_command_line_lacks_the_flag() {
        let env = Env::of([("VAULT_CI_DURATION", "abc")]);
        let argv = |args: &[&str]| args.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            origin("--duration", &argv(&["vault-ci", "assume"]), &env).as_deref(),
            Some("VAULT_CI_DURATION")
        );
        assert_eq!(
            origin(
                "--duration",
                &argv(&["vault-ci", "assume", "--duration=9"]),
                &env
            ),
            None
        );
        assert_eq!(
            origin("--duration", &argv(&["vault-ci"]), &Env::default()),
            None
        );
    }

    /// Every `VAULT_CI_*` name the user-facing texts mention is one the binary
    /// accepts: the README, the action, the orb, the GitLab component, the
    /// Buildkite plugin, install.sh, the examples, and `--help`.
    #[test]
    fn every_variable_the_docs_and_packagings_name_is_one_vault_ci_knows() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut texts = vec![("--help".to_string(), long_help())];
        let mut files = vec![
            root.join("README.md"),
            root.join("action.yml"),
            root.join("install.sh"),
        ];
        for dir in [
            "orb/src",
            "templates",
            "buildkite",
            "examples",
            "action",
            "docs",
        ] {
            collect(&root.join(dir), &mut files);
        }
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            texts.push((file.display().to_string(), text));
        }
        let mut unknown = Vec::new();
        for (origin, text) in &texts {
            for name in names_in(text) {
                // `VAULT_CI_<OPTION>`, `VAULT_CI_ROLE_<NAME>`: the rules, not names.
                if !name.ends_with('_') && !known(&name) {
                    unknown.push(format!("{origin}: {name}"));
                }
            }
        }
        assert!(
            unknown.is_empty(),
            "names vault-ci would refuse:\n{}",
            unknown.join("\n")
        );
    }

    fn collect(dir: &std::path::Path, files: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                collect(&path, files);
            } else {
                files.push(path);
            }
        }
    }

    /// `VAULT_CI_[A-Z0-9_]*` words, not part of a longer name (as in
    /// `BUILDKITE_PLUGIN_VAULT_CI_ROLE_ARN`).
    fn names_in(text: &str) -> Vec<String> {
        let mut names = Vec::new();
        let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
        for (at, _) in text.match_indices(PREFIX) {
            if text[..at].chars().next_back().is_some_and(word) {
                continue;
            }
            let rest = &text[at..];
            let end = rest.find(|c: char| !word(c)).unwrap_or(rest.len());
            names.push(rest[..end].to_string());
        }
        names
    }

    fn long_help() -> String {
        let mut command = Cli::command();
        let mut help = command.render_long_help().to_string();
        for sub in command.get_subcommands_mut() {
            help.push_str(&sub.render_long_help().to_string());
        }
        help
    }
}
