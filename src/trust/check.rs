//! `trust-policy --check`'s pure part: read a role's trust policy and name each
//! way it admits more than the one repository (project, pipeline) a CI role is
//! meant for, each with the condition block `vault-ci trust-policy` prints for
//! the repository the policy seems meant for.
//!
//! The reading follows IAM's rules:
//! - condition keys are case-insensitive, operator names are not (IAM refuses
//!   `stringEquals` with "Invalid Condition type" when the role is written);
//! - the conditions of a statement are ANDed, the values of one condition ORed,
//!   so the narrowest `sub` condition is the one that decides;
//! - a positive condition on a key the request does not carry is false: a
//!   statement whose `sub` condition names a typo'd key (`…/sub`) or another
//!   provider's key admits *no* token, and is reported as such, not as "no
//!   `sub` condition". Under `ForAllValues:` or `…IfExists` the same condition
//!   is true, so there it narrows nothing and the missing `sub` is reported.
//!
//! Deny statements admit nothing and are not reported; a Deny narrows an Allow
//! only in the shapes this check can judge exactly (its conditions all negated
//! tests of the same `sub` key, or of the caller's account or organization).

use std::fmt;

use serde_json::{Map, Value, json};

use super::Subject;
use super::evaluate::{like_ignore_case, strings};
use crate::identity::{DEFAULT_AUDIENCE, Scope};

const WEB_IDENTITY: &str = "sts:AssumeRoleWithWebIdentity";
const ASSUME_ROLE: &str = "sts:AssumeRole";
const GITHUB: &str = "token.actions.githubusercontent.com";

/// What a finding is about, worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    /// Admits repositories, projects or pipelines of other owners, or other AWS
    /// accounts: anyone can create something that matches.
    OtherOwners,
    /// Admits every present and future repository of one owner (organization,
    /// group, workspace, enterprise): anyone who can create a repository there.
    WholeOwner,
    /// No `aud` condition on an issuer whose audience every customer shares.
    NoAudience,
    /// The statement admits no token from this issuer at all: a typo'd key, or
    /// another provider's. Not open, but broken — and the likely "fix" of
    /// deleting the condition that never matches would open it.
    AdmitsNothing,
}

impl Class {
    pub fn severity(self) -> &'static str {
        match self {
            Class::OtherOwners => "high",
            Class::WholeOwner => "medium",
            Class::NoAudience => "low",
            Class::AdmitsNothing => "broken",
        }
    }

    /// Whether `trust-policy --check` should fail on it: every class is a
    /// policy that does not say what its author meant.
    pub fn fails(self) -> bool {
        true
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.severity())
    }
}

/// One way a statement admits more than it should.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// `statement N`, with the Sid in parentheses when there is one.
    pub statement: String,
    /// The condition key concerned (as the policy spells it), or `Principal`.
    pub key: String,
    /// The offending value; `None` when the key has no condition at all.
    pub value: Option<String>,
    /// What it admits, one line: "any repository on GitHub".
    pub admits: String,
    pub class: Class,
    pub fix: Fix,
}

/// The condition block that admits what the statement seems meant for.
#[derive(Debug, Clone, PartialEq)]
pub struct Fix {
    /// The `vault-ci trust-policy …` command that prints it, when the issuer is
    /// a CI vault-ci knows. Placeholders (OWNER, REPO, PROJECT_ID …) stand for
    /// what the policy does not say.
    pub command: Option<String>,
    /// The statement's new `Condition`.
    pub condition: Value,
}

impl fmt::Display for Finding {
    /// One line: `high: statement 1: no condition on …:sub admits any repository on GitHub`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: ", self.class, self.statement)?;
        match (&self.value, self.class) {
            (Some(value), _) => write!(f, "{} \"{value}\"", self.key)?,
            (None, Class::AdmitsNothing) => write!(f, "the condition on {}", self.key)?,
            (None, _) => write!(f, "no condition on {}", self.key)?,
        }
        write!(f, " admits {}", self.admits)
    }
}

impl fmt::Display for Fix {
    /// The command (if any) and the condition block, indented by two spaces.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.command {
            Some(command) => writeln!(f, "  fix: the Condition `{command}` prints:")?,
            None => writeln!(f, "  fix: a Condition such as:")?,
        }
        for line in super::render(&self.condition).lines() {
            writeln!(f, "    {line}")?;
        }
        Ok(())
    }
}

/// Every finding on its line, each followed by its fix; a fix shared by
/// consecutive findings is printed once, after the last of them.
pub fn report(findings: &[Finding]) -> String {
    let mut out = String::new();
    for (index, finding) in findings.iter().enumerate() {
        out.push_str(&format!("{finding}\n"));
        if findings.get(index + 1).map(|next| &next.fix) != Some(&finding.fix) {
            out.push_str(&finding.fix.to_string());
        }
    }
    out
}

/// The findings for a trust policy: a policy document, `aws iam get-role`
/// output, or its `Role` object. Err when it is none of these.
pub fn check(policy: &Value) -> Result<Vec<Finding>, String> {
    let (document, role_arn) = document(policy)?;
    let statements: Vec<&Map<String, Value>> = match document.get("Statement") {
        Some(Value::Array(all)) => all
            .iter()
            .enumerate()
            .map(|(index, statement)| {
                statement
                    .as_object()
                    .ok_or_else(|| format!("statement {} is not a JSON object", index + 1))
            })
            .collect::<Result<_, _>>()?,
        Some(Value::Object(one)) => vec![one],
        _ => return Err("the trust policy has no \"Statement\"".into()),
    };
    let denies: Vec<&Map<String, Value>> = statements
        .iter()
        .copied()
        .filter(|statement| effect(statement) == Some("Deny"))
        .collect();
    let role = role_arn.as_deref().and_then(arn_account);

    let mut findings = Vec::new();
    for (index, statement) in statements.iter().enumerate() {
        if effect(statement) != Some("Allow") {
            continue;
        }
        let label = match statement.get("Sid").and_then(Value::as_str) {
            Some(sid) if !sid.is_empty() => format!("statement {} ({sid})", index + 1),
            _ => format!("statement {}", index + 1),
        };
        let principals = Principals::of(statement);
        let tests = tests(statement.get("Condition"));

        if covers(statement, WEB_IDENTITY) {
            let mut providers = principals.federated.clone();
            if principals.anyone {
                // `"Principal": "*"` admits every issuer; a condition naming one
                // issuer's keys is false for every other issuer's tokens.
                let named = issuers_named(&tests);
                let named: Vec<String> = named
                    .into_iter()
                    .filter(|issuer| {
                        tests.iter().any(|t| {
                            t.false_when_absent()
                                && t.key
                                    .rsplit_once(':')
                                    .is_some_and(|(prefix, _)| prefix.eq_ignore_ascii_case(issuer))
                        })
                    })
                    .collect();
                if named.is_empty() {
                    findings.push(any_web_identity(&label));
                }
                let (partition, account) =
                    role.clone().unwrap_or(("aws".into(), "ACCOUNT_ID".into()));
                providers.extend(named.into_iter().map(|issuer| Provider {
                    partition: partition.clone(),
                    account: account.clone(),
                    issuer,
                }));
            }
            for provider in &providers {
                findings.extend(check_provider(&label, provider, &tests, &denies)?);
            }
        }
        if (principals.anyone || principals.any_aws)
            && covers(statement, ASSUME_ROLE)
            && !tests.iter().any(pins_caller)
            // A positive test of an OIDC issuer's key is false for AWS callers.
            && !tests
                .iter()
                .any(|t| t.false_when_absent() && absent_for(&t.key, ""))
            && !denies.iter().any(|deny| deny_pins_caller(deny))
        {
            let account = role.as_ref().map(|(_, account)| account.as_str());
            findings.push(any_aws_account(&label, account));
        }
    }
    Ok(findings)
}

// ── the document ────────────────────────────────────────────────────────────

/// The policy document, and the role's ARN when the input is `get-role` output.
fn document(policy: &Value) -> Result<(Value, Option<String>), String> {
    let role = policy.get("Role").unwrap_or(policy);
    let arn = role.get("Arn").and_then(Value::as_str).map(str::to_string);
    let document = role.get("AssumeRolePolicyDocument").unwrap_or(policy);
    let document = match document {
        // The IAM API returns the document URL-encoded; the AWS CLI decodes it.
        Value::String(text) => serde_json::from_str(text)
            .or_else(|_| serde_json::from_str(&percent_decode(text)))
            .map_err(|e| format!("AssumeRolePolicyDocument is not JSON ({e})"))?,
        other => other.clone(),
    };
    if document.get("Statement").is_none() {
        return Err("the trust policy has no \"Statement\"".into());
    }
    Ok((document, arn))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `(partition, account)` of an ARN.
fn arn_account(arn: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", partition, _, _, account, _] => Some((partition.to_string(), account.to_string())),
        _ => None,
    }
}

fn effect(statement: &Map<String, Value>) -> Option<&str> {
    statement.get("Effect").and_then(Value::as_str)
}

/// Whether the statement's Action (or NotAction) includes `action`.
fn covers(statement: &Map<String, Value>, action: &str) -> bool {
    if let Some(actions) = statement.get("Action") {
        strings(Some(actions))
            .iter()
            .any(|pattern| like_ignore_case(pattern, action))
    } else if let Some(excluded) = statement.get("NotAction") {
        !strings(Some(excluded))
            .iter()
            .any(|pattern| like_ignore_case(pattern, action))
    } else {
        false
    }
}

/// An IAM OIDC provider a statement trusts.
#[derive(Debug, Clone)]
struct Provider {
    partition: String,
    account: String,
    /// IAM's provider name: host and path, no scheme.
    issuer: String,
}

#[derive(Debug, Default)]
struct Principals {
    /// `"Principal": "*"`, or `NotPrincipal` (everyone but the ones named).
    anyone: bool,
    /// `"AWS": "*"`.
    any_aws: bool,
    federated: Vec<Provider>,
}

impl Principals {
    fn of(statement: &Map<String, Value>) -> Principals {
        let mut principals = Principals {
            anyone: statement.contains_key("NotPrincipal"),
            ..Principals::default()
        };
        match statement.get("Principal") {
            Some(Value::String(star)) if star == "*" => principals.anyone = true,
            Some(Value::Object(map)) => {
                principals.any_aws = strings(map.get("AWS")).iter().any(|p| p == "*");
                principals.federated = strings(map.get("Federated"))
                    .iter()
                    .filter_map(|arn| {
                        let (partition, account) = arn_account(arn)?;
                        let issuer = arn.splitn(6, ':').nth(5)?.strip_prefix("oidc-provider/")?;
                        Some(Provider {
                            partition,
                            account,
                            issuer: issuer.to_string(),
                        })
                    })
                    .collect();
            }
            _ => {}
        }
        principals
    }
}

