//! `trust-policy --check` over files: each file read for the roles it holds
//! ([`super::sources`]), each role's document linted ([`super::lint`]) and
//! checked ([`super::check`]), and each finding placed: the file, the line,
//! the role. Where a template leaves a value open (a stack parameter), the
//! document is checked twice — with `*` for each open value, and with its
//! name as a literal — and what only the first finds is "not judged": it
//! depends on what the stack is deployed with.

use std::path::Path;

use serde_json::Value;

use super::check::{self, Class, Finding};
use super::sources::{self, Kind, Role};

/// A finding, and where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    pub finding: Finding,
    /// The file as it was named.
    pub file: String,
    pub line: Option<usize>,
    /// The role, when the file holds more than a bare policy document.
    pub role: Option<String>,
}

impl Located {
    /// Where, for a report's line: `file:LINE: role`.
    pub fn place(&self) -> String {
        let mut place = self.file.clone();
        if let Some(line) = self.line {
            place.push_str(&format!(":{line}"));
        }
        if let Some(role) = &self.role {
            place.push_str(&format!(": {role}"));
        }
        place
    }
}

impl std::fmt::Display for Located {
    /// `high: file:LINE: role: statement 1: … admits …`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let line = self.finding.to_string();
        let rest = line
            .strip_prefix(&format!("{}: ", self.finding.class))
            .unwrap_or(&line);
        write!(f, "{}: {}: {rest}", self.finding.class, self.place())
    }
}

/// What `--check` is told besides the files.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// `--github-sub-claims`: the claim keys GitHub's customised `sub` has.
    pub github_sub_claims: Option<Vec<String>>,
}

/// One file read and checked.
#[derive(Debug)]
pub struct Checked {
    pub kind: Kind,
    pub roles: usize,
    pub findings: Vec<Located>,
}

/// The findings for one file's text; Err when it is no JSON or YAML, holds no
/// trust policy, or (a bare policy document) is not one IAM could read.
pub fn file(name: &str, path: &Path, text: &str, options: &Options) -> Result<Checked, String> {
    let tree = sources::parse(path, text)?;
    let (kind, roles) = sources::roles(&tree)?;
    let mut findings = Vec::new();
    for role in &roles {
        let found = match role_findings(role, options) {
            Ok(found) => found,
            Err(why) if matches!(kind, Kind::Policy | Kind::GetRole) => return Err(why),
            Err(why) => vec![unreadable(&why)],
        };
        findings.extend(found.into_iter().map(|finding| Located {
            line: role.line(&tree, &finding.at),
            file: name.to_string(),
            role: role.name.clone(),
            finding,
        }));
    }
    Ok(Checked {
        kind,
        roles: roles.len(),
        findings,
    })
}

fn unreadable(why: &str) -> Finding {
    Finding {
        statement: String::new(),
        at: String::new(),
        key: "AssumeRolePolicyDocument".into(),
        value: None,
        admits: why.to_string(),
        class: Class::NotJudged,
        fix: check::Fix::default(),
    }
}

