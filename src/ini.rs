//! The AWS shared config and credentials files, line by line: read as the SDKs
//! read them — botocore (the aws CLI and boto3, through Python's configparser)
//! and the AWS SDK for JavaScript v3 — and edited keeping every line vault-ci
//! does not own, byte for byte.
//!
//! Why a reader of our own: rust-ini drops comments when it writes a file back,
//! and ini-roundtrip, which keeps lines, reads them by a grammar of its own
//! (no `key: value`, no continuation lines, no `[profile "x"]`), while what
//! vault-ci decides from these files must be what the SDKs would decide. Each
//! reader below follows its SDK's source; tests/shared_files.rs holds them to
//! boto3 and the JavaScript SDK themselves.

use std::collections::BTreeMap;

/// A section's options as one SDK reads them, names as it compares them.
pub type Options = BTreeMap<String, String>;

/// How botocore's configparser sees one line.
#[derive(Debug, Clone, PartialEq)]
enum Line {
    Blank,
    Comment,
    /// `[header]`: the header as configparser takes it (not trimmed).
    Header(String),
    /// `name = value` or `name: value`, the name lower-cased.
    Option(String, String),
    /// A line indented deeper than the option before it: more of its value.
    Continuation(String),
    /// Before any header, or no `=`/`:`: configparser refuses the file.
    Bad,
}

/// The lines of `text`, each with its line break (`\n`, `\r\n` or `\r`, as
/// Python's universal newlines break them).
fn split_lines(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut lines = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let end = match bytes[i] {
            b'\n' => i + 1,
            b'\r' if bytes.get(i + 1) == Some(&b'\n') => i + 2,
            b'\r' => i + 1,
            _ => {
                i += 1;
                continue;
            }
        };
        lines.push(&text[start..end]);
        start = end;
        i = end;
    }
    if start < text.len() {
        lines.push(&text[start..]);
    }
    lines
}

fn without_break(line: &str) -> &str {
    line.trim_end_matches(['\n', '\r'])
}

/// configparser's reading of each line (RawConfigParser's defaults: `=` and
/// `:`, full-line `#`/`;` comments, no inline comments, continuation by
/// deeper indentation, empty lines kept inside values).
fn classify(lines: &[&str]) -> Vec<Line> {
    let mut out = Vec::with_capacity(lines.len());
    let mut in_section = false;
    // The indentation of the line that began the current option, if any.
    let mut option_indent: Option<usize> = None;
    for raw in lines {
        let line = without_break(raw);
        let value = line.trim();
        if value.starts_with('#') || value.starts_with(';') {
            out.push(Line::Comment);
            continue;
        }
        if value.is_empty() {
            out.push(Line::Blank);
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        if let Some(level) = option_indent
            && indent > level
        {
            out.push(Line::Continuation(value.to_string()));
            continue;
        }
        option_indent = None;
        if let Some(header) = header(value) {
            in_section = true;
            out.push(Line::Header(header.to_string()));
            continue;
        }
        if !in_section {
            out.push(Line::Bad);
            continue;
        }
        match value.find(['=', ':']) {
            Some(at) if !value[..at].trim_end().is_empty() => {
                option_indent = Some(indent);
                out.push(Line::Option(
                    value[..at].trim_end().to_lowercase(),
                    value[at + 1..].trim().to_string(),
                ));
            }
            _ => out.push(Line::Bad),
        }
    }
    out
}

/// configparser's `\[(?P<header>.+)\]`, matched at the start of the trimmed
/// line: everything up to the last `]`.
fn header(value: &str) -> Option<&str> {
    let rest = value.strip_prefix('[')?;
    let end = rest.rfind(']')?;
    (end > 0).then(|| &rest[..end])
}

/// A file's sections as botocore reads it, `[DEFAULT]`'s options given to
/// every other section as configparser does; or why configparser (so the aws
/// CLI and boto3) refuses the whole file.
pub fn botocore(text: &str) -> Result<Vec<(String, Options)>, String> {
    let lines = split_lines(text);
    let kinds = classify(&lines);
    let mut sections: Vec<(String, Options)> = Vec::new();
    let mut defaults = Options::new();
    // The section being read: an index into `sections`, or None for DEFAULT.
    let mut current: Option<Option<usize>> = None;
    let mut option: Option<String> = None;
    for (number, kind) in kinds.iter().enumerate() {
        let number = number + 1;
        match kind {
            Line::Header(name) if name == "DEFAULT" => {
                current = Some(None);
                option = None;
            }
            Line::Header(name) => {
                if sections.iter().any(|(s, _)| s == name) {
                    return Err(format!("line {number}: a second [{name}]"));
                }
                sections.push((name.clone(), Options::new()));
                current = Some(Some(sections.len() - 1));
                option = None;
            }
            Line::Option(name, value) => {
                let options = match current {
                    Some(Some(index)) => &mut sections[index].1,
                    _ => &mut defaults,
                };
                if options.insert(name.clone(), value.clone()).is_some() {
                    return Err(format!("line {number}: a second `{name}` in its section"));
                }
                option = Some(name.clone());
            }
            Line::Continuation(more) => {
                let options = match current {
                    Some(Some(index)) => &mut sections[index].1,
                    _ => &mut defaults,
                };
                if let Some(value) = option.as_ref().and_then(|o| options.get_mut(o)) {
                    value.push('\n');
                    value.push_str(more);
                }
            }
            Line::Blank | Line::Comment => {}
            Line::Bad if current.is_none() => {
                return Err(format!("line {number}: an option before any [section]"));
            }
            Line::Bad => {
                return Err(format!(
                    "line {number}: neither [section], option = value nor a comment"
                ));
            }
        }
    }
    // botocore reads a value that starts on the next line as nested options,
    // each of which must have an `=`.
    for (name, options) in &sections {
        for (option, value) in options {
            if value.starts_with('\n') && value.lines().any(|l| !l.is_empty() && !l.contains('=')) {
                return Err(format!("[{name}] {option}: a nested line without `=`"));
            }
        }
    }
    for (_, options) in &mut sections {
        for (name, value) in &defaults {
            options.entry(name.clone()).or_insert_with(|| value.clone());
        }
    }
    Ok(sections)
}

/// The profile a config file's section is for botocore: `default`, or the
/// second word of a header that starts with `profile` and has two words as a
/// POSIX shell splits them (`[profile "default"]`, `[profile  x]`).
pub fn botocore_profile(header: &str) -> Option<String> {
    if header == "default" {
        return Some(header.into());
    }
    if !header.starts_with("profile") {
        return None;
    }
    match shell_words(header)?.as_slice() {
        [_, name] => Some(name.clone()),
        _ => None,
    }
}

/// Python's `shlex.split`: words split at spaces, tabs and line breaks, quotes
/// and backslashes as a POSIX shell takes them; None where it raises.
fn shell_words(text: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\r' | '\n' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        c => word.push(c),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => {
                            let next = chars.next()?;
                            if !matches!(next, '\\' | '"' | '$' | '`' | '\n') {
                                word.push('\\');
                            }
                            word.push(next);
                        }
                        c => word.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                word.push(chars.next()?);
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Some(words)
}