// ── conditions ──────────────────────────────────────────────────────────────

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Qualifier {
    AnyValue,
    AllValues,
}

/// One key's test in a Condition block.
#[derive(Debug, Clone)]
struct Test {
    key: String,
    values: Vec<String>,
    /// The operator without its qualifier and `IfExists`: `StringLike`.
    base: String,
    qualifier: Option<Qualifier>,
    if_exists: bool,
}

fn tests(condition: Option<&Value>) -> Vec<Test> {
    let Some(Value::Object(operators)) = condition else {
        return Vec::new();
    };
    let mut tests = Vec::new();
    for (operator, block) in operators {
        let Value::Object(block) = block else {
            continue;
        };
        let (qualifier, rest) = if let Some(rest) = operator.strip_prefix("ForAnyValue:") {
            (Some(Qualifier::AnyValue), rest)
        } else if let Some(rest) = operator.strip_prefix("ForAllValues:") {
            (Some(Qualifier::AllValues), rest)
        } else {
            (None, operator.as_str())
        };
        let (base, if_exists) = match rest.strip_suffix("IfExists") {
            Some(base) => (base, true),
            None => (rest, false),
        };
        for (key, values) in block {
            tests.push(Test {
                key: key.clone(),
                values: strings(Some(values)),
                base: base.to_string(),
                qualifier,
                if_exists,
            });
        }
    }
    tests
}

impl Test {
    fn key_is(&self, key: &str) -> bool {
        self.key.eq_ignore_ascii_case(key)
    }

    /// `Some(like)` for the string operators that narrow a key to their values.
    fn string_positive(&self) -> Option<bool> {
        match self.base.as_str() {
            "StringEquals" | "StringEqualsIgnoreCase" => Some(false),
            "StringLike" => Some(true),
            _ => None,
        }
    }

    /// `Some(like)` for the string operators that exclude their values.
    fn string_negated(&self) -> Option<bool> {
        match self.base.as_str() {
            "StringNotEquals" | "StringNotEqualsIgnoreCase" => Some(false),
            "StringNotLike" => Some(true),
            _ => None,
        }
    }

    fn positive(&self) -> bool {
        self.string_positive().is_some() || matches!(self.base.as_str(), "ArnEquals" | "ArnLike")
    }

    fn negated(&self) -> bool {
        self.string_negated().is_some()
            || matches!(self.base.as_str(), "ArnNotEquals" | "ArnNotLike")
    }

    /// Whether the test is false when the request does not carry its key.
    fn false_when_absent(&self) -> bool {
        self.positive() && !self.if_exists && self.qualifier != Some(Qualifier::AllValues)
    }

    /// Its one value, when it is a literal the key must equal.
    fn literal(&self) -> Option<&str> {
        let like = self.string_positive()?;
        match self.values.as_slice() {
            [one]
                if !(like && has_wildcard(one)) && self.qualifier.is_none() && !self.if_exists =>
            {
                Some(one)
            }
            _ => None,
        }
    }
}

/// Whether STS certainly sets no `key` for a token from `issuer`: a key without
/// a service prefix, or one named after another OIDC issuer (prefixes with a
/// dot are issuers; `aws:`, `sts:` … have none).
fn absent_for(key: &str, issuer: &str) -> bool {
    match key.rsplit_once(':') {
        None => true,
        Some((prefix, _)) => prefix.contains('.') && !prefix.eq_ignore_ascii_case(issuer),
    }
}

/// The issuers whose `sub` or `aud` the conditions test.
fn issuers_named(tests: &[Test]) -> Vec<String> {
    let mut issuers: Vec<String> = Vec::new();
    for test in tests {
        if let Some((issuer, claim)) = test.key.rsplit_once(':')
            && issuer.contains('.')
            && (claim.eq_ignore_ascii_case("sub") || claim.eq_ignore_ascii_case("aud"))
            && !issuers
                .iter()
                .any(|known| known.eq_ignore_ascii_case(issuer))
        {
            issuers.push(issuer.to_string());
        }
    }
    issuers
}

fn has_wildcard(value: &str) -> bool {
    value.contains(['*', '?'])
}

/// The text before a `StringLike` pattern's first wildcard, and whether that is
/// all of it (a literal).
fn literal_prefix(value: &str, like: bool) -> (&str, bool) {
    match value.find(['*', '?']) {
        Some(at) if like => (&value[..at], false),
        _ => (value, true),
    }
}

// ── OIDC providers ──────────────────────────────────────────────────────────

/// How far one `sub` value reaches.
#[derive(Debug, Clone, PartialEq)]
enum Reach {
    /// One repository (or nothing at all).
    One,
    /// Many repositories of one owner: what it admits.
    Owner(String),
    /// Repositories of other owners: what it admits.
    Others(String),
}

impl Reach {
    fn rank(&self) -> u8 {
        match self {
            Reach::One => 0,
            Reach::Owner(_) => 1,
            Reach::Others(_) => 2,
        }
    }
}

/// The ANDed tests that narrow a provider's tokens: each with its ORed values.
struct Narrowing {
    key: String,
    values: Vec<(String, Reach)>,
    /// Whether the values are `sub` values (the fix starts from them).
    sub: bool,
}

impl Narrowing {
    fn reach(&self) -> u8 {
        self.values
            .iter()
            .map(|(_, reach)| reach.rank())
            .max()
            .unwrap_or(0)
    }
}

fn check_provider(
    label: &str,
    provider: &Provider,
    tests: &[Test],
    denies: &[&Map<String, Value>],
) -> Result<Vec<Finding>, String> {
    let issuer = provider.issuer.as_str();
    let sub_key = format!("{issuer}:sub");
    let aud_key = format!("{issuer}:aud");

    // Values that were meant for `sub` but sit under another key (a typo):
    // they still tell the fix which repository the statement is for.
    let stray_subs: Vec<&str> = tests
        .iter()
        .filter(|t| !t.key_is(&sub_key) && t.key.to_ascii_lowercase().ends_with("sub"))
        .flat_map(|t| t.values.iter().map(String::as_str))
        .collect();

    let mut sub_tests: Vec<(String, Vec<String>, bool)> = tests
        .iter()
        .filter(|t| t.key_is(&sub_key))
        .filter_map(|t| Some((t.key.clone(), t.values.clone(), t.string_positive()?)))
        .filter(|(_, values, _)| !values.is_empty())
        .collect();
    sub_tests.extend(
        denies
            .iter()
            .filter_map(|deny| deny_narrows_sub(deny, issuer, &sub_key)),
    );

    let mut all_subs: Vec<&str> = sub_tests
        .iter()
        .flat_map(|(_, values, _)| values.iter().map(String::as_str))
        .collect();
    all_subs.extend(&stray_subs);
    let ci = Ci::recognise(issuer, &all_subs);

    if let Some(test) = tests
        .iter()
        .find(|t| t.false_when_absent() && absent_for(&t.key, issuer))
    {
        let representative = stray_subs.first().copied();
        return Ok(vec![Finding {
            statement: label.to_string(),
            key: test.key.clone(),
            value: None,
            admits: format!(
                "no token from {issuer}: STS sets no such key for them (a typo, or another provider's key?)"
            ),
            class: Class::AdmitsNothing,
            fix: fix(&ci, provider, tests, representative)?,
        }]);
    }

    let mut narrowings: Vec<Narrowing> = sub_tests
        .into_iter()
        .map(|(key, values, like)| Narrowing {
            key,
            values: values
                .into_iter()
                .map(|value| {
                    let reach = ci.reach(issuer, &value, like);
                    (value, reach)
                })
                .collect(),
            sub: true,
        })
        .collect();
    if matches!(ci, Ci::Buildkite) {
        narrowings.extend(buildkite_tags(tests));
    }

    let mut findings = Vec::new();
    let narrowest = narrowings.iter().min_by_key(|n| n.reach());
    let representative = narrowest
        .filter(|n| n.sub)
        .and_then(|n| n.values.first().map(|(value, _)| value.as_str()))
        .or(stray_subs.first().copied());
    match narrowest {
        None => {
            let (class, admits) = match ci.scope() {
                Some(scope) => (Class::WholeOwner, scope),
                None => (Class::OtherOwners, ci.everything(issuer)),
            };
            findings.push(Finding {
                statement: label.to_string(),
                key: sub_key.clone(),
                value: None,
                admits,
                class,
                fix: fix(&ci, provider, tests, representative)?,
            });
        }
        Some(narrowing) => {
            for (value, reach) in &narrowing.values {
                let (class, admits) = match reach {
                    Reach::One => continue,
                    Reach::Owner(admits) => (Class::WholeOwner, admits.clone()),
                    Reach::Others(admits) => (Class::OtherOwners, admits.clone()),
                };
                let from = if narrowing.sub {
                    Some(value.as_str())
                } else {
                    representative
                };
                findings.push(Finding {
                    statement: label.to_string(),
                    key: narrowing.key.clone(),
                    value: Some(value.clone()),
                    admits,
                    class,
                    fix: fix(&ci, provider, tests, from)?,
                });
            }
        }
    }

    let audience_tested = tests.iter().any(|t| {
        t.key_is(&aud_key)
            && t.string_positive().is_some()
            && t.values.iter().any(|v| !v.chars().all(|c| c == '*'))
    });
    if ci.shared_audience(issuer) && !audience_tested {
        findings.push(Finding {
            statement: label.to_string(),
            key: aud_key,
            value: None,
            admits: format!(
                "tokens {issuer} issued for any audience the IAM OIDC provider lists, not only for STS"
            ),
            class: Class::NoAudience,
            fix: fix(&ci, provider, tests, representative)?,
        });
    }
    Ok(findings)
}

/// A Deny that refuses every `sub` but the listed ones narrows the Allow to
/// them: its only condition a negated string test of this issuer's `sub`.
fn deny_narrows_sub(
    deny: &Map<String, Value>,
    issuer: &str,
    sub_key: &str,
) -> Option<(String, Vec<String>, bool)> {
    let principals = Principals::of(deny);
    let applies = principals.anyone
        || principals
            .federated
            .iter()
            .any(|p| p.issuer.eq_ignore_ascii_case(issuer));
    if !applies || !covers(deny, WEB_IDENTITY) {
        return None;
    }
    match tests(deny.get("Condition")).as_slice() {
        [test] if test.key_is(sub_key) && test.qualifier.is_none() && !test.values.is_empty() => {
            Some((
                test.key.clone(),
                test.values.clone(),
                test.string_negated()?,
            ))
        }
        _ => None,
    }
}

