//! `trust-policy --check`'s pure part: read a role's trust policy (through the
//! policy model every reading shares, [`super::policy`]) and name each way it
//! admits more than the one repository (project, pipeline) a CI role is meant
//! for, each with the condition block `vault-ci trust-policy` prints for the
//! repository the policy seems meant for.
//!
//! What a `sub` value reaches, and which repository it was meant for, is each
//! CI's own knowledge (`identity/<ci>.rs`); here is what is about policies:
//! - the conditions of a statement are ANDed, the values of one condition ORed,
//!   so the narrowest `sub` condition is the one that decides;
//! - a condition that is false for a request without its key, on a key STS sets
//!   for no token of the issuer (a typo'd `…/sub`, another provider's key), makes
//!   the statement admit *no* token, and is reported as such, not as "no `sub`
//!   condition". Under `ForAllValues:` or `…IfExists` the same condition is true,
//!   so there it narrows nothing and the missing `sub` is reported;
//! - an issuer no CI claims is "not judged" wherever its `sub` grammar would
//!   decide: a pattern's reach cannot be read without it.
//!
//! Deny statements admit nothing and are not reported; a Deny narrows an Allow
//! only in the shapes this check can judge exactly (its conditions all negated
//! tests of the same `sub` key, or of the caller's account or organization).

use std::fmt;

use serde_json::{Value, json};

use super::Subject;
use super::policy::{Condition, Document, Effect, Family, OidcProvider, Statement};
use super::policy::{Operator, absent_for, audience_claim};
use crate::identity::{self, Evidence, Issuer, Pattern, Reach, Scope};

const WEB_IDENTITY: &str = "sts:AssumeRoleWithWebIdentity";
const ASSUME_ROLE: &str = "sts:AssumeRole";

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
    /// Not what IAM reads as its author meant: a key written twice (IAM keeps
    /// the last), an operator IAM does not have, a condition on another
    /// issuer's key that never applies.
    Malformed,
    /// The issuer is no CI vault-ci knows, a principal or value is a template's
    /// unresolved intrinsic or parameter, or the file does not say yet (a plan's
    /// "known after apply"): not found tight, not found open.
    NotJudged,
    /// Tight, but short of today's practice: a repository pinned by name
    /// rather than ID, any ref of it where a production role names one.
    Advice,
}

impl Class {
    pub fn severity(self) -> &'static str {
        match self {
            Class::OtherOwners => "high",
            Class::WholeOwner => "medium",
            Class::NoAudience => "low",
            Class::AdmitsNothing | Class::Malformed => "broken",
            Class::NotJudged => "not judged",
            Class::Advice => "note",
        }
    }

    /// The rule's ID in SARIF and JSON output.
    pub fn rule(self) -> &'static str {
        match self {
            Class::OtherOwners => "other-owners",
            Class::WholeOwner => "whole-owner",
            Class::NoAudience => "no-audience",
            Class::AdmitsNothing => "admits-nothing",
            Class::Malformed => "malformed",
            Class::NotJudged => "not-judged",
            Class::Advice => "best-practice",
        }
    }

    pub const ALL: &[Class] = &[
        Class::OtherOwners,
        Class::WholeOwner,
        Class::NoAudience,
        Class::AdmitsNothing,
        Class::Malformed,
        Class::NotJudged,
        Class::Advice,
    ];

    /// Whether `trust-policy --check` should fail on it: every class is a
    /// policy that does not say what its author meant, or one nobody checked,
    /// but advice (unless `--strict`).
    pub fn fails(self) -> bool {
        self != Class::Advice
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
    /// Where in the document: a JSON pointer to the condition, principal or
    /// statement concerned.
    pub at: String,
    /// The condition key concerned (as the policy spells it), or `Principal`.
    pub key: String,
    /// The offending value; `None` when the key has no condition at all.
    pub value: Option<String>,
    /// What it admits, one line: "any repository on GitHub" (for a statement not
    /// judged: why).
    pub admits: String,
    pub class: Class,
    pub fix: Fix,
}

/// The condition block that admits what the statement seems meant for.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Fix {
    /// `vault-ci trust-policy`'s arguments that print it, when the issuer is a
    /// CI vault-ci knows. Placeholders (OWNER, REPO, PROJECT_ID …) stand for
    /// what the policy does not say.
    pub args: Option<Vec<String>>,
    /// The statement's new `Condition`; none for a statement not judged.
    pub condition: Option<Value>,
}

