//! Quoting for the text formats. Credentials are plain base64-ish text today,
//! but a writer that is only right for today's values is a leak waiting for
//! tomorrow's, so every format quotes any value correctly.

use crate::error::{Error, Result};

/// `'…'` for POSIX shells: everything literal, a `'` written as `'\''`.
pub fn single_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

pub fn export_line(name: &str, value: &str) -> String {
    format!("export {name}={}\n", single_quote(value))
}

/// The variables as `export` lines: stdout's `env`, `$BASH_ENV` and env files.
pub fn export_lines(variables: &[(&str, String)]) -> String {
    variables
        .iter()
        .map(|(name, value)| export_line(name, value))
        .collect()
}

/// dotenv, read back exactly by python-dotenv and npm's dotenv (both tested):
/// bare when the value has nothing either treats specially, else in the quotes
/// both read literally — single, or double for a value with a `'` (a newline
/// then as `\n`, which both decode). What they cannot agree on is refused:
/// python-dotenv expands `${…}` in any quotes and decodes `\\`, npm's does not.
/// docker's --env-file takes values verbatim: it reads the bare ones exactly,
/// and credentials are always bare.
pub fn dotenv_line(name: &str, value: &str) -> Result<String> {
    let bare = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_./+=:@,-".contains(c));
    if bare {
        return Ok(format!("{name}={value}\n"));
    }
    if !value.contains('\\') && !value.contains("${") {
        // npm's dotenv reads a bare \r as a line end, even inside quotes.
        if !value.contains('\'') && !value.contains('\r') {
            return Ok(format!("{name}='{value}'\n"));
        }
        if !value.contains('"') {
            let escaped = value.replace('\n', "\\n").replace('\r', "\\r");
            return Ok(format!("{name}=\"{escaped}\"\n"));
        }
    }
    Err(Error::sink(format!(
        "--format dotenv cannot carry {name} exactly: its value has a backslash, `${{`, or a `\"` \
         with a `'` or a carriage return, which dotenv readers disagree on; use --format json or --env-file"
    )))
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
        let line = |v| dotenv_line("K", v).unwrap();
        assert_eq!(line("AKIA/+="), "K=AKIA/+=\n");
        assert_eq!(line("a b\"c\nd $HOME"), "K='a b\"c\nd $HOME'\n");
        assert_eq!(line("it's\nok"), "K=\"it's\\nok\"\n");
        for refused in ["a\\b", "${HOME}", "it's \"x\""] {
            let e = dotenv_line("K", refused).unwrap_err().to_string();
            assert!(e.contains("cannot carry K exactly"), "{e}");
            assert!(
                !e.contains(refused),
                "the value stays out of the error: {e}"
            );
        }
    }

    /// `text` as python-dotenv and npm's dotenv read it: the real parsers, which
    /// scripts/install-test-peers.sh installs.
    fn dotenv_readers(text: &str) -> [serde_json::Value; 2] {
        use std::io::Write;
        let consumers = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/consumers");
        let python = "import io, json, sys; from dotenv import dotenv_values; \
                      print(json.dumps(dotenv_values(stream=io.StringIO(sys.stdin.read()))))";
        let runs: [(&str, Vec<String>); 2] = [
            ("python3", vec!["-c".into(), python.into()]),
            ("node", vec![format!("{consumers}/dotenv.mjs")]),
        ];
        runs.map(|(program, args)| {
            let mut child = std::process::Command::new(program)
                .args(&args)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("{program}: {e}; run scripts/install-test-peers.sh"));
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{program} failed; run scripts/install-test-peers.sh"
            );
            serde_json::from_slice(&out.stdout).unwrap()
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(16))]

        /// Every value dotenv_line writes, python-dotenv and npm's dotenv read back
        /// exactly; what it refuses is what they cannot agree on.
        #[test]
        fn dotenv_readers_read_back_exactly_what_was_written(
            values in proptest::collection::vec("[ -~\t\n\r\u{e9}\u{2603}]{0,24}|[a-zA-Z0-9/+=]{1,40}", 1..60)
        ) {
            let mut text = String::new();
            let mut expected = serde_json::Map::new();
            for (i, value) in values.iter().enumerate() {
                let name = format!("K{i}");
                match dotenv_line(&name, value) {
                    Ok(line) => {
                        text.push_str(&line);
                        expected.insert(name, value.clone().into());
                    }
                    Err(_) => proptest::prop_assert!(
                        value.contains('\\') || value.contains("${")
                            || ((value.contains('\'') || value.contains('\r')) && value.contains('"')),
                        "{value:?} refused"
                    ),
                }
            }
            for read in dotenv_readers(&text) {
                proptest::prop_assert_eq!(&read, &serde_json::Value::Object(expected.clone()), "{}", text);
            }
        }

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