/// Buildkite's documented trust policy pins the organization and pipeline with
/// session tags rather than `sub`: Buildkite signs them into the token
/// (`https://aws.amazon.com/tags`), so they narrow as `sub` would.
fn buildkite_tags(tests: &[Test]) -> Option<Narrowing> {
    let tag = |name: &str| {
        tests
            .iter()
            .find(|t| t.key_is(&format!("aws:RequestTag/{name}")) && t.literal().is_some())
    };
    let organization = tag("organization_slug").or_else(|| tag("organization_id"))?;
    let value = organization.literal()?.to_string();
    let reach = if tag("pipeline_slug").is_some() {
        Reach::One
    } else {
        Reach::Owner(format!(
            "every present and future pipeline of the Buildkite organization {value}"
        ))
    };
    Some(Narrowing {
        key: organization.key.clone(),
        values: vec![(value, reach)],
        sub: false,
    })
}

/// The CI behind an issuer, as far as its name (or its `sub` grammar) tells.
#[derive(Debug, Clone, PartialEq)]
enum Ci {
    GitHub(Tenancy),
    /// gitlab.com, or a self-managed instance recognised by `project_path:`.
    GitLab,
    /// The issuer names the organization: `oidc.circleci.com/org/<id>`.
    CircleCI(String),
    Buildkite,
    /// The issuer names the workspace.
    Bitbucket(String),
    Unknown,
}

#[derive(Debug, Clone, PartialEq)]
enum Tenancy {
    /// token.actions.githubusercontent.com: every GitHub customer.
    Public,
    /// `token.actions.githubusercontent.com/<slug>` or GHE.com's
    /// `token.actions.<subdomain>.ghe.com`: one enterprise.
    Enterprise(String),
    /// GitHub Enterprise Server, `HOST/_services/token`: everyone on HOST.
    Server(String),
}

impl Ci {
    fn recognise(issuer: &str, subs: &[&str]) -> Ci {
        let lower = issuer.to_ascii_lowercase();
        let host = lower.split('/').next().unwrap_or_default();
        if lower == GITHUB {
            return Ci::GitHub(Tenancy::Public);
        }
        if let Some(slug) = lower.strip_prefix("token.actions.githubusercontent.com/") {
            return Ci::GitHub(Tenancy::Enterprise(slug.to_string()));
        }
        if let Some(subdomain) = host
            .strip_prefix("token.actions.")
            .and_then(|rest| rest.strip_suffix(".ghe.com"))
        {
            return Ci::GitHub(Tenancy::Enterprise(subdomain.to_string()));
        }
        if let Some(server) = issuer.strip_suffix("/_services/token") {
            return Ci::GitHub(Tenancy::Server(server.to_string()));
        }
        if lower == "gitlab.com" {
            return Ci::GitLab;
        }
        if let Some(org) = issuer
            .get("oidc.circleci.com/org/".len()..)
            .filter(|org| lower.starts_with("oidc.circleci.com/org/") && !org.contains('/'))
        {
            return Ci::CircleCI(org.to_string());
        }
        if lower == "agent.buildkite.com" {
            return Ci::Buildkite;
        }
        if let Some(workspace) = issuer
            .get("api.bitbucket.org/2.0/workspaces/".len()..)
            .filter(|_| lower.starts_with("api.bitbucket.org/2.0/workspaces/"))
            .and_then(|rest| rest.strip_suffix("/pipelines-config/identity/oidc"))
        {
            return Ci::Bitbucket(workspace.to_string());
        }
        if subs.iter().any(|sub| sub.starts_with("project_path:")) {
            return Ci::GitLab;
        }
        Ci::Unknown
    }

    /// What a missing `sub` condition admits.
    fn everything(&self, issuer: &str) -> String {
        match self {
            Ci::GitHub(Tenancy::Public) => "any repository on GitHub".into(),
            Ci::GitHub(Tenancy::Server(host)) => format!("any repository on {host}"),
            Ci::GitLab if issuer.eq_ignore_ascii_case("gitlab.com") => {
                "any project on gitlab.com".into()
            }
            Ci::GitLab => format!("any project on {issuer}"),
            Ci::Buildkite => "any pipeline of any Buildkite organization".into(),
            Ci::Unknown => format!("any identity {issuer} issues tokens for"),
            Ci::GitHub(Tenancy::Enterprise(_)) | Ci::CircleCI(_) | Ci::Bitbucket(_) => {
                self.scope().unwrap_or_default()
            }
        }
    }

    /// When the issuer itself belongs to one owner: everything it can admit.
    fn scope(&self) -> Option<String> {
        match self {
            Ci::GitHub(Tenancy::Enterprise(slug)) => Some(format!(
                "every present and future repository of the GitHub enterprise {slug}"
            )),
            Ci::CircleCI(org) => Some(format!(
                "every present and future project of the CircleCI organization {org}"
            )),
            Ci::Bitbucket(workspace) => Some(format!(
                "every present and future repository of the Bitbucket workspace {workspace}"
            )),
            _ => None,
        }
    }

    /// The multi-tenant issuers whose documented audience is the same for every
    /// customer. A self-managed GitLab or GHES, one enterprise's GitHub issuer,
    /// CircleCI (audience: the organization) and Bitbucket (the workspace) are not.
    fn shared_audience(&self, issuer: &str) -> bool {
        match self {
            Ci::GitHub(tenancy) => *tenancy == Tenancy::Public,
            Ci::GitLab => issuer.eq_ignore_ascii_case("gitlab.com"),
            Ci::Buildkite => true,
            _ => false,
        }
    }

    fn reach(&self, issuer: &str, value: &str, like: bool) -> Reach {
        let (prefix, literal) = literal_prefix(value, like);
        let everything = self.everything(issuer);
        let reach = match self {
            Ci::GitHub(_) => github_reach(prefix, literal, &everything),
            _ if literal => Reach::One,
            Ci::GitLab => gitlab_reach(prefix, &everything),
            Ci::Buildkite => buildkite_reach(prefix, &everything),
            Ci::CircleCI(org) => circleci_reach(prefix, org),
            Ci::Bitbucket(workspace) => bitbucket_reach(prefix, workspace),
            Ci::Unknown if prefix.is_empty() => Reach::Others(everything),
            Ci::Unknown => Reach::One,
        };
        match (reach, self.scope()) {
            (Reach::Others(_), Some(scope)) => Reach::Owner(scope),
            (reach, _) => reach,
        }
    }
}

/// The claim names GitHub's `sub` (default or customised) is made of.
const GITHUB_CLAIMS: &[&str] = &[
    "repo",
    "context",
    "ref",
    "ref_type",
    "environment",
    "pull_request",
    "job_workflow_ref",
    "job_workflow_sha",
    "workflow",
    "workflow_ref",
    "workflow_sha",
    "repository_id",
    "repository_owner",
    "repository_owner_id",
    "repository_visibility",
    "actor",
    "actor_id",
    "event_name",
    "head_ref",
    "base_ref",
    "runner_environment",
    "enterprise",
    "enterprise_id",
];

fn github_claim(name: &str) -> bool {
    GITHUB_CLAIMS.contains(&name) || name.starts_with("repo_property_")
}

/// GitHub's `sub` is `claim:value` pairs (`:` inside a value is sent as `%3A`),
/// by default `repo:OWNER/REPO:<context>`; a customised one may lead with any
/// claim. What pins one repository: a complete `repo:OWNER/REPO` or
/// `repository_id`; one owner: `repo:OWNER/`, `repository_owner(_id)`.
fn github_reach(prefix: &str, literal: bool, everything: &str) -> Reach {
    let segments: Vec<&str> = prefix.split(':').collect();
    let n = segments.len();
    let complete = |i: usize| i + 1 < n || literal;
    // A first claim no `sub` can start with: the value matches nothing.
    if complete(0) && !github_claim(segments[0]) {
        return Reach::One;
    }
    if !complete(0) && !GITHUB_CLAIMS.iter().any(|c| c.starts_with(segments[0])) {
        return Reach::One;
    }
    let mut owner: Option<(String, String)> = None;
    for i in 0..n.saturating_sub(1) {
        let (claim, value) = (segments[i], segments[i + 1]);
        let done = complete(i + 1) && !value.is_empty();
        match claim {
            "repo" => {
                if let Some((o, name)) = value.split_once('/')
                    && !o.is_empty()
                {
                    if done && !name.is_empty() {
                        return Reach::One;
                    }
                    owner.get_or_insert((o.to_string(), name.to_string()));
                }
            }
            "repository_id" if done => return Reach::One,
            "repository_owner" if done => {
                owner.get_or_insert((value.to_string(), String::new()));
            }
            "repository_owner_id" if done => {
                owner.get_or_insert((format!("the owner with id {value}"), String::new()));
            }
            _ => {}
        }
    }
    match owner {
        Some((owner, partial)) if partial.is_empty() => {
            Reach::Owner(format!("every present and future repository of {owner}"))
        }
        Some((owner, partial)) => Reach::Owner(format!(
            "every repository of {owner} whose name starts with \"{partial}\""
        )),
        // `repo:` with no `/` in its value: a malformed literal matches nothing.
        None if segments[0] == "repo" && n == 2 && literal => Reach::One,
        None if segments[0] == "repo" && n == 2 && segments[1].is_empty() => {
            Reach::Others(everything.to_string())
        }
        None if segments[0] == "repo" && n == 2 => Reach::Others(format!(
            "the repositories of every owner whose name starts with \"{0}\", such as {0}-evil/…",
            segments[1]
        )),
        None if segments.contains(&"job_workflow_ref") => Reach::Others(
            "any repository that calls this reusable workflow: of any owner, if the workflow's repository is public"
                .into(),
        ),
        None if prefix.is_empty() => Reach::Others(everything.to_string()),
        None => Reach::Others(format!("{everything}: the pattern names no owner")),
    }
}

/// Not before a prefix of `head`: the value matches nothing (One), unless the
/// prefix could still become `head` (Others).
fn outside(head: &str, prefix: &str, everything: &str) -> Reach {
    if head.starts_with(prefix) {
        Reach::Others(everything.to_string())
    } else {
        Reach::One
    }
}

