//! How the GitHub Actions runner reads the files a step writes for the later
//! steps (`$GITHUB_ENV`, `$GITHUB_OUTPUT`), after actions/runner's
//! `SetEnvFileCommand`: the one reading that vault-ci's unit tests, integration
//! tests and fuzz targets hold its writers to.
//!
//! Each non-empty line is `NAME=value`, or `NAME<<DELIMITER` followed by the
//! value's lines up to a line equal to DELIMITER (whichever of `=` and `<<`
//! comes first decides). Lines end at `\n`; on Windows runners also at `\r\n`.
//! A later entry for a name replaces an earlier one.

/// Where a runner ends a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runner {
    /// Linux and macOS: `\n` only; a `\r` before it is part of the line.
    Unix,
    /// Windows: `\r\n` or `\n`.
    Windows,
}

/// The variables as the runner sets them, in the order they were first
/// written, each with its last value; or why the runner would refuse the file.
pub fn read(text: &str, runner: Runner) -> Result<Vec<(String, String)>, String> {
    let mut read: Vec<(String, String)> = Vec::new();
    let mut lines = Lines {
        text,
        at: 0,
        runner,
    };
    while let Some(line) = lines.next_line() {
        if line.is_empty() {
            continue;
        }
        let (name, value) = match (line.find('='), line.find("<<")) {
            (Some(equals), heredoc) if heredoc.is_none_or(|h| equals < h) => {
                (&line[..equals], line[equals + 1..].to_string())
            }
            (_, Some(heredoc)) => {
                let (name, delimiter) = (&line[..heredoc], &line[heredoc + 2..]);
                if delimiter.is_empty() {
                    return Err(format!("`{line}` has no delimiter"));
                }
                let mut value: Vec<&str> = Vec::new();
                loop {
                    match lines.next_line() {
                        Some(next) if next == delimiter => break,
                        Some(next) => value.push(next),
                        None => {
                            return Err(format!("{name}: no line closes it with {delimiter}"));
                        }
                    }
                }
                (name, value.join("\n"))
            }
            _ => {
                return Err(format!(
                    "the line `{line}` is neither NAME=value nor NAME<<DELIMITER"
                ));
            }
        };
        if name.is_empty() {
            return Err(format!("the line `{line}` names no variable"));
        }
        match read.iter_mut().find(|(n, _)| n == name) {
            Some(entry) => entry.1 = value,
            None => read.push((name.to_string(), value)),
        }
    }
    Ok(read)
}

struct Lines<'a> {
    text: &'a str,
    at: usize,
    runner: Runner,
}

impl<'a> Lines<'a> {
    fn next_line(&mut self) -> Option<&'a str> {
        let rest = self.text.get(self.at..).filter(|rest| !rest.is_empty())?;
        let (line, used) = match rest.find('\n') {
            Some(end) => (&rest[..end], end + 1),
            None => (rest, rest.len()),
        };
        self.at += used;
        Some(match self.runner {
            Runner::Windows => line.strip_suffix('\r').unwrap_or(line),
            Runner::Unix => line,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unix(text: &str) -> Result<Vec<(String, String)>, String> {
        read(text, Runner::Unix)
    }

    #[test]
    fn plain_and_heredoc_entries_later_ones_winning() {
        let text = "A=1\n\nB<<EOF\nx=y\nz\nEOF\nA=2\nC<<D\nD\n";
        assert_eq!(
            unix(text).unwrap(),
            [("A", "2"), ("B", "x=y\nz"), ("C", "")].map(|(n, v)| (n.to_string(), v.to_string()))
        );
    }

    #[test]
    fn the_first_of_equals_and_heredoc_decides() {
        assert_eq!(unix("A=b<<c\n").unwrap(), [("A".into(), "b<<c".into())]);
        assert_eq!(unix("A<<E=\nv\nE=\n").unwrap(), [("A".into(), "v".into())]);
    }

    #[test]
    fn carriage_returns_end_lines_only_on_windows() {
        let text = "A<<EOF\r\nv\r\nEOF\r\n";
        assert_eq!(
            read(text, Runner::Windows).unwrap(),
            [("A".into(), "v".into())]
        );
        // On Unix the delimiter is `EOF\r`, and the value keeps its `\r`.
        assert_eq!(unix(text).unwrap(), [("A".into(), "v\r".into())]);
        assert_eq!(
            unix("A<<EOF\nv\r\nEOF\r\n").unwrap_err(),
            "A: no line closes it with EOF"
        );
    }

    #[test]
    fn what_the_runner_refuses() {
        assert_eq!(
            unix("A<<EOF\nv\n").unwrap_err(),
            "A: no line closes it with EOF"
        );
        assert_eq!(
            unix("junk\n").unwrap_err(),
            "the line `junk` is neither NAME=value nor NAME<<DELIMITER"
        );
        assert_eq!(unix("=v\n").unwrap_err(), "the line `=v` names no variable");
        assert_eq!(unix("A<<\n").unwrap_err(), "`A<<` has no delimiter");
    }
}