/// A file's sections as the JavaScript SDK v3 reads it (`parseIni` of
/// @smithy/shared-ini-file-loader): `;` and `#` start a comment at a line's
/// start or after a space, a key with an empty value starts a subsection,
/// `[prefix name]` becomes `prefix.name`. A file with a `[__proto__]` section
/// it reads as empty, as it swallows the error it raises.
pub fn javascript(text: &str) -> Vec<(String, Options)> {
    let mut sections: Vec<(String, Options)> = Vec::new();
    let mut current: Option<String> = None;
    let mut sub: Option<String> = None;
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let trimmed = without_js_comment(line).trim();
        if trimmed.starts_with('[') && trimmed.ends_with(']') && trimmed.len() >= 2 {
            let name = &trimmed[1..trimmed.len() - 1];
            if name == "__proto__" || name == "profile __proto__" {
                return Vec::new();
            }
            if name.is_empty() {
                // An empty section name is no section (`if (currentSection)`).
                current = None;
                sub = None;
                continue;
            }
            current = Some(match prefixed(name) {
                Some((prefix, name))
                    if ["profile", "sso-session", "services"].contains(&prefix) =>
                {
                    format!("{prefix}.{name}")
                }
                Some(_) => {
                    current = None;
                    sub = None;
                    continue;
                }
                None => name.to_string(),
            });
            sub = None;
            continue;
        }
        let Some(section) = &current else { continue };
        let Some(at) = trimmed.find('=').filter(|at| *at > 0) else {
            continue;
        };
        let (name, value) = (trimmed[..at].trim(), trimmed[at + 1..].trim());
        if value.is_empty() {
            sub = Some(name.to_string());
            continue;
        }
        if sub.is_some() && line.trim_start() == line {
            sub = None;
        }
        let key = match &sub {
            Some(sub) => format!("{sub}.{name}"),
            None => name.to_string(),
        };
        match sections.iter_mut().find(|(s, _)| s == section) {
            Some((_, options)) => {
                options.insert(key, value.to_string());
            }
            None => sections.push((section.clone(), Options::from([(key, value.to_string())]))),
        }
    }
    sections
}