/// `project_path:GROUP[/SUBGROUP…]/PROJECT:ref_type:…:ref:…`.
fn gitlab_reach(prefix: &str, everything: &str) -> Reach {
    let Some(path) = prefix.strip_prefix("project_path:") else {
        return outside("project_path:", prefix, everything);
    };
    if path.contains(':') {
        return Reach::One;
    }
    match path.rsplit_once('/') {
        Some((groups, partial)) if !groups.is_empty() => Reach::Owner(if partial.is_empty() {
            format!("every present and future project under {groups}")
        } else {
            format!("every project under {groups} whose path starts with \"{partial}\"")
        }),
        _ if path.is_empty() => Reach::Others(everything.to_string()),
        _ => Reach::Others(format!(
            "the projects of every group whose name starts with \"{path}\", such as {path}-evil/…"
        )),
    }
}

/// `organization:ORG:pipeline:PIPELINE:ref:…:commit:…:step:…`.
fn buildkite_reach(prefix: &str, everything: &str) -> Reach {
    let Some(rest) = prefix.strip_prefix("organization:") else {
        return outside("organization:", prefix, everything);
    };
    let segments: Vec<&str> = rest.split(':').collect();
    let organization = segments[0];
    let all = || {
        Reach::Owner(format!(
            "every present and future pipeline of the Buildkite organization {organization}"
        ))
    };
    match segments.as_slice() {
        [""] => Reach::Others(everything.to_string()),
        [partial] => Reach::Others(format!(
            "the pipelines of every Buildkite organization whose slug starts with \"{partial}\""
        )),
        [_, key] if "pipeline".starts_with(key) => all(),
        [_, "pipeline", ""] => all(),
        [_, "pipeline", partial] => Reach::Owner(format!(
            "every pipeline of the Buildkite organization {organization} whose slug starts with \"{partial}\""
        )),
        _ => Reach::One,
    }
}

/// `org/ORG/project/PROJECT/user/USER[/vcs-origin/…/vcs-ref/…]`; the issuer
/// already names the organization, so the worst is the whole organization.
fn circleci_reach(prefix: &str, org: &str) -> Reach {
    let all = || Reach::Others(String::new()); // capped to the issuer's organization
    let Some(rest) = prefix.strip_prefix("org/") else {
        return if "org/".starts_with(prefix) {
            all()
        } else {
            Reach::One
        };
    };
    let segments: Vec<&str> = rest.split('/').collect();
    match segments.as_slice() {
        [_] => all(),
        [other, ..] if !other.eq_ignore_ascii_case(org) => Reach::One,
        [_, key] if "project".starts_with(key) => all(),
        [_, "project", partial] if !partial.is_empty() => Reach::Owner(format!(
            "every project of the CircleCI organization {org} whose ID starts with \"{partial}\""
        )),
        [_, "project", _] => all(),
        _ => Reach::One,
    }
}

/// `{REPOSITORY_UUID}:[{ENVIRONMENT_UUID}:]{STEP_UUID}`; the issuer already
/// names the workspace.
fn bitbucket_reach(prefix: &str, workspace: &str) -> Reach {
    if prefix.is_empty() || prefix == "{" {
        Reach::Others(String::new()) // capped to the issuer's workspace
    } else if !prefix.starts_with('{') || prefix.contains('}') {
        Reach::One
    } else {
        Reach::Owner(format!(
            "every repository of the Bitbucket workspace {workspace} whose UUID starts with \"{prefix}\""
        ))
    }
}

// ── AWS principals ──────────────────────────────────────────────────────────

/// Context keys that pin the caller to accounts or an organization.
const CALLER_KEYS: &[&str] = &[
    "aws:PrincipalAccount",
    "aws:PrincipalArn",
    "aws:userid",
    "aws:PrincipalOrgID",
    "aws:PrincipalOrgPaths",
    "aws:SourceAccount",
    "aws:SourceArn",
    "aws:SourceOrgID",
    "aws:SourceOrgPaths",
    "aws:SourceOwner",
];

/// Keys every AWS caller's request carries: only for these does a condition
/// under `ForAllValues:` or `…IfExists` still pin anything.
const ALWAYS_PRESENT: &[&str] = &["aws:PrincipalAccount", "aws:PrincipalArn", "aws:userid"];

fn caller_key(test: &Test) -> Option<&'static str> {
    CALLER_KEYS.iter().copied().find(|key| test.key_is(key))
}

/// Whether a value of a caller key names accounts (or an organization) rather
/// than a pattern every account matches. `sts:ExternalId` is not in the list:
/// it is not a secret, and it says which caller, not which account.
fn value_pins(key: &str, value: &str) -> bool {
    let (literal, whole) = literal_prefix(value, true);
    match key {
        "aws:PrincipalArn" | "aws:SourceArn" => literal.matches(':').count() >= 5,
        "aws:PrincipalOrgPaths" | "aws:SourceOrgPaths" => literal.contains('/'),
        "aws:userid" => literal.contains(':') || (whole && !literal.is_empty()),
        _ => whole && !literal.is_empty(),
    }
}

fn pins_caller(test: &Test) -> bool {
    let Some(key) = caller_key(test) else {
        return false;
    };
    let optional = test.if_exists || test.qualifier == Some(Qualifier::AllValues);
    test.positive()
        && (!optional || ALWAYS_PRESENT.contains(&key))
        && !test.values.is_empty()
        && test.values.iter().all(|value| value_pins(key, value))
}

/// A Deny for everyone outside the named accounts or organization.
fn deny_pins_caller(deny: &Map<String, Value>) -> bool {
    let principals = Principals::of(deny);
    let tests = tests(deny.get("Condition"));
    (principals.anyone || principals.any_aws)
        && covers(deny, ASSUME_ROLE)
        && !tests.is_empty()
        && tests.iter().all(|test| {
            caller_key(test).is_some_and(|key| {
                test.negated()
                    && test.qualifier.is_none()
                    && !test.values.is_empty()
                    && test.values.iter().all(|value| value_pins(key, value))
            })
        })
}

fn any_aws_account(label: &str, account: Option<&str>) -> Finding {
    Finding {
        statement: label.to_string(),
        key: "Principal".into(),
        value: Some("*".into()),
        admits: "any AWS account's users and roles: sts:AssumeRole with no condition on the caller's account or organization".into(),
        class: Class::OtherOwners,
        fix: Fix {
            command: None,
            condition: json!({
                "StringEquals": { "aws:PrincipalAccount": account.unwrap_or("ACCOUNT_ID") }
            }),
        },
    }
}

fn any_web_identity(label: &str) -> Finding {
    let subject = Subject {
        issuer: "ISSUER".into(),
        audience: "AUDIENCE".into(),
        subject: "SUBJECT".into(),
    };
    Finding {
        statement: label.to_string(),
        key: "Principal".into(),
        value: Some("*".into()),
        admits: "any web identity token: every OIDC provider of the account, and Google, Amazon, Facebook and Cognito identities".into(),
        class: Class::OtherOwners,
        fix: Fix {
            command: None,
            condition: subject.statement("aws", "ACCOUNT_ID")["Condition"].clone(),
        },
    }
}

// ── fixes ───────────────────────────────────────────────────────────────────