impl Fix {
    /// `vault-ci trust-policy ARGS`, quoted for a shell.
    pub fn command(&self) -> Option<String> {
        let args = self.args.as_ref()?;
        Some(
            std::iter::once("vault-ci trust-policy".to_string())
                .chain(args.iter().map(|arg| shell_word(arg)))
                .collect::<Vec<_>>()
                .join(" "),
        )
    }
}

impl fmt::Display for Finding {
    /// One line: `high: statement 1: no condition on …:sub admits any repository on GitHub`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.class)?;
        // What is about a whole document is said of it, with no statement.
        if self.statement.is_empty() {
            return f.write_str(&self.admits);
        }
        write!(f, "{}: ", self.statement)?;
        match (&self.value, self.class) {
            (Some(value), Class::NotJudged) if self.key == "Principal" => {
                return write!(f, "the principal {value}: {}", self.admits);
            }
            (_, Class::NotJudged) => {
                return write!(f, "the condition on {}: {}", self.key, self.admits);
            }
            (_, Class::Malformed) => return write!(f, "{} {}", self.key, self.admits),
            (Some(value), Class::Advice) => {
                return write!(f, "{} \"{value}\": {}", self.key, self.admits);
            }
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
        let Some(condition) = &self.condition else {
            return Ok(());
        };
        match self.command() {
            Some(command) => writeln!(f, "  fix: the Condition `{command}` prints:")?,
            None => writeln!(f, "  fix: a Condition such as:")?,
        }
        for line in super::render(condition).lines() {
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
    let document = Document::parse(policy)?;
    let denies: Vec<&Statement> = document
        .statements
        .iter()
        .filter(|statement| statement.effect == Some(Effect::Deny))
        .collect();
    let role = document.role.as_deref().and_then(arn_account);

    let mut findings = Vec::new();
    for statement in &document.statements {
        if statement.effect != Some(Effect::Allow) {
            continue;
        }
        let label = statement.label.as_str();
        let principal = &statement.principal;
        // `NotPrincipal` admits everyone but the ones it names.
        let anyone = principal.anyone || principal.not;
        let conditions = &statement.conditions;
        let first = findings.len();

        if statement.covers(WEB_IDENTITY) {
            // The providers it names; under `NotPrincipal`, those it leaves out.
            let mut providers: Vec<OidcProvider> = match principal.not {
                true => Vec::new(),
                false => principal.oidc_providers().collect(),
            };
            // What it names but cannot be read is as good as `*` here: only the
            // issuers its conditions name are certain to be narrowed.
            let unknown = !principal.not && !principal.unknown.is_empty();
            if anyone || unknown {
                // `"Principal": "*"` admits every issuer; a condition naming one
                // issuer's keys is false for every other issuer's tokens.
                let named: Vec<String> = issuers_named(conditions)
                    .into_iter()
                    .filter(|issuer| {
                        conditions.iter().any(|c| {
                            c.when_absent() == Some(false)
                                && c.key
                                    .rsplit_once(':')
                                    .is_some_and(|(prefix, _)| prefix.eq_ignore_ascii_case(issuer))
                        })
                    })
                    .filter(|issuer| !(principal.not && principal.names_issuer(issuer)))
                    .filter(|issuer| {
                        !providers
                            .iter()
                            .any(|p| p.issuer.eq_ignore_ascii_case(issuer))
                    })
                    .collect();
                if named.is_empty() && providers.is_empty() {
                    findings.push(match anyone {
                        true => any_web_identity(label),
                        false => unreadable_principal(label, &principal.unknown),
                    });
                }
                let (partition, account) =
                    role.clone().unwrap_or(("aws".into(), "ACCOUNT_ID".into()));
                providers.extend(named.into_iter().map(|issuer| OidcProvider {
                    partition: partition.clone(),
                    account: account.clone(),
                    issuer,
                }));
            }
            // One issuer named twice (a template's `Fn::If` of two ARNs for it) is one.
            let mut seen: Vec<String> = Vec::new();
            providers.retain(|p| {
                let new = !seen.iter().any(|s| s.eq_ignore_ascii_case(&p.issuer));
                seen.push(p.issuer.clone());
                new
            });
            for provider in &providers {
                findings.extend(check_provider(label, provider, conditions, &denies)?);
            }
        }
        for finding in &mut findings[first..] {
            finding.at = locate(statement, finding);
        }
        if (anyone || principal.aws.iter().any(|p| p == "*"))
            && statement.covers(ASSUME_ROLE)
            && !conditions.iter().any(pins_caller)
            // A positive test of an OIDC issuer's key is false for AWS callers.
            && !conditions
                .iter()
                .any(|c| c.when_absent() == Some(false) && absent_for(&c.key, ""))
            && !denies.iter().any(|deny| deny_pins_caller(deny))
        {
            let account = role.as_ref().map(|(_, account)| account.as_str());
            findings.push(any_aws_account(label, account));
        }
    }
    Ok(findings)
}

/// The JSON pointer of what a finding is about: the condition on its key (with
/// its value, when it has one), else its principal, else the statement.
fn locate(statement: &Statement, finding: &Finding) -> String {
    let tested = |c: &&Condition| {
        c.key_is(&finding.key)
            && finding
                .value
                .as_ref()
                .is_none_or(|value| c.values.contains(value))
    };
    if let Some(condition) = statement.conditions.iter().find(tested) {
        return condition.at.clone();
    }
    match finding.key.as_str() {
        "Principal" if statement.principal.not => format!("{}/NotPrincipal", statement.at),
        "Principal" => format!("{}/Principal", statement.at),
        _ => statement.at.clone(),
    }
}

/// `(partition, account)` of an ARN.
fn arn_account(arn: &str) -> Option<(String, String)> {
    crate::arn::Parts::of(arn).map(|parts| (parts.partition.to_string(), parts.account.to_string()))
}

/// A string test that narrows its key to its values (`Some(like)`).
fn narrows(operator: &Operator) -> Option<bool> {
    operator.string().filter(|_| !operator.negated)
}

/// A test that names its values as what the key must (or, negated, must not) be.
fn names_values(operator: &Operator) -> bool {
    matches!(operator.family, Family::String { .. } | Family::Arn)
}

/// The issuers whose `sub` or `aud` the conditions test.
fn issuers_named(conditions: &[Condition]) -> Vec<String> {
    let mut issuers: Vec<String> = Vec::new();
    for condition in conditions {
        if let Some((issuer, claim)) = condition.key.rsplit_once(':')
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

// ── OIDC providers ──────────────────────────────────────────────────────────

/// The ANDed tests that narrow a provider's tokens: each with its ORed values
/// and how far each reaches (`None`: not judged, the issuer's grammar unknown).
struct Narrowing {
    key: String,
    values: Vec<(String, Option<Reach>)>,
    /// Whether the values are `sub` values (the fix starts from them).
    sub: bool,
}

impl Narrowing {
    fn rank(&self) -> u8 {
        let rank = |reach: &Option<Reach>| match reach {
            Some(Reach::One) => 0,
            Some(Reach::Owner(_)) | None => 1,
            Some(Reach::Others(_)) => 2,
        };
        self.values
            .iter()
            .map(|(_, reach)| rank(reach))
            .max()
            .unwrap_or(0)
    }
}

fn check_provider(
    label: &str,
    provider: &OidcProvider,
    conditions: &[Condition],
    denies: &[&Statement],
) -> Result<Vec<Finding>, String> {
    let issuer = provider.issuer.as_str();
    let sub_key = format!("{issuer}:sub");
    let aud_key = format!("{issuer}:{}", audience_claim(issuer));

    // Values that were meant for `sub` but sit under another key (a typo):
    // they still tell the fix which repository the statement is for.
    let stray_subs: Vec<&str> = conditions
        .iter()
        .filter(|c| !c.key_is(&sub_key) && c.key.to_ascii_lowercase().ends_with("sub"))
        .flat_map(|c| c.values.iter().map(String::as_str))
        .collect();

    // The tests that narrow `sub` to their values: the Allow's positive string
    // tests, and a Deny's negated one.
    let mut sub_tests: Vec<&Condition> = conditions
        .iter()
        .filter(|c| c.key_is(&sub_key) && !c.values.is_empty() && narrows(&c.operator).is_some())
        .collect();
    sub_tests.extend(
        denies
            .iter()
            .filter_map(|deny| deny_narrows_sub(deny, issuer, &sub_key)),
    );

    let mut all_subs: Vec<&str> = sub_tests
        .iter()
        .flat_map(|test| test.values.iter().map(String::as_str))
        .collect();
    all_subs.extend(&stray_subs);
    let known = identity::issuer(issuer, &all_subs);
    let fix = |sub: Option<&str>| fix(known.as_ref(), provider, conditions, sub);

    if let Some(condition) = conditions
        .iter()
        .find(|c| c.when_absent() == Some(false) && absent_for(&c.key, issuer))
    {
        return Ok(vec![Finding {
            statement: label.to_string(),
            at: String::new(),
            key: condition.key.clone(),
            value: None,
            admits: format!(
                "no token from {issuer}: STS sets no such key for them (a typo, or another provider's key?)"
            ),
            class: Class::AdmitsNothing,
            fix: fix(stray_subs.first().copied())?,
        }]);
    }

    if let Some(findings) = super::builtin::check(label, issuer, conditions) {
        return Ok(findings);
    }

    let everything = match &known {
        Some(known) => known.everything.clone(),
        None => format!("any identity {issuer} issues tokens for"),
    };
    let reach = |value: &str, test: &Condition| {
        // Under `IgnoreCase`, `REPOSITORY_OWNER:acme` is GitHub's `repository_owner:acme`.
        let value = match test.operator.ignore_case {
            true => value.to_lowercase(),
            false => value.to_string(),
        };
        let pattern = Pattern::of(&value, test.operator.string() == Some(true));
        match &known {
            Some(known) => Some(match known.ci.system().reach(known, pattern) {
                // An issuer of one owner reaches no further than that owner.
                Reach::Others(_) if known.owner.is_some() => Reach::Owner(everything.clone()),
                reach => reach,
            }),
            // Without a grammar, only a pattern that is all wildcard is judged.
            None if pattern.prefix.is_empty() && !pattern.literal => {
                Some(Reach::Others(everything.clone()))
            }
            None => None,
        }
    };
    let mut narrowings: Vec<Narrowing> = sub_tests
        .into_iter()
        .map(|test| Narrowing {
            key: test.key.clone(),
            values: test
                .values
                .iter()
                .map(|value| (value.clone(), reach(value, test)))
                .collect(),
            sub: true,
        })
        .collect();
    if let Some(known) = &known {
        let evidence = evidence(conditions, &aud_key, None);
        narrowings.extend(
            known
                .ci
                .system()
                .narrowing(&evidence)
                .map(|(key, value, reach)| Narrowing {
                    key,
                    values: vec![(value, Some(reach))],
                    sub: false,
                }),
        );
    }

    let mut findings = Vec::new();
    let narrowest = narrowings.iter().min_by_key(|n| n.rank());
    let representative = narrowest
        .filter(|n| n.sub)
        .and_then(|n| n.values.first().map(|(value, _)| value.as_str()))
        .or(stray_subs.first().copied());
    match narrowest {
        None => {
            let class = match &known {
                Some(Issuer { owner: Some(_), .. }) => Class::WholeOwner,
                _ => Class::OtherOwners,
            };
            findings.push(Finding {
                statement: label.to_string(),
                at: String::new(),
                key: sub_key.clone(),
                value: None,
                admits: everything,
                class,
                fix: fix(representative)?,
            });
        }
        Some(narrowing) => {
            for (value, reach) in &narrowing.values {
                let (class, admits) = match reach {
                    Some(Reach::One) => continue,
                    Some(Reach::Owner(admits)) => (Class::WholeOwner, admits.clone()),
                    Some(Reach::Others(admits)) => (Class::OtherOwners, admits.clone()),
                    None => (
                        Class::NotJudged,
                        format!("vault-ci does not know the `sub` grammar of {issuer}"),
                    ),
                };
                let judged = class != Class::NotJudged;
                // What is not judged is said once, with no fix to offer.
                if !judged && findings.iter().any(|f: &Finding| f.class == class) {
                    continue;
                }
                let from = if narrowing.sub {
                    Some(value.as_str())
                } else {
                    representative
                };
                findings.push(Finding {
                    statement: label.to_string(),
                    at: String::new(),
                    key: narrowing.key.clone(),
                    value: judged.then(|| value.clone()),
                    admits,
                    class,
                    fix: if judged { fix(from)? } else { Fix::default() },
                });
            }
        }
    }

    let audience_tested = conditions.iter().any(|c| {
        c.key_is(&aud_key)
            && narrows(&c.operator).is_some()
            && c.values.iter().any(|v| !v.chars().all(|c| c == '*'))
    });
    if known.as_ref().is_some_and(|k| k.shared_audience) && !audience_tested {
        findings.push(Finding {
            statement: label.to_string(),
            at: String::new(),
            key: aud_key.clone(),
            value: None,
            admits: format!(
                "tokens {issuer} issued for any audience the IAM OIDC provider lists, not only for STS"
            ),
            class: Class::NoAudience,
            fix: fix(representative)?,
        });
    }
    // Tight: what today's practice would pin besides.
    if let (Some(known), true, Some(sub)) = (&known, findings.is_empty(), representative) {
        let evidence = evidence(conditions, &aud_key, Some(sub));
        for (note, scope) in known.ci.system().advice(known, &evidence) {
            findings.push(Finding {
                statement: label.to_string(),
                at: String::new(),
                key: sub_key.clone(),
                value: Some(sub.to_string()),
                admits: note,
                class: Class::Advice,
                fix: fix_for(Some(known), provider, conditions, Some(sub), Some(scope))?,
            });
        }
    }
    Ok(findings)
}

/// A Deny that refuses every `sub` but the listed ones narrows the Allow to
/// them: its only condition a negated string test of this issuer's `sub`.
fn deny_narrows_sub<'a>(deny: &'a Statement, issuer: &str, sub_key: &str) -> Option<&'a Condition> {
    let principal = &deny.principal;
    // `NotPrincipal` denies everyone but the ones it names: not this issuer's
    // tokens if it names this issuer. What it names but cannot be read may be it.
    let applies = match principal.not {
        true => !principal.names_issuer(issuer) && principal.unknown.is_empty(),
        false => principal.anyone || principal.names_issuer(issuer),
    };
    if !applies || !deny.covers(WEB_IDENTITY) {
        return None;
    }
    match deny.conditions.as_slice() {
        [test]
            if test.key_is(sub_key)
                && test.operator.qualifier.is_none()
                && test.operator.negated
                && test.operator.string().is_some()
                && !test.values.is_empty() =>
        {
            Some(test)
        }
        _ => None,
    }
}

/// What the statement says about the jobs it was written for.
fn evidence<'a>(conditions: &'a [Condition], aud_key: &str, sub: Option<&'a str>) -> Evidence<'a> {
    let literals: Vec<(&str, &str)> = conditions
        .iter()
        .filter_map(|c| Some((c.key.as_str(), c.literal()?)))
        .collect();
    let mut evidence = Evidence {
        sub,
        audience: None,
        literals,
    };
    evidence.audience = evidence.literal(aud_key).map(|(_, value)| value);
    evidence
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

fn caller_key(condition: &Condition) -> Option<&'static str> {
    CALLER_KEYS
        .iter()
        .copied()
        .find(|key| condition.key_is(key))
}

/// Whether a value of a caller key names accounts (or an organization) rather
/// than a pattern every account matches. `sts:ExternalId` is not in the list:
/// it is not a secret, and it says which caller, not which account.
fn value_pins(key: &str, value: &str) -> bool {
    let Pattern { prefix, literal } = Pattern::of(value, true);
    match key {
        "aws:PrincipalArn" | "aws:SourceArn" => prefix.matches(':').count() >= 5,
        "aws:PrincipalOrgPaths" | "aws:SourceOrgPaths" => prefix.contains('/'),
        "aws:userid" => prefix.contains(':') || (literal && !prefix.is_empty()),
        _ => literal && !prefix.is_empty(),
    }
}

fn pins_caller(condition: &Condition) -> bool {
    let Some(key) = caller_key(condition) else {
        return false;
    };
    let operator = &condition.operator;
    let optional = condition.when_absent() != Some(false);
    !operator.negated
        && names_values(operator)
        && (!optional || ALWAYS_PRESENT.contains(&key))
        && !condition.values.is_empty()
        && condition.values.iter().all(|value| value_pins(key, value))
}

/// A Deny for everyone outside the named accounts or organization.
fn deny_pins_caller(deny: &Statement) -> bool {
    let principal = &deny.principal;
    (principal.anyone || principal.not || principal.aws.iter().any(|p| p == "*"))
        && deny.covers(ASSUME_ROLE)
        && !deny.conditions.is_empty()
        && deny.conditions.iter().all(|condition| {
            caller_key(condition).is_some_and(|key| {
                condition.operator.negated
                    && names_values(&condition.operator)
                    && condition.operator.qualifier.is_none()
                    && !condition.values.is_empty()
                    && condition.values.iter().all(|value| value_pins(key, value))
            })
        })
}

fn any_aws_account(label: &str, account: Option<&str>) -> Finding {
    Finding {
        statement: label.to_string(),
        at: String::new(),
        key: "Principal".into(),
        value: Some("*".into()),
        admits: "any AWS account's users and roles: sts:AssumeRole with no condition on the caller's account or organization".into(),
        class: Class::OtherOwners,
        fix: Fix {
            args: None,
            condition: Some(json!({
                "StringEquals": { "aws:PrincipalAccount": account.unwrap_or("ACCOUNT_ID") }
            })),
        },
    }
}

fn unreadable_principal(label: &str, unknown: &[String]) -> Finding {
    Finding {
        statement: label.to_string(),
        at: String::new(),
        key: "Principal".into(),
        value: Some(unknown.join(", ")),
        admits: "is no IAM OIDC provider's ARN nor a built-in provider's name (an unresolved \
                 template intrinsic or parameter?), and no condition names an issuer: which \
                 tokens it admits is not known here"
            .into(),
        class: Class::NotJudged,
        fix: Fix::default(),
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
        at: String::new(),
        key: "Principal".into(),
        value: Some("*".into()),
        admits: "any web identity token: every OIDC provider of the account, and Google, Amazon, Facebook and Cognito identities".into(),
        class: Class::OtherOwners,
        fix: Fix {
            args: None,
            condition: Some(subject.statement("aws", "ACCOUNT_ID")["Condition"].clone()),
        },
    }
}

// ── fixes ───────────────────────────────────────────────────────────────────

/// The fix for a statement trusting `provider`, built from the `sub` value it
/// seems meant for: the scope the issuer's CI reads from it (placeholders for
/// what it does not say), printed as `vault-ci trust-policy`'s arguments, and
/// the Condition the CI's own `sub` grammar writes for that scope — the one
/// trust-policy prints, so the two agree.
fn fix(
    known: Option<&Issuer>,
    provider: &OidcProvider,
    conditions: &[Condition],
    sub: Option<&str>,
) -> Result<Fix, String> {
    fix_for(known, provider, conditions, sub, None)
}

/// The fix for the scope `scope` (else the one the statement seems meant for).
fn fix_for(
    known: Option<&Issuer>,
    provider: &OidcProvider,
    conditions: &[Condition],
    sub: Option<&str>,
    scope: Option<Scope>,
) -> Result<Fix, String> {
    let issuer = provider.issuer.as_str();
    let evidence = evidence(
        conditions,
        &format!("{issuer}:{}", audience_claim(issuer)),
        sub,
    );
    let Some(known) = known else {
        let subject = Subject {
            issuer: issuer.to_string(),
            audience: evidence.audience.unwrap_or("AUDIENCE").to_string(),
            subject: "SUBJECT".into(),
        };
        return Ok(Fix {
            args: None,
            condition: Some(condition(&subject, provider)),
        });
    };
    let system = known.ci.system();
    let internal = |e: crate::error::Error| {
        format!("internal error: the fix for a statement trusting {issuer} does not work ({e})")
    };
    let mut scope = scope.unwrap_or_else(|| system.meant(known, &evidence));
    // The issuer and audience are named only where they are not the CI's own.
    let defaults = system.trust_subject(&scope).map_err(internal)?;
    if !defaults.issuer.eq_ignore_ascii_case(issuer) {
        scope.issuer = Some(issuer.to_string());
    }
    scope.audience = evidence
        .audience
        .filter(|audience| *audience != defaults.audience)
        .map(str::to_string);
    let subject = system.trust_subject(&scope).map_err(internal)?;

    let mut args = vec!["--provider".to_string(), system.name().to_string()];
    args.extend(scope.to_args());
    if crate::arn::AccountId::is_valid(&provider.account) {
        args.extend(["--account-id".to_string(), provider.account.clone()]);
    }
    if provider.partition != "aws" {
        args.extend(["--partition".to_string(), provider.partition.clone()]);
    }
    Ok(Fix {
        args: Some(args),
        condition: Some(condition(&subject, provider)),
    })
}

fn condition(subject: &Subject, provider: &OidcProvider) -> Value {
    subject.statement(&provider.partition, &provider.account)["Condition"].clone()
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
mod tests;