/// `line.split(/(^|\s)[;#]/)[0]`.
fn without_js_comment(line: &str) -> &str {
    let mut previous_space = true;
    for (at, c) in line.char_indices() {
        if (c == ';' || c == '#') && previous_space {
            let cut = line[..at]
                .char_indices()
                .next_back()
                .filter(|(_, c)| c.is_whitespace())
                .map_or(at, |(i, _)| i);
            return &line[..cut];
        }
        previous_space = c.is_whitespace();
    }
    line
}

/// `/^([\w-]+)\s(["'])?([\w-@+.%:/]+)\2$/`: a prefix and a name.
fn prefixed(name: &str) -> Option<(&str, &str)> {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let split = name.find(|c: char| !(word(c) || c == '-'))?;
    let (prefix, rest) = name.split_at(split);
    if prefix.is_empty() {
        return None;
    }
    let mut chars = rest.chars();
    if !chars.next()?.is_whitespace() {
        return None;
    }
    let rest = chars.as_str();
    let inner = match rest.chars().next()? {
        quote @ ('"' | '\'') => rest.strip_prefix(quote)?.strip_suffix(quote)?,
        _ => rest,
    };
    let allowed = |c: char| word(c) || "-@+.%:/".contains(c);
    (!inner.is_empty() && inner.chars().all(allowed)).then_some((prefix, inner))
}

/// A file's text, to be changed in the sections vault-ci owns and nowhere
/// else: every other line stays as it was, byte for byte.
pub struct Document {
    lines: Vec<String>,
    kinds: Vec<Line>,
    newline: &'static str,
}

impl Document {
    /// `text`, if botocore can read it (or why not): an edit of a file the
    /// aws CLI refuses would be a guess.
    pub fn parse(text: &str) -> Result<Document, String> {
        botocore(text)?;
        let lines = split_lines(text);
        let kinds = classify(&lines);
        let newline = match lines.first() {
            Some(line) if line.ends_with("\r\n") => "\r\n",
            _ => "\n",
        };
        Ok(Document {
            lines: lines.into_iter().map(str::to_string).collect(),
            kinds,
            newline,
        })
    }

    pub fn text(&self) -> String {
        self.lines.concat()
    }

    /// The headers for which `is_it` holds, as written.
    pub fn headers(&self, is_it: impl Fn(&str) -> bool) -> Vec<String> {
        self.kinds
            .iter()
            .filter_map(|kind| match kind {
                Line::Header(name) if is_it(name) => Some(name.clone()),
                _ => None,
            })
            .collect()
    }

    /// The options of the `[DEFAULT]` sections.
    pub fn defaults(&self) -> Vec<String> {
        let mut in_default = false;
        let mut names = Vec::new();
        for kind in &self.kinds {
            match kind {
                Line::Header(name) => in_default = name == "DEFAULT",
                Line::Option(name, _) if in_default => names.push(name.clone()),
                _ => {}
            }
        }
        names
    }

    /// Every section for which `is_it` holds loses its header and options
    /// (their comments and blank lines stay), and `[header]` with `options`
    /// takes the place of the first, or goes at the end.
    pub fn replace(
        &mut self,
        is_it: impl Fn(&str) -> bool,
        header: &str,
        options: &[(&str, &str)],
    ) {
        let mut at = None;
        let mut in_it = false;
        let mut keep = Vec::with_capacity(self.lines.len());
        for (index, kind) in self.kinds.iter().enumerate() {
            let drop = match kind {
                Line::Header(name) => {
                    in_it = is_it(name);
                    if in_it && at.is_none() {
                        at = Some(keep.len());
                    }
                    in_it
                }
                Line::Option(..) | Line::Continuation(_) => in_it,
                _ => false,
            };
            if !drop {
                keep.push(index);
            }
        }
        let mut lines: Vec<String> = keep.iter().map(|i| self.lines[*i].clone()).collect();
        let mut kinds: Vec<Line> = keep.iter().map(|i| self.kinds[*i].clone()).collect();
        let mut section = vec![(
            format!("[{header}]{}", self.newline),
            Line::Header(header.into()),
        )];
        for (name, value) in options {
            section.push((
                format!("{name} = {value}{}", self.newline),
                Line::Option(name.to_lowercase(), value.to_string()),
            ));
        }
        let at = match at {
            Some(at) => at,
            None => {
                if let Some(last) = lines.last_mut()
                    && !last.ends_with(['\n', '\r'])
                {
                    last.push_str(self.newline);
                }
                if !lines.is_empty() {
                    lines.push(self.newline.to_string());
                    kinds.push(Line::Blank);
                }
                lines.len()
            }
        };
        for (offset, (line, kind)) in section.into_iter().enumerate() {
            lines.insert(at + offset, line);
            kinds.insert(at + offset, kind);
        }
        self.lines = lines;
        self.kinds = kinds;
    }