/// The fix for a statement trusting `provider`, built from the `sub` value it
/// seems meant for: `vault-ci trust-policy`'s arguments for that repository
/// (placeholders for what the value does not say), and the Condition those
/// arguments print — computed by trust-policy's own code, so the two agree.
fn fix(ci: &Ci, provider: &Provider, tests: &[Test], sub: Option<&str>) -> Result<Fix, String> {
    let issuer = provider.issuer.as_str();
    let aud_key = format!("{issuer}:aud");
    let audience = tests
        .iter()
        .find(|t| t.key_is(&aud_key) && t.literal().is_some())
        .and_then(Test::literal);
    let mut args: Vec<String> = Vec::new();
    let mut push = |flag: &str, value: &str| {
        args.push(flag.to_string());
        if !value.is_empty() {
            args.push(value.to_string());
        }
    };
    match ci {
        Ci::Unknown => {
            let subject = Subject {
                issuer: issuer.to_string(),
                audience: audience.unwrap_or("AUDIENCE").to_string(),
                subject: "SUBJECT".into(),
            };
            return Ok(Fix {
                command: None,
                condition: condition(&subject, provider),
            });
        }
        Ci::GitHub(_) => {
            let mut owner = None;
            let mut name = None;
            let mut context = None;
            if let Some(rest) = sub.and_then(|s| s.strip_prefix("repo:")) {
                let (owner_part, after) = match rest.split_once('/') {
                    Some((owner, after)) => (owner, Some(after)),
                    None => (rest, None),
                };
                owner = owner_name(owner_part);
                if let Some(after) = after {
                    let (repo_part, tail) = match after.split_once(':') {
                        Some((repo, tail)) => (repo, Some(tail)),
                        None => (after, None),
                    };
                    name = Some(repo_part).filter(|r| !r.is_empty() && !has_wildcard(r));
                    context = tail;
                }
            } else if let Some(s) = sub {
                let segments: Vec<&str> = s.split(':').collect();
                owner = segments
                    .windows(2)
                    .find(|pair| pair[0] == "repository_owner" && plain(pair[1]))
                    .map(|pair| pair[1].to_string());
            }
            // GitHub's default audience is the owner's URL: https://github.com/OWNER.
            let owner = owner.or_else(|| {
                let path = audience?.strip_prefix("https://")?.split_once('/')?.1;
                Some(path.to_string()).filter(|p| plain(p))
            });
            let owner = owner.unwrap_or_else(|| "OWNER".into());
            let (owner, owner_id) = split_id(&owner);
            let (name, repo_id) = split_id(name.unwrap_or("REPO"));
            push("--provider", "github");
            push("--repo", &format!("{owner}/{name}"));
            if owner_id.is_some() || repo_id.is_some() {
                push("--owner-id", owner_id.unwrap_or("OWNER_ID"));
                push("--repo-id", repo_id.unwrap_or("REPO_ID"));
            }
            let head = |prefix: &str| {
                context
                    .and_then(|c| c.strip_prefix(prefix))
                    .and_then(|rest| rest.split(':').next())
                    .filter(|value| !value.is_empty())
            };
            if let Some(branch) = head("ref:refs/heads/") {
                push("--branch", branch);
            } else if let Some(tag) = head("ref:refs/tags/") {
                push("--tag", tag);
            } else if let Some(environment) = head("environment:") {
                push("--environment", environment);
            } else if context.is_some_and(|c| c == "pull_request" || c.starts_with("pull_request:"))
            {
                push("--pull-request", "");
            }
            if !issuer.eq_ignore_ascii_case(GITHUB) {
                push("--issuer", issuer);
            }
            if let Some(audience) = audience.filter(|a| *a != DEFAULT_AUDIENCE) {
                push("--audience", audience);
            }
        }
        Ci::GitLab => {
            let mut path = "GROUP/PROJECT".to_string();
            let mut context = None;
            if let Some(rest) = sub.and_then(|s| s.strip_prefix("project_path:")) {
                let (path_part, tail) = match rest.split_once(':') {
                    Some((path, tail)) => (path, Some(tail)),
                    None => (rest, None),
                };
                let (literal, whole) = literal_prefix(path_part, true);
                if whole && literal.contains('/') {
                    path = literal.to_string();
                } else if let Some((groups, _)) = literal.rsplit_once('/')
                    && !groups.is_empty()
                {
                    path = format!("{groups}/PROJECT");
                } else if let Some(group) = owner_name(literal) {
                    path = format!("{group}/PROJECT");
                }
                context = tail;
            }
            push("--provider", "gitlab");
            push("--project-path", &path);
            let reference = |kind: &str| {
                context
                    .and_then(|c| c.strip_prefix(&format!("ref_type:{kind}:ref:")))
                    .filter(|value| !value.is_empty())
            };
            if let Some(branch) = reference("branch") {
                push("--branch", branch);
            } else if let Some(tag) = reference("tag") {
                push("--tag", tag);
            }
            if !issuer.eq_ignore_ascii_case("gitlab.com") {
                push("--issuer", issuer);
            }
            if let Some(audience) = audience.filter(|a| *a != DEFAULT_AUDIENCE) {
                push("--audience", audience);
            }
        }
        Ci::Buildkite => {
            let segments: Vec<&str> = sub.map(|s| s.split(':').collect()).unwrap_or_default();
            let tag = |name: &str| {
                tests
                    .iter()
                    .find(|t| t.key_is(&format!("aws:RequestTag/{name}")))
                    .and_then(Test::literal)
                    .filter(|v| plain(v))
                    .map(str::to_string)
            };
            let organization = match segments.as_slice() {
                ["organization", org, _, ..] if plain(org) => Some(org.to_string()),
                ["organization", org, ..] => owner_name(org),
                _ => tag("organization_slug"),
            };
            let pipeline = match segments.as_slice() {
                ["organization", _, "pipeline", pipeline, ..] if plain(pipeline) => {
                    Some(pipeline.to_string())
                }
                ["organization", ..] => None,
                _ => tag("pipeline_slug"),
            };
            let reference = segments
                .iter()
                .position(|s| *s == "ref")
                .and_then(|at| segments.get(at + 1));
            push("--provider", "buildkite");
            push(
                "--organization",
                organization.as_deref().unwrap_or("ORGANIZATION"),
            );
            push("--pipeline", pipeline.as_deref().unwrap_or("PIPELINE"));
            if let Some(branch) = reference.and_then(|r| r.strip_prefix("refs/heads/")) {
                push("--branch", branch);
            } else if let Some(tag) = reference.and_then(|r| r.strip_prefix("refs/tags/")) {
                push("--tag", tag);
            }
            if !issuer.eq_ignore_ascii_case("agent.buildkite.com") {
                push("--issuer", issuer);
            }
            if let Some(audience) = audience.filter(|a| *a != DEFAULT_AUDIENCE) {
                push("--audience", audience);
            }
        }
        Ci::CircleCI(org) => {
            let segments: Vec<&str> = sub.map(|s| s.split('/').collect()).unwrap_or_default();
            let project = match segments.as_slice() {
                ["org", _, "project", project, _, ..] if plain(project) => *project,
                _ => "PROJECT_ID",
            };
            let reference = |prefix: &str| {
                let s = sub?;
                let at = s.find(prefix)?;
                Some(&s[at + prefix.len()..]).filter(|r| !r.is_empty())
            };
            push("--provider", "circleci");
            push("--org-id", org);
            push("--project-id", project);
            if let Some(branch) = reference("/vcs-ref/refs/heads/") {
                push("--branch", branch);
            } else if let Some(tag) = reference("/vcs-ref/refs/tags/") {
                push("--tag", tag);
            }
            if !issuer.eq_ignore_ascii_case(&format!("oidc.circleci.com/org/{org}")) {
                push("--issuer", issuer);
            }
            if let Some(audience) = audience.filter(|a| a != org) {
                push("--audience", audience);
            }
        }
        Ci::Bitbucket(workspace) => {
            let braced = |part: &str| {
                part.strip_prefix('{')
                    .and_then(|p| p.strip_suffix('}'))
                    .filter(|uuid| plain(uuid))
                    .map(str::to_string)
            };
            let parts: Vec<&str> = sub.map(|s| s.split(':').collect()).unwrap_or_default();
            let repository = parts.first().and_then(|p| braced(p));
            let environment = match parts.as_slice() {
                [_, environment, _] => braced(environment),
                _ => None,
            };
            let workspace_uuid = audience
                .and_then(|a| a.strip_prefix("ari:cloud:bitbucket::workspace/"))
                .map(|uuid| uuid.trim_matches(['{', '}']).to_string())
                .filter(|uuid| plain(uuid));
            let workspace_uuid = workspace_uuid.as_deref().unwrap_or("WORKSPACE_UUID");
            push("--provider", "bitbucket");
            push("--workspace", workspace);
            push("--workspace-uuid", workspace_uuid);
            push("--repo-uuid", repository.as_deref().unwrap_or("REPO_UUID"));
            if let Some(environment) = &environment {
                push("--environment", environment);
            }
            let default_issuer = format!(
                "api.bitbucket.org/2.0/workspaces/{workspace}/pipelines-config/identity/oidc"
            );
            if !issuer.eq_ignore_ascii_case(&default_issuer) {
                push("--issuer", issuer);
            }
            let default_audience = format!("ari:cloud:bitbucket::workspace/{workspace_uuid}");
            if let Some(audience) = audience.filter(|a| *a != default_audience) {
                push("--audience", audience);
            }
        }
    }
    if provider.account.len() == 12 && provider.account.bytes().all(|b| b.is_ascii_digit()) {
        push("--account-id", &provider.account);
    }
    if provider.partition != "aws" {
        push("--partition", &provider.partition);
    }
    let subject = trust_policy_subject(&args)?;
    let command = std::iter::once("vault-ci trust-policy".to_string())
        .chain(args.iter().map(|arg| shell_word(arg)))
        .collect::<Vec<_>>()
        .join(" ");
    Ok(Fix {
        command: Some(command),
        condition: condition(&subject, provider),
    })
}

fn condition(subject: &Subject, provider: &Provider) -> Value {
    subject.statement(&provider.partition, &provider.account)["Condition"].clone()
}

/// What `vault-ci trust-policy ARGS` prints, for the arguments a fix names:
/// the CI's own `sub` grammar (identity/<ci>.rs) on the scope they give.
/// (A test holds the arguments to what trust-policy's command line accepts.)
pub(crate) fn trust_policy_subject(args: &[String]) -> Result<Subject, String> {
    let internal = |e: &dyn fmt::Display| {
        format!(
            "internal error: trust-policy {} does not work ({e})",
            args.join(" ")
        )
    };
    let mut scope = Scope::default();
    let mut provider = None;
    let mut words = args.iter();
    while let Some(flag) = words.next() {
        if flag == "--pull-request" {
            scope.pull_request = true;
            continue;
        }
        let value = words.next().cloned().ok_or_else(|| internal(&flag))?;
        let field = match flag.as_str() {
            "--provider" => {
                provider = Some(
                    <crate::identity::Ci as clap::ValueEnum>::from_str(&value, false)
                        .map_err(|e| internal(&e))?,
                );
                continue;
            }
            "--account-id" | "--partition" => continue,
            "--repo" => &mut scope.repo,
            "--owner-id" => &mut scope.owner_id,
            "--repo-id" => &mut scope.repo_id,
            "--project-path" => &mut scope.project_path,
            "--org-id" => &mut scope.org_id,
            "--project-id" => &mut scope.project_id,
            "--organization" => &mut scope.organization,
            "--pipeline" => &mut scope.pipeline,
            "--workspace" => &mut scope.workspace,
            "--workspace-uuid" => &mut scope.workspace_uuid,
            "--repo-uuid" => &mut scope.repo_uuid,
            "--branch" => &mut scope.branch,
            "--environment" => &mut scope.environment,
            "--tag" => &mut scope.tag,
            "--audience" => &mut scope.audience,
            "--issuer" => &mut scope.issuer,
            other => return Err(internal(&other)),
        };
        *field = Some(value);
    }
    provider
        .ok_or_else(|| internal(&"no --provider"))?
        .trust_subject(&scope)
        .map_err(|e| internal(&e))
}

/// A name made of the characters owner, repository, slug and UUID names use.
fn plain(value: &str) -> bool {
    !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
}

/// The owner a `repo:` owner part names: itself when complete, else the text
/// before its wildcard when that is a whole name (`acme*` → acme).
fn owner_name(part: &str) -> Option<String> {
    let (literal, whole) = literal_prefix(part, true);
    let name_like = |s: &str| {
        !s.is_empty()
            && !s.ends_with(['-', '.', '_'])
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    };
    if (whole && plain(literal)) || (!whole && name_like(literal)) {
        Some(literal.to_string())
    } else {
        None
    }
}

/// `NAME@ID` → (NAME, Some(ID)): GitHub's immutable subjects.
fn split_id(value: &str) -> (&str, Option<&str>) {
    match value.split_once('@') {
        Some((name, id)) if !id.is_empty() => (name, Some(id)),
        _ => (value, None),
    }
}

