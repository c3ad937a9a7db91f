//! Quoting for the text formats. Credentials are plain base64-ish text today,
//! but a writer that is only right for today's values is a leak waiting for
//! tomorrow's, so every format quotes any value correctly.

use super::Output;

/// `'…'` for POSIX shells: everything literal, a `'` written as `'\''`.
pub fn single_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

pub fn export_line(name: &str, value: &str) -> String {
    format!("export {name}={}\n", single_quote(value))
}

/// The credentials as `export` lines: stdout's `env`, `$BASH_ENV` and env files.
pub fn export_lines(out: &Output) -> String {
    out.reveal_variables()
        .iter()
        .map(|(name, value)| export_line(name, value))
        .collect()
}

/// dotenv: bare when the value has nothing a dotenv parser treats specially,
/// otherwise double-quoted with `\\`, `\"`, `\n` escapes (python-dotenv, Compose).
pub fn dotenv_line(name: &str, value: &str) -> String {
    let bare = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_./+=:@,-".contains(c));
    if bare {
        format!("{name}={value}\n")
    } else {
        let escaped = value
            .replace('\\', r"\\")
            .replace('"', "\\\"")
            .replace('\n', r"\n")
            .replace('$', r"\$");
        format!("{name}=\"{escaped}\"\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_quotes_survive_any_text() {
        assert_eq!(single_quote("a/b+c="), "'a/b+c='");
        assert_eq!(single_quote("it's"), r"'it'\''s'");
        assert_eq!(export_line("X", "$HOME"), "export X='$HOME'\n");
    }

    #[test]
    fn dotenv_quotes_only_when_needed() {
        assert_eq!(dotenv_line("K", "AKIA/+="), "K=AKIA/+=\n");
        assert_eq!(dotenv_line("K", "a b\"c\nd"), "K=\"a b\\\"c\\nd\"\n");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Whatever the value, a POSIX shell reads back exactly that value.
        #[test]
        fn any_value_round_trips_through_sh(value in "[^\\x00]{0,40}") {
            let script = format!("{}printf '%s' \"$V\"", export_line("V", &value));
            let out = std::process::Command::new("sh").arg("-c").arg(&script).output().unwrap();
            proptest::prop_assert!(out.status.success());
            proptest::prop_assert_eq!(String::from_utf8_lossy(&out.stdout), value);
        }
    }
}