/// Everything said about one role's trust policy.
pub fn role_findings(role: &Role, options: &Options) -> Result<Vec<Finding>, String> {
    if let Some(why) = &role.unknown {
        return Ok(vec![unreadable(why)]);
    }
    let mut findings = super::lint::lint(&role.document, &role.duplicates, !role.embedded);
    let policy = role.policy();
    if let Some(keys) = &options.github_sub_claims {
        let named = sources::fill(&policy, &|name| format!("${{{name}}}"));
        findings.extend(super::sub_claims::check(&named, keys));
    }
    let open = sources::open_names(&policy);
    if open.is_empty() {
        findings.extend(check::check(&policy)?);
        return Ok(findings);
    }
    let worst = check::check(&sources::fill(&policy, &|_| "*".into()))?;
    let named = check::check(&sources::fill(&policy, &|name| format!("${{{name}}}")))?;
    let same = |a: &Finding, b: &Finding| {
        a.statement == b.statement && a.key.eq_ignore_ascii_case(&b.key) && a.class == b.class
    };
    // A note on a value the file leaves open would be about its placeholder.
    let placeholders: Vec<String> = open.iter().map(|name| format!("${{{name}}}")).collect();
    for finding in &named {
        let about_open = finding
            .value
            .as_ref()
            .is_some_and(|v| placeholders.iter().any(|p| v.contains(p.as_str())));
        if !(finding.class == Class::Advice && about_open) {
            findings.push(finding.clone());
        }
    }
    // A stack deployed with the template's defaults has them: what they open is open.
    let defaulted: Vec<&(String, String)> = role
        .defaults
        .iter()
        .filter(|(name, _)| open.contains(name))
        .collect();
    let mut by_default = Vec::new();
    if !defaulted.is_empty() {
        let default = |name: &str| {
            defaulted
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, value)| value.clone())
                .unwrap_or_else(|| format!("${{{name}}}"))
        };
        let given: Vec<String> = defaulted.iter().map(|(n, v)| format!("{n}={v}")).collect();
        for finding in check::check(&sources::fill(&policy, &default))? {
            if !finding.class.fails() || named.iter().any(|n| same(n, &finding)) {
                continue;
            }
            by_default.push(Finding {
                admits: format!(
                    "{}, with the template's defaults ({})",
                    finding.admits,
                    given.join(", ")
                ),
                ..finding
            });
        }
    }
    findings.extend(by_default.iter().cloned());
    for finding in worst {
        if named.iter().any(|n| same(n, &finding))
            || by_default.iter().any(|d| {
                d.statement == finding.statement && d.key.eq_ignore_ascii_case(&finding.key)
            })
            || finding.class == Class::NotJudged
        {
            continue;
        }
        let value = finding
            .value
            .as_ref()
            .map(|v| format!(" \"{v}\""))
            .unwrap_or_default();
        findings.push(Finding {
            value: None,
            admits: format!(
                "depends on {}, which the file leaves open: given `*`, {}{value} admits {}",
                open.join(", "),
                finding.key,
                finding.admits
            ),
            class: Class::NotJudged,
            fix: check::Fix::default(),
            ..finding
        });
    }
    Ok(findings)
}

/// The verdict on all findings: 1 for any that is too open or broken, 3 when
/// all that fails is what was not judged, 0 for none; advice fails only when
/// `strict`.
pub fn exit_code(findings: &[Located], strict: bool) -> i32 {
    let fails = |f: &&Located| f.finding.class.fails() || strict;
    let failing: Vec<&Located> = findings.iter().filter(fails).collect();
    if failing.is_empty() {
        0
    } else if failing.iter().all(|f| f.finding.class == Class::NotJudged) {
        3
    } else {
        1
    }
}

/// Every finding on its line, each followed by its fix; a fix shared by
/// consecutive findings is printed once, after the last of them.
pub fn report(findings: &[Located]) -> String {
    let mut out = String::new();
    for (index, located) in findings.iter().enumerate() {
        out.push_str(&format!("{located}\n"));
        let fix = &located.finding.fix;
        if findings.get(index + 1).map(|next| &next.finding.fix) != Some(fix) {
            out.push_str(&fix.to_string());
        }
    }
    out
}

/// The JSON report (`--format json`): every finding with its place and fix.
pub fn json(checked: &[(String, Checked)], exit: i32) -> Value {
    let files: Vec<Value> = checked
        .iter()
        .map(|(name, c)| {
            serde_json::json!({ "file": name, "kind": c.kind.name(), "roles": c.roles })
        })
        .collect();
    let findings: Vec<Value> = checked
        .iter()
        .flat_map(|(_, c)| &c.findings)
        .map(|located| {
            let f = &located.finding;
            serde_json::json!({
                "rule": f.class.rule(),
                "severity": f.class.severity(),
                "file": located.file,
                "line": located.line,
                "role": located.role,
                "statement": f.statement,
                "key": f.key,
                "value": f.value,
                "admits": f.admits,
                "message": located.to_string(),
                "fix": {
                    "command": f.fix.command(),
                    "condition": f.fix.condition,
                },
            })
        })
        .collect();
    serde_json::json!({
        "files": files,
        "findings": findings,
        "exit": exit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Whatever a file holds, reading it ends in findings or an error, and
        /// every finding is on a line of the file.
        #[test]
        fn any_text_is_read_without_panicking(
            text in "(\\{|\\}|\\[|\\]|:|,|-| |\\n|\"|Statement|Resources|Type|AWS::IAM::Role|Properties|AssumeRolePolicyDocument|Effect|Allow|Principal|Federated|!Sub|!Ref|!If|&a|\\*a|\\$\\{x\\}|Condition|StringLike|a:sub|repo:\\*){0,40}"
        ) {
            for name in ["f.json", "f.yaml"] {
                if let Ok(checked) = file(name, Path::new(name), &text, &Options::default()) {
                    let lines = text.split('\n').count();
                    for located in &checked.findings {
                        prop_assert!(located.line.is_none_or(|l| (1..=lines).contains(&l)), "{}", located);
                    }
                }
            }
        }
    }
}