fn shell_word(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:@=,+".contains(c))
    {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fixtures(kind: &str) -> Vec<(String, Value)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/trust")
            .join(kind);
        let mut all: Vec<(String, Value)> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|e| e == "json"))
            .map(|path| {
                let text = std::fs::read_to_string(&path).unwrap();
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
                (name, value)
            })
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        assert!(!all.is_empty(), "no fixtures in {}", dir.display());
        all
    }

    fn classes(policy: &Value) -> Vec<Class> {
        check(policy).unwrap().iter().map(|f| f.class).collect()
    }

    use Class::*;

    /// What each fixture in unsafe/ must give, in order (also in its README).
    const UNSAFE: &[(&str, &[Class])] = &[
        ("aws-any-account.json", &[OtherOwners]),
        ("aws-star-external-id.json", &[OtherOwners]),
        ("bitbucket-any-repository.json", &[WholeOwner]),
        ("buildkite-any-organization.json", &[OtherOwners]),
        ("circleci-all-projects.json", &[WholeOwner]),
        ("circleci-org-wildcard.json", &[WholeOwner]),
        ("federated-list-two-providers.json", &[AdmitsNothing]),
        ("get-role-url-encoded.json", &[OtherOwners]),
        ("ghes-aud-only.json", &[OtherOwners]),
        ("github-action-star.json", &[OtherOwners]),
        ("github-aud-only-gist.json", &[OtherOwners]),
        ("github-enterprise-no-sub.json", &[WholeOwner]),
        ("github-list-one-wildcard.json", &[OtherOwners]),
        ("github-no-condition.json", &[OtherOwners, NoAudience]),
        ("github-org-wildcard-readme.json", &[WholeOwner]),
        ("github-other-provider-key.json", &[AdmitsNothing]),
        ("github-owner-prefix.json", &[OtherOwners]),
        ("github-repo-star.json", &[OtherOwners]),
        ("github-reusable-workflow-only.json", &[OtherOwners]),
        ("github-sub-typo-forallvalues.json", &[OtherOwners]),
        ("github-sub-typo.json", &[AdmitsNothing]),
        ("gitlab-any-project.json", &[OtherOwners]),
        ("gitlab-group-prefix.json", &[OtherOwners]),
        ("principal-star-web-identity.json", &[OtherOwners]),
    ];

    /// Documented examples that admit a whole owner on purpose: GitLab documents
    /// `project_path:mygroup/*` as "all projects under a group". The finding
    /// stands (it is what the pattern admits), at its lower class.
    const SAFE_ORG_WIDE: &[(&str, &[Class])] =
        &[("gitlab-docs-group-wildcard.json", &[WholeOwner])];

    #[test]
    fn documented_policies_admit_one_repository() {
        for (name, policy) in fixtures("safe") {
            let expected = SAFE_ORG_WIDE
                .iter()
                .find(|(file, _)| *file == name)
                .map(|(_, classes)| classes.to_vec())
                .unwrap_or_default();
            let findings = check(&policy).unwrap();
            assert_eq!(
                findings.iter().map(|f| f.class).collect::<Vec<_>>(),
                expected,
                "{name}: {findings:#?}"
            );
        }
    }

    #[test]
    fn published_mistakes_are_found() {
        let all = fixtures("unsafe");
        let names: Vec<&str> = all.iter().map(|(name, _)| name.as_str()).collect();
        let listed: Vec<&str> = UNSAFE.iter().map(|(name, _)| *name).collect();
        assert_eq!(
            names, listed,
            "every unsafe fixture has its expected classes here"
        );
        for ((name, policy), (_, expected)) in all.iter().zip(UNSAFE) {
            let findings = check(policy).unwrap();
            assert_eq!(
                findings.iter().map(|f| f.class).collect::<Vec<_>>(),
                expected.to_vec(),
                "{name}: {findings:#?}"
            );
        }
    }

    /// The statement a finding is about, with the fix's Condition in place of
    /// its own (and, for a provider's finding, only that provider).
    fn fixed(policy: &Value, finding: &Finding) -> Value {
        let (document, _) = document(policy).unwrap();
        let statements = match &document["Statement"] {
            Value::Array(all) => all.clone(),
            one => vec![one.clone()],
        };
        let index: usize = finding.statement["statement ".len()..]
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let mut statement = statements[index - 1].clone();
        statement["Condition"] = finding.fix.condition.clone();
        let fix_issuers = issuers_named(&tests(Some(&finding.fix.condition)));
        if let Some(federated) = statement["Principal"].get("Federated") {
            let kept: Vec<String> = strings(Some(federated))
                .into_iter()
                .filter(|arn| fix_issuers.iter().any(|i| arn.ends_with(&format!("/{i}"))))
                .collect();
            statement["Principal"]["Federated"] = json!(kept);
        }
        json!({ "Version": "2012-10-17", "Statement": [statement] })
    }

    #[test]
    fn every_fix_admits_one_repository() {
        for (name, policy) in fixtures("unsafe") {
            for mut finding in check(&policy).unwrap() {
                // A `*` principal's fix names the issuer to trust: fill it in.
                let text = finding
                    .fix
                    .condition
                    .to_string()
                    .replace("ISSUER", "issuer.example.com");
                finding.fix.condition = serde_json::from_str(&text).unwrap();
                let repaired = fixed(&policy, &finding);
                assert_eq!(classes(&repaired), [], "{name}: {finding}\n{repaired:#}");
            }
        }
    }

    fn only_finding(policy: Value) -> Finding {
        let mut findings = check(&policy).unwrap();
        assert_eq!(findings.len(), 1, "{findings:#?}");
        findings.remove(0)
    }

    fn github(condition: Value) -> Value {
        json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": { "Federated": "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com" },
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": condition,
            }]
        })
    }

    fn github_sub(operator: &str, sub: Value) -> Value {
        github(json!({
            "StringEquals": { "token.actions.githubusercontent.com:aud": "sts.amazonaws.com" },
            operator: { "token.actions.githubusercontent.com:sub": sub },
        }))
    }

    #[test]
    fn the_fix_is_what_trust_policy_prints_for_the_repository_meant() {
        let cases = [
            ("repo:*", "--repo OWNER/REPO", "repo:OWNER/REPO:*"),
            ("repo:acme*", "--repo acme/REPO", "repo:acme/REPO:*"),
            ("repo:acme/*", "--repo acme/REPO", "repo:acme/REPO:*"),
            (
                "repo:acme/*:ref:refs/heads/main",
                "--repo acme/REPO --branch main",
                "repo:acme/REPO:ref:refs/heads/main",
            ),
            (
                "repo:acme/*:environment:prod",
                "--repo acme/REPO --environment prod",
                "repo:acme/REPO:environment:prod",
            ),
            (
                "repo:acme@123/*",
                "--repo acme/REPO --owner-id 123 --repo-id REPO_ID",
                "repo:acme@123/REPO@REPO_ID:*",
            ),
            ("*", "--repo OWNER/REPO", "repo:OWNER/REPO:*"),
        ];
        for (pattern, args, subject) in cases {
            let finding = only_finding(github_sub("StringLike", json!(pattern)));
            assert_eq!(
                finding.fix.command.as_deref(),
                Some(
                    format!(
                        "vault-ci trust-policy --provider github {args} --account-id 123456789012"
                    )
                    .as_str()
                ),
                "{pattern}"
            );
            let condition = &finding.fix.condition;
            let sub = condition["StringLike"]["token.actions.githubusercontent.com:sub"]
                .as_str()
                .or(condition["StringEquals"]["token.actions.githubusercontent.com:sub"].as_str());
            assert_eq!(sub, Some(subject), "{pattern}");
            assert_eq!(
                condition["StringEquals"]["token.actions.githubusercontent.com:aud"],
                "sts.amazonaws.com"
            );
        }
        // With no sub at all, GitHub's default audience still names the owner.
        let finding = only_finding(github(json!({
            "StringEquals": { "token.actions.githubusercontent.com:aud": "https://github.com/acme" }
        })));
        assert_eq!(
            finding.fix.command.as_deref(),
            Some(
                "vault-ci trust-policy --provider github --repo acme/REPO --audience https://github.com/acme --account-id 123456789012"
            )
        );
    }

    #[test]
    fn what_each_pattern_admits() {
        let cases = [
            ("repo:*", OtherOwners, "any repository on GitHub"),
            ("*", OtherOwners, "any repository on GitHub"),
            (
                "repo:acme*",
                OtherOwners,
                "the repositories of every owner whose name starts with \"acme\", such as acme-evil/…",
            ),
            (
                "repo:acme/*",
                WholeOwner,
                "every present and future repository of acme",
            ),
            (
                "repo:acme/app*",
                WholeOwner,
                "every repository of acme whose name starts with \"app\"",
            ),
            (
                "repo:acme@123/*",
                WholeOwner,
                "every present and future repository of acme@123",
            ),
            (
                "repository_owner:acme:*",
                WholeOwner,
                "every present and future repository of acme",
            ),
            (
                "ref:refs/heads/main",
                OtherOwners,
                "any repository on GitHub: the pattern names no owner",
            ),
        ];
        for (pattern, class, admits) in cases {
            let finding = only_finding(github_sub("StringLike", json!(pattern)));
            assert_eq!(
                (finding.class, finding.admits.as_str()),
                (class, admits),
                "{pattern}"
            );
            assert_eq!(finding.value.as_deref(), Some(pattern));
        }
        // One repository, any ref, with or without wildcards: nothing to say.
        for pattern in [
            "repo:acme/app:*",
            "repo:acme/app:ref:refs/heads/*",
            "repo:acme@1/app@2:*",
            "repo:acme/app",
            "repository_id:74:*",
            "repository_owner:acme:repo:acme/app:*",
            "nonsense*",
        ] {
            assert_eq!(
                classes(&github_sub("StringLike", json!(pattern))),
                [],
                "{pattern}"
            );
        }
        // StringEquals compares literally: `*` there is just a character.
        let literal = github(json!({ "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": "repo:*",
        } }));
        assert_eq!(classes(&literal), []);
        // Only the text before the first wildcard is read: a repository named
        // after it is not seen (reported, conservatively).
        let late = "job_workflow_ref:acme/ci/.github/workflows/d.yml@*:repo:acme/app";
        assert_eq!(
            classes(&github_sub("StringLike", json!(late))),
            [OtherOwners]
        );
    }

    #[test]
    fn conditions_are_anded_and_values_ored() {
        // Two conditions: the narrower one decides.
        let policy = github(json!({
            "StringEquals": {
                "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                "token.actions.githubusercontent.com:sub": "repo:acme/app:ref:refs/heads/main",
            },
            "StringLike": { "token.actions.githubusercontent.com:sub": "repo:*" },
        }));
        assert_eq!(classes(&policy), []);
        // One list: the widest value decides.
        let policy = github_sub(
            "ForAnyValue:StringLike",
            json!(["repo:acme/app:*", "repo:acme/*"]),
        );
        let finding = only_finding(policy);
        assert_eq!(
            (finding.class, finding.value.as_deref()),
            (WholeOwner, Some("repo:acme/*"))
        );
    }

    #[test]
    fn keys_are_case_insensitive_operator_names_are_not() {
        let policy = github(json!({
            "StringEquals": {
                "Token.Actions.GitHubUserContent.com:AUD": "sts.amazonaws.com",
                "TOKEN.ACTIONS.GITHUBUSERCONTENT.COM:Sub": "repo:acme/app:ref:refs/heads/main",
            }
        }));
        assert_eq!(classes(&policy), []);
        // IAM refuses "stringequals" when the role is written; read here, it
        // narrows nothing.
        let policy = github(json!({
            "StringEquals": { "token.actions.githubusercontent.com:aud": "sts.amazonaws.com" },
            "stringequals": { "token.actions.githubusercontent.com:sub": "repo:acme/app:*" },
        }));
        assert_eq!(classes(&policy), [OtherOwners]);
    }

    #[test]
    fn if_exists_and_for_all_values_narrow_only_keys_the_token_carries() {
        // `sub` is in every token: these narrow it as the plain operator would.
        for operator in [
            "StringLikeIfExists",
            "ForAllValues:StringLike",
            "ForAnyValue:StringLike",
        ] {
            assert_eq!(
                classes(&github_sub(operator, json!("repo:acme/app:*"))),
                [],
                "{operator}"
            );
        }
        // A typo'd key is absent: false under StringLike (nothing admitted),
        // true under IfExists (nothing narrowed).
        let typo = |operator: &str| {
            github(json!({
                "StringEquals": { "token.actions.githubusercontent.com:aud": "sts.amazonaws.com" },
                operator: { "token.actions.githubusercontent.com/sub": "repo:acme/app:*" },
            }))
        };
        assert_eq!(classes(&typo("StringLike")), [AdmitsNothing]);
        assert_eq!(classes(&typo("StringLikeIfExists")), [OtherOwners]);
        let finding = only_finding(typo("StringLike"));
        assert_eq!(
            finding.fix.command.as_deref(),
            Some(
                "vault-ci trust-policy --provider github --repo acme/app --account-id 123456789012"
            )
        );
    }

    #[test]
    fn deny_statements_admit_nothing_but_can_narrow() {
        let allow = json!({
            "Effect": "Allow",
            "Principal": { "Federated": "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com" },
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": { "StringEquals": { "token.actions.githubusercontent.com:aud": "sts.amazonaws.com" } },
        });
        let deny = |condition: Value| {
            json!({
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sts:*",
                "Condition": condition,
            })
        };
        let narrowing = deny(
            json!({ "StringNotLike": { "token.actions.githubusercontent.com:sub": "repo:acme/app:*" } }),
        );
        let policy = json!({ "Statement": [allow.clone(), narrowing] });
        assert_eq!(classes(&policy), []);
        // A Deny that only sometimes applies narrows nothing.
        let partial = deny(json!({
            "StringNotLike": { "token.actions.githubusercontent.com:sub": "repo:acme/app:*" },
            "IpAddress": { "aws:SourceIp": "192.0.2.0/24" },
        }));
        let policy = json!({ "Statement": [allow.clone(), partial] });
        assert_eq!(classes(&policy), [OtherOwners]);
        // A Deny on its own admits nothing, and says nothing.
        let policy = json!({ "Statement": [deny(json!({}))] });
        assert_eq!(classes(&policy), []);
    }

    #[test]
    fn aws_principals_need_a_condition_on_the_callers_account() {
        let star = |condition: Value| {
            json!({ "Statement": [{
                "Effect": "Allow",
                "Principal": { "AWS": "*" },
                "Action": "sts:AssumeRole",
                "Condition": condition,
            }]})
        };
        for pinned in [
            json!({ "StringEquals": { "aws:PrincipalAccount": "123456789012" } }),
            json!({ "StringEquals": { "AWS:principalorgid": "o-a1b2c3d4e5" } }),
            json!({ "ArnLike": { "aws:PrincipalArn": "arn:aws:iam::123456789012:role/*" } }),
            json!({ "ForAnyValue:StringLike": { "aws:PrincipalOrgPaths": "o-a1b2c3d4e5/r-ab12/*" } }),
            json!({ "StringLike": { "aws:userid": "AROAEXAMPLE:*" } }),
        ] {
            assert_eq!(classes(&star(pinned.clone())), [], "{pinned}");
        }
        for open in [
            json!({}),
            json!({ "StringEquals": { "sts:ExternalId": "shared" } }),
            json!({ "StringLike": { "aws:PrincipalAccount": "*" } }),
            json!({ "ArnLike": { "aws:PrincipalArn": "arn:aws:iam::*:role/deploy" } }),
            json!({ "StringEqualsIfExists": { "aws:SourceAccount": "123456789012" } }),
            json!({ "StringNotEquals": { "aws:PrincipalAccount": "111122223333" } }),
        ] {
            assert_eq!(classes(&star(open.clone())), [OtherOwners], "{open}");
        }
        // Actions that do not include sts:AssumeRole are not this check's.
        let policy = json!({ "Statement": [{ "Effect": "Allow", "Principal": "*", "Action": "sts:GetCallerIdentity" }] });
        assert_eq!(classes(&policy), []);
        // A Deny for everyone outside the organization narrows the Allow.
        let policy = json!({ "Statement": [
            { "Effect": "Allow", "Principal": { "AWS": "*" }, "Action": "sts:AssumeRole" },
            { "Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole",
              "Condition": { "StringNotEquals": { "aws:PrincipalOrgID": "o-a1b2c3d4e5" } } },
        ]});
        assert_eq!(classes(&policy), []);
        // The fix names the role's own account when get-role output says it.
        let output = json!({ "Role": { "Arn": "arn:aws:iam::210987654321:role/x", "AssumeRolePolicyDocument": star(json!({})) } });
        assert_eq!(
            only_finding(output).fix.condition,
            json!({ "StringEquals": { "aws:PrincipalAccount": "210987654321" } })
        );
    }

    #[test]
    fn actions_follow_iam_wildcards() {
        for action in [
            json!("sts:AssumeRoleWithWebIdentity"),
            json!("STS:assumerole*"),
            json!("*"),
            json!(["s3:GetObject", "sts:*"]),
        ] {
            let mut policy = github(
                json!({ "StringEquals": { "token.actions.githubusercontent.com:aud": "sts.amazonaws.com" } }),
            );
            policy["Statement"][0]["Action"] = action.clone();
            assert_eq!(classes(&policy), [OtherOwners], "{action}");
        }
        let mut policy = github(json!({}));
        policy["Statement"][0]["Action"] = json!("sts:AssumeRole");
        assert_eq!(classes(&policy), []);
        let mut policy = github(json!({}));
        policy["Statement"][0]
            .as_object_mut()
            .unwrap()
            .remove("Action");
        policy["Statement"][0]["NotAction"] = json!("s3:*");
        assert_eq!(classes(&policy), [OtherOwners, NoAudience]);
    }

    #[test]
    fn other_providers_and_their_issuers() {
        let statement = |issuer: &str, condition: Value| {
            json!({ "Statement": [{
                "Effect": "Allow",
                "Principal": { "Federated": format!("arn:aws:iam::123456789012:oidc-provider/{issuer}") },
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": condition,
            }]})
        };
        // GHE.com: one enterprise's issuer; no sub admits that enterprise.
        let policy = statement("token.actions.octocorp.ghe.com", json!({}));
        let finding = only_finding(policy);
        assert_eq!(finding.class, WholeOwner);
        assert_eq!(
            finding.admits,
            "every present and future repository of the GitHub enterprise octocorp"
        );
        assert_eq!(
            finding.fix.command.as_deref(),
            Some(
                "vault-ci trust-policy --provider github --repo OWNER/REPO --issuer token.actions.octocorp.ghe.com --account-id 123456789012"
            )
        );
        // A token from the enterprise issuer carries the enterprise issuer's keys.
        let policy = statement(
            "token.actions.githubusercontent.com/octocat-inc",
            json!({ "StringLike": { "token.actions.githubusercontent.com:sub": "repo:octocat-inc/app:*" } }),
        );
        assert_eq!(classes(&policy), [AdmitsNothing]);
        // gitlab.com shares its audience with every customer; a self-managed
        // instance (recognised by project_path:) does not.
        let policy = statement(
            "gitlab.com",
            json!({ "StringLike": { "gitlab.com:sub": "project_path:g/p:*" } }),
        );
        let finding = only_finding(policy);
        assert_eq!(finding.class, NoAudience);
        assert_eq!(
            finding.fix.command.as_deref(),
            Some(
                "vault-ci trust-policy --provider gitlab --project-path g/p --account-id 123456789012"
            )
        );
        let policy = statement(
            "gitlab.example.com",
            json!({ "StringLike": { "gitlab.example.com:sub": "project_path:g/sub/*:ref_type:tag:ref:v*" } }),
        );
        let finding = only_finding(policy);
        assert_eq!(
            (finding.class, finding.admits.as_str()),
            (WholeOwner, "every present and future project under g/sub")
        );
        assert_eq!(
            finding.fix.command.as_deref(),
            Some(
                "vault-ci trust-policy --provider gitlab --project-path g/sub/PROJECT --tag 'v*' --issuer gitlab.example.com --account-id 123456789012"
            )
        );
        // Buildkite: a sub pattern, or the session tags its docs use.
        let policy = statement(
            "agent.buildkite.com",
            json!({ "StringEquals": { "agent.buildkite.com:aud": "sts.amazonaws.com" },
                    "StringLike": { "agent.buildkite.com:sub": "organization:acme:*" } }),
        );
        let finding = only_finding(policy);
        assert_eq!(finding.class, WholeOwner);
        assert_eq!(
            finding.fix.command.as_deref(),
            Some(
                "vault-ci trust-policy --provider buildkite --organization acme --pipeline PIPELINE --account-id 123456789012"
            )
        );
        let policy = statement(
            "agent.buildkite.com",
            json!({ "StringEquals": { "agent.buildkite.com:aud": "sts.amazonaws.com",
                                      "aws:RequestTag/organization_slug": "acme" } }),
        );
        let finding = only_finding(policy);
        assert_eq!(
            (finding.class, finding.key.as_str()),
            (WholeOwner, "aws:RequestTag/organization_slug")
        );
        assert_eq!(
            finding.fix.command.as_deref(),
            Some(
                "vault-ci trust-policy --provider buildkite --organization acme --pipeline PIPELINE --account-id 123456789012"
            )
        );
        // CircleCI and Bitbucket: the issuer names the owner already.
        let org = "11111111-2222-3333-4444-555555555555";
        let issuer = format!("oidc.circleci.com/org/{org}");
        let policy = statement(
            &issuer,
            json!({ "StringEquals": { format!("{issuer}:aud"): org } }),
        );
        let finding = only_finding(policy);
        assert_eq!(finding.class, WholeOwner);
        assert_eq!(
            finding.fix.command,
            Some(format!(
                "vault-ci trust-policy --provider circleci --org-id {org} --project-id PROJECT_ID --account-id 123456789012"
            ))
        );
        let policy = statement(
            &issuer,
            json!({ "StringLike": { format!("{issuer}:sub"): "org/99999999-2222-3333-4444-555555555555/*" } }),
        );
        assert_eq!(
            classes(&policy),
            [],
            "another organization's sub matches nothing from this issuer"
        );
        let issuer = "api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc";
        let policy = statement(
            issuer,
            json!({ "StringLike": { format!("{issuer}:sub"): "{9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d}:*" } }),
        );
        assert_eq!(classes(&policy), []);
        // Any other issuer: only a missing or all-wildcard sub is judged.
        let policy = statement(
            "oidc.example.com",
            json!({ "StringLike": { "oidc.example.com:sub": "system:*" } }),
        );
        assert_eq!(classes(&policy), []);
        let finding = only_finding(statement("oidc.example.com", json!({})));
        assert_eq!(
            (finding.class, finding.fix.command.clone()),
            (OtherOwners, None)
        );
        assert_eq!(
            finding.fix.condition,
            json!({ "StringEquals": { "oidc.example.com:aud": "AUDIENCE", "oidc.example.com:sub": "SUBJECT" } })
        );
    }

    #[test]
    fn a_star_principal_is_read_as_the_issuers_its_conditions_name() {
        let star = |condition: Value| {
            json!({ "Statement": [{
                "Effect": "Allow", "Principal": "*", "Action": "sts:*", "Condition": condition,
            }]})
        };
        // GitHub's keys are false for every other issuer's tokens and for AWS
        // callers: this admits one repository and nothing else.
        let policy = star(json!({ "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": "repo:acme/app:ref:refs/heads/main",
        } }));
        assert_eq!(classes(&policy), []);
        // Under IfExists they are true for everyone else.
        let policy = star(json!({ "StringLikeIfExists": {
            "token.actions.githubusercontent.com:sub": "repo:acme/app:*",
        } }));
        assert_eq!(classes(&policy), [OtherOwners, OtherOwners]);
        // Keys are compared, never cut: non-ASCII text is just text (and `é`,
        // a key no request carries, makes the statement admit nothing).
        let policy = star(json!({ "StringEquals": { "tökén.example.com:sub": "x", "é": "y" } }));
        assert_eq!(classes(&policy), [AdmitsNothing]);
    }

    #[test]
    fn inputs_that_are_not_trust_policies_are_errors() {
        assert!(check(&json!({})).is_err());
        assert!(check(&json!({ "Statement": "x" })).is_err());
        assert!(check(&json!({ "Statement": [1] })).is_err());
        assert!(check(&json!({ "Role": { "AssumeRolePolicyDocument": "not json" } })).is_err());
        // A lone statement object is a statement list of one.
        let mut policy = github(json!({}));
        policy["Statement"] = policy["Statement"][0].clone();
        assert_eq!(classes(&policy), [OtherOwners, NoAudience]);
    }

    #[test]
    fn each_finding_is_one_line_and_its_fix_a_condition_block() {
        let policy = github(
            json!({ "StringEquals": { "token.actions.githubusercontent.com:aud": "sts.amazonaws.com" } }),
        );
        let mut policy_with_sid = policy.clone();
        policy_with_sid["Statement"][0]["Sid"] = json!("GitHubDeploy");
        let findings = check(&policy_with_sid).unwrap();
        assert_eq!(
            findings[0].to_string(),
            "high: statement 1 (GitHubDeploy): no condition on token.actions.githubusercontent.com:sub admits any repository on GitHub"
        );
        let fix = findings[0].fix.to_string();
        assert!(fix.starts_with(
            "  fix: the Condition `vault-ci trust-policy --provider github --repo OWNER/REPO --account-id 123456789012` prints:\n    {\n"
        ), "{fix}");
        let block: String = fix
            .lines()
            .skip(1)
            .map(|l| format!("{}\n", &l[4..]))
            .collect();
        assert_eq!(
            serde_json::from_str::<Value>(&block).unwrap(),
            findings[0].fix.condition
        );
        // Two findings with one fix: the fix is printed once, after both.
        let findings = check(&github(json!({}))).unwrap();
        let report = report(&findings);
        assert_eq!(report.matches("fix:").count(), 1, "{report}");
        assert!(report.starts_with(
            "high: statement 1: no condition on token.actions.githubusercontent.com:sub"
        ));
        assert!(report.lines().nth(1).unwrap().starts_with(
            "low: statement 1: no condition on token.actions.githubusercontent.com:aud"
        ));
        assert!(findings.iter().all(|f| !f.to_string().contains('\n')));
    }

    // ── every policy trust-policy prints passes ─────────────────────────────

    fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    fn pick(flag: &'static str) -> impl Fn(String) -> Vec<String> {
        move |value| vec![flag.to_string(), value]
    }

    fn uuid() -> impl Strategy<Value = String> {
        "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    }

    fn branch_or_tag() -> impl Strategy<Value = Vec<String>> {
        prop_oneof![
            Just(Vec::new()),
            "[A-Za-z0-9_][A-Za-z0-9._/-]{0,15}\\*?".prop_map(pick("--branch")),
            "v[0-9][0-9.]{0,5}\\*?".prop_map(pick("--tag")),
        ]
    }

    /// trust-policy's arguments for one CI, and whether they name a whole
    /// owner (`--repo owner/*`, no project/pipeline/repository given).
    fn trust_policy_args() -> impl Strategy<Value = (Vec<String>, bool)> {
        let github = (
            "[A-Za-z0-9]([A-Za-z0-9-]{0,8}[A-Za-z0-9])?",
            proptest::option::of("[A-Za-z0-9_][A-Za-z0-9._-]{0,12}"),
            proptest::option::of(("[1-9][0-9]{0,8}", "[1-9][0-9]{0,8}")),
            prop_oneof![
                Just(Vec::new()),
                "[A-Za-z0-9_][A-Za-z0-9._/-]{0,15}\\*?".prop_map(pick("--branch")),
                "v[0-9][0-9.]{0,5}\\*?".prop_map(pick("--tag")),
                "[A-Za-z0-9_][A-Za-z0-9 _.-]{0,12}".prop_map(pick("--environment")),
                Just(args(&["--pull-request"])),
            ],
            prop_oneof![
                Just(Vec::new()),
                Just(args(&[
                    "--issuer",
                    "https://ghes.example.com/_services/token"
                ])),
                Just(args(&[
                    "--issuer",
                    "token.actions.githubusercontent.com/octocat-inc"
                ])),
                Just(args(&[
                    "--issuer",
                    "https://token.actions.octocorp.ghe.com"
                ])),
            ],
        )
            .prop_map(|(owner, repo, ids, context, issuer)| {
                let mut argv = args(&["--provider", "github", "--repo"]);
                argv.push(format!("{owner}/{}", repo.as_deref().unwrap_or("*")));
                if let (Some((owner_id, repo_id)), Some(_)) = (ids, &repo) {
                    argv.extend(["--owner-id".into(), owner_id, "--repo-id".into(), repo_id]);
                }
                argv.extend(context);
                argv.extend(issuer);
                (argv, repo.is_none())
            });
        let gitlab = (
            "[A-Za-z0-9_][A-Za-z0-9_.-]{0,10}(/[A-Za-z0-9_][A-Za-z0-9_.-]{0,10}){0,2}",
            proptest::option::of("[A-Za-z0-9_][A-Za-z0-9_.-]{0,10}"),
            branch_or_tag(),
            prop_oneof![
                Just(Vec::new()),
                Just(args(&["--issuer", "https://gitlab.example.com"]))
            ],
        )
            .prop_map(|(groups, project, context, issuer)| {
                let mut argv = args(&["--provider", "gitlab", "--project-path"]);
                argv.push(format!("{groups}/{}", project.as_deref().unwrap_or("*")));
                argv.extend(context);
                argv.extend(issuer);
                (argv, project.is_none())
            });
        let circleci = (uuid(), proptest::option::of(uuid()), branch_or_tag()).prop_map(
            |(org, project, context)| {
                let mut argv = args(&["--provider", "circleci", "--org-id"]);
                argv.push(org);
                if let Some(project) = &project {
                    argv.extend(["--project-id".into(), project.clone()]);
                }
                argv.extend(context);
                (argv, project.is_none())
            },
        );
        let buildkite = (
            "[a-z0-9][a-z0-9-]{0,10}",
            proptest::option::of("[a-z0-9][a-z0-9-]{0,10}"),
            branch_or_tag(),
        )
            .prop_map(|(organization, pipeline, context)| {
                let mut argv = args(&["--provider", "buildkite", "--organization"]);
                argv.push(organization);
                if let Some(pipeline) = &pipeline {
                    argv.extend(["--pipeline".into(), pipeline.clone()]);
                }
                argv.extend(context);
                (argv, pipeline.is_none())
            });
        let bitbucket = (
            "[a-z0-9][a-z0-9_-]{0,10}",
            uuid(),
            proptest::option::of(uuid()),
            proptest::option::of(uuid()),
        )
            .prop_map(|(workspace, workspace_uuid, repo, environment)| {
                let mut argv = args(&["--provider", "bitbucket", "--workspace"]);
                argv.extend([
                    workspace,
                    "--workspace-uuid".into(),
                    format!("{{{workspace_uuid}}}"),
                ]);
                if let Some(repo) = &repo {
                    argv.extend(["--repo-uuid".into(), repo.clone()]);
                }
                if let Some(environment) = environment {
                    argv.extend(["--environment".into(), environment]);
                }
                (argv, repo.is_none())
            });
        prop_oneof![github, gitlab, circleci, buildkite, bitbucket]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn every_policy_trust_policy_prints_passes((argv, whole_owner) in trust_policy_args()) {
            let subject = trust_policy_subject(&argv).unwrap();
            // The arguments a fix names are what trust-policy's own command line takes.
            let via_cli = {
                use clap::{Args, FromArgMatches};
                let command = crate::cli::TrustPolicyArgs::augment_args(
                    clap::Command::new("trust-policy").no_binary_name(true),
                )
                .mut_args(|arg| arg.env(None::<&'static str>));
                let matches = command.try_get_matches_from(&argv).unwrap();
                let parsed = crate::cli::TrustPolicyArgs::from_arg_matches(&matches).unwrap();
                crate::cmd::trust_policy::subject(&parsed).unwrap()
            };
            prop_assert_eq!(&subject, &via_cli);
            let document = subject.document("aws", "123456789012");
            let findings = check(&document).unwrap();
            let expected: Vec<Class> = if whole_owner { vec![WholeOwner] } else { Vec::new() };
            prop_assert_eq!(
                findings.iter().map(|f| f.class).collect::<Vec<_>>(),
                expected,
                "{:?}\n{:#}\n{:#?}", argv, document, findings
            );
            // And the fix of the whole-owner finding names one repository.
            for finding in &findings {
                let repaired = fixed(&document, finding);
                prop_assert_eq!(classes(&repaired), Vec::<Class>::new());
            }
        }
    }
}