    /// `name` set to `value` in the first section `is_it` holds for, the rest
    /// of which stays; a new `[header]` at the end if there is none.
    pub fn set(&mut self, is_it: impl Fn(&str) -> bool, header: &str, name: &str, value: &str) {
        let line = format!("{name} = {value}{}", self.newline);
        let kind = Line::Option(name.to_lowercase(), value.to_string());
        let Some(start) = self
            .kinds
            .iter()
            .position(|k| matches!(k, Line::Header(h) if is_it(h)))
        else {
            return self.replace(|_| false, header, &[(name, value)]);
        };
        let end = self.kinds[start + 1..]
            .iter()
            .position(|k| matches!(k, Line::Header(_)))
            .map_or(self.kinds.len(), |offset| start + 1 + offset);
        let existing = (start + 1..end)
            .find(|i| matches!(&self.kinds[*i], Line::Option(n, _) if *n == name.to_lowercase()));
        match existing {
            Some(index) => {
                // Its continuation lines were part of the old value.
                let mut after = index + 1;
                while after < end && matches!(self.kinds[after], Line::Continuation(_)) {
                    self.lines.remove(after);
                    self.kinds.remove(after);
                }
                after = index;
                self.lines[after] = line;
                self.kinds[after] = kind;
            }
            None => {
                self.lines.insert(start + 1, line);
                self.kinds.insert(start + 1, kind);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_vault_ci_does_not_own_stay_byte_for_byte() {
        let text = "# team settings\r\n[default]\r\nregion = us-east-1 ; not a comment\r\n\r\n; old\r\n[deploy]\r\nAWS_ACCESS_KEY_ID = AKIAOLD\r\n  more\r\n# kept\r\n[other]\r\nx: 1";
        let mut doc = Document::parse(text).unwrap();
        doc.replace(
            |h| h == "deploy",
            "deploy",
            &[("aws_access_key_id", "AKIANEW")],
        );
        doc.set(|h| h == "default", "default", "region", "eu-west-1");
        doc.replace(|h| h == "new", "new", &[("a", "b")]);
        assert_eq!(
            doc.text(),
            "# team settings\r\n[default]\r\nregion = eu-west-1\r\n\r\n; old\r\n[deploy]\r\naws_access_key_id = AKIANEW\r\n# kept\r\n[other]\r\nx: 1\r\n\r\n[new]\r\na = b\r\n"
        );
    }

    #[test]
    fn configparser_refusals_are_found() {
        for (text, why) in [
            (
                "x = 1\n[default]\n",
                "line 1: an option before any [section]",
            ),
            ("[a]\n[b]\n[a]\n", "line 3: a second [a]"),
            ("[a]\nX = 1\nx = 2\n", "line 3: a second `x` in its section"),
            (
                "[a]\nnot an option\n",
                "line 2: neither [section], option = value nor a comment",
            ),
            ("[a]\ns3 =\n  nested\n", "[a] s3: a nested line without `=`"),
        ] {
            assert_eq!(botocore(text).unwrap_err(), why, "{text:?}");
        }
        let read = botocore("[DEFAULT]\nrole_arn = r\n[default]\nregion = x\n  more\n").unwrap();
        assert_eq!(read[0].1["role_arn"], "r");
        assert_eq!(read[0].1["region"], "x\nmore");
    }

    #[test]
    fn profile_names_as_botocore_and_the_javascript_sdk_take_them() {
        for (header, name) in [
            ("default", Some("default")),
            ("profile default", Some("default")),
            ("profile \"default\"", Some("default")),
            ("profile\t 'de'fault", Some("default")),
            ("profiles default", Some("default")),
            ("profile", None),
            ("profile a b", None),
            ("profile \"x", None),
            (" default ", None),
        ] {
            assert_eq!(botocore_profile(header).as_deref(), name, "{header:?}");
        }
        assert_eq!(prefixed("profile \"x.y\""), Some(("profile", "x.y")));
        assert_eq!(prefixed("profile  x"), None);
        assert_eq!(without_js_comment("a = b ;c"), "a = b");
        assert_eq!(without_js_comment("a = b;c"), "a = b;c");
        let read = javascript("[profile default] # x\nk =\n  a = 1\nb = 2\n[__x]\n");
        assert_eq!(read[0].0, "profile.default");
        assert_eq!(
            read[0].1,
            Options::from([("k.a".into(), "1".into()), ("b".into(), "2".into())])
        );
    }
}
