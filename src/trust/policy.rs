//! One reading of IAM policy documents, for `trust-policy --check` and for the
//! evaluator that explains a denial alike: statements, principals, actions, and
//! every condition operator IAM has, judged as IAM's documentation has it
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html>):
//! - condition keys are case-insensitive, operator names are not (IAM refuses
//!   `stringEquals` when the role is written);
//! - a statement's conditions are ANDed, one condition's values ORed (NORed
//!   under a negated operator);
//! - a key the request lacks makes a positive test false and a negated one true;
//!   `…IfExists` makes it true, `ForAllValues:` true, `ForAnyValue:` false, and
//!   `Null` asks exactly that.
//!
//! What cannot be judged — an operator IAM does not have, a value that is no
//! number or date — is said to be so (`None`), never skipped.

use std::cmp::Ordering;
use std::net::IpAddr;

use serde_json::{Map, Value};

/// A trust policy, read once.
#[derive(Debug, Clone)]
pub struct Document {
    pub statements: Vec<Statement>,
    /// The role's ARN, when the input was `aws iam get-role` output.
    pub role: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Statement {
    /// `statement N`, with the Sid in parentheses when there is one.
    pub label: String,
    /// Where it is in the document: a JSON pointer (`/Statement/0`).
    pub at: String,
    /// `None` for anything but `Allow` and `Deny`, which IAM refuses.
    pub effect: Option<Effect>,
    pub principal: Principal,
    actions: Actions,
    pub conditions: Vec<Condition>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

#[derive(Debug, Clone)]
enum Actions {
    Listed(Vec<String>),
    AllBut(Vec<String>),
}

/// `Principal`, or `NotPrincipal`: everyone but the ones it names.
#[derive(Debug, Clone, Default)]
pub struct Principal {
    pub not: bool,
    /// `"*"`.
    pub anyone: bool,
    pub aws: Vec<String>,
    /// IAM OIDC (and SAML) provider ARNs, or a web identity provider's name.
    pub federated: Vec<String>,
    pub service: Vec<String>,
    /// What it names that is no provider vault-ci can read: `*`, a pattern, an
    /// unresolved template intrinsic (`{"Fn::Sub": …}`), a placeholder left by
    /// one. Which issuers it admits is not known.
    pub unknown: Vec<String>,
}

/// One key's test in a `Condition` block.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub operator: Operator,
    /// As the policy spells it.
    pub key: String,
    pub values: Vec<String>,
    /// Where it is in the document (`/Statement/0/Condition/StringLike/KEY`).
    pub at: String,
}

/// A condition operator, taken apart: `ForAnyValue:StringNotEqualsIgnoreCaseIfExists`
/// is a qualifier, a family, a negation, a case rule and an existence rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Operator {
    /// As the policy spells it, for messages.
    pub name: String,
    pub qualifier: Option<Qualifier>,
    pub family: Family,
    pub negated: bool,
    pub ignore_case: bool,
    pub if_exists: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qualifier {
    ForAnyValue,
    ForAllValues,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    String {
        like: bool,
    },
    Numeric(Order),
    Date(Order),
    Bool,
    Binary,
    IpAddress,
    /// `ArnEquals` and `ArnLike` are one test: both take wildcards per component.
    Arn,
    Null,
    /// Not an operator IAM has.
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Equal,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

impl Document {
    /// A policy document, `aws iam get-role` output, or its `Role` object
    /// (with the document URL-encoded, as the IAM API returns it, or not).
    pub fn parse(input: &Value) -> Result<Document, String> {
        let role = input.get("Role").unwrap_or(input);
        let arn = role.get("Arn").and_then(Value::as_str).map(str::to_string);
        let document = match role.get("AssumeRolePolicyDocument").unwrap_or(input) {
            Value::String(text) => serde_json::from_str(text)
                .or_else(|_| serde_json::from_str(&percent_decode(text)))
                .map_err(|e| format!("AssumeRolePolicyDocument is not JSON ({e})"))?,
            other => other.clone(),
        };
        let (statements, listed) = match document.get("Statement") {
            Some(Value::Array(all)) => (all.iter().collect(), true),
            Some(one @ Value::Object(_)) => (vec![one], false),
            _ => return Err("the trust policy has no \"Statement\"".into()),
        };
        let statements = statements
            .into_iter()
            .enumerate()
            .map(|(index, statement)| {
                let at = match listed {
                    true => format!("/Statement/{index}"),
                    false => "/Statement".to_string(),
                };
                statement
                    .as_object()
                    .map(|statement| Statement::parse(index, at, statement))
                    .ok_or_else(|| format!("statement {} is not a JSON object", index + 1))
            })
            .collect::<Result<_, _>>()?;
        Ok(Document {
            statements,
            role: arn,
        })
    }
}

impl Statement {
    fn parse(index: usize, at: String, statement: &Map<String, Value>) -> Statement {
        let label = match statement.get("Sid").and_then(Value::as_str) {
            Some(sid) if !sid.is_empty() => format!("statement {} ({sid})", index + 1),
            _ => format!("statement {}", index + 1),
        };
        let effect = match statement.get("Effect").and_then(Value::as_str) {
            Some("Allow") => Some(Effect::Allow),
            Some("Deny") => Some(Effect::Deny),
            _ => None,
        };
        let principal = match (statement.get("Principal"), statement.get("NotPrincipal")) {
            (Some(principal), _) => Principal::parse(principal, false),
            (None, Some(not)) => Principal::parse(not, true),
            (None, None) => Principal::default(),
        };
        let actions = match (statement.get("Action"), statement.get("NotAction")) {
            (Some(actions), _) => Actions::Listed(strings(actions)),
            (None, Some(excluded)) => Actions::AllBut(strings(excluded)),
            (None, None) => Actions::Listed(Vec::new()),
        };
        let mut conditions = Vec::new();
        if let Some(Value::Object(operators)) = statement.get("Condition") {
            for (name, block) in operators {
                let Value::Object(block) = block else {
                    continue;
                };
                let operator = Operator::parse(name);
                conditions.extend(block.iter().map(|(key, values)| Condition {
                    operator: operator.clone(),
                    key: key.clone(),
                    values: strings(values),
                    at: super::sources::push(
                        &super::sources::push(&format!("{at}/Condition"), name),
                        key,
                    ),
                }));
            }
        }
        Statement {
            label,
            at,
            effect,
            principal,
            actions,
            conditions,
        }
    }

    /// Whether the statement's Action (or NotAction) includes `action`.
    pub fn covers(&self, action: &str) -> bool {
        let named = |patterns: &[String]| {
            patterns
                .iter()
                .any(|pattern| like_match(&pattern.to_lowercase(), &action.to_lowercase()))
        };
        match &self.actions {
            Actions::Listed(actions) => named(actions),
            Actions::AllBut(excluded) => !named(excluded),
        }
    }
}

impl Principal {
    fn parse(value: &Value, not: bool) -> Principal {
        let mut principal = Principal {
            not,
            ..Principal::default()
        };
        match value {
            Value::String(star) => principal.anyone = star == "*",
            Value::Object(map) => {
                principal.aws = map.get("AWS").map(strings).unwrap_or_default();
                principal.service = map.get("Service").map(strings).unwrap_or_default();
                let federated = match map.get("Federated") {
                    Some(Value::Array(all)) => all.iter().collect(),
                    Some(one) => vec![one],
                    None => Vec::new(),
                };
                for entry in federated {
                    match entry {
                        Value::String(name) if OidcProvider::of(name).is_some() => {
                            principal.federated.push(name.clone())
                        }
                        // A SAML provider admits no web identity token.
                        Value::String(name) if name.contains(":saml-provider/") => {
                            principal.federated.push(name.clone())
                        }
                        Value::String(name) => principal.unknown.push(name.clone()),
                        other => principal.unknown.push(other.to_string()),
                    }
                }
            }
            other => principal.unknown.push(other.to_string()),
        }
        principal
    }

    /// The issuers of the IAM OIDC providers it names (IAM's provider names:
    /// host and path, no scheme), each with the provider's partition and account.
    pub fn oidc_providers(&self) -> impl Iterator<Item = OidcProvider> + '_ {
        self.federated
            .iter()
            .filter_map(|arn| OidcProvider::of(arn))
    }

    /// Whether it names `issuer`'s provider (whatever `not` says of it).
    pub fn names_issuer(&self, issuer: &str) -> bool {
        self.oidc_providers()
            .any(|p| p.issuer.eq_ignore_ascii_case(issuer))
    }

    /// Whether web identity tokens from `issuer` are among its principals.
    pub fn admits_issuer(&self, issuer: &str) -> bool {
        let named = self
            .oidc_providers()
            .any(|p| p.issuer.eq_ignore_ascii_case(issuer));
        if self.not {
            !named
        } else {
            self.anyone || named
        }
    }
}

/// An IAM OIDC provider, from its ARN.
#[derive(Debug, Clone, PartialEq)]
pub struct OidcProvider {
    pub partition: String,
    pub account: String,
    pub issuer: String,
}

impl OidcProvider {
    /// An IAM OIDC provider's ARN, or the name of a provider built into IAM
    /// (in no account: `account` is empty).
    fn of(arn: &str) -> Option<OidcProvider> {
        if let Some(name) = BUILT_IN.iter().find(|name| name.eq_ignore_ascii_case(arn)) {
            return Some(OidcProvider {
                partition: "aws".into(),
                account: String::new(),
                issuer: name.to_string(),
            });
        }
        let (partition, account, issuer) = crate::arn::oidc_provider(arn)?;
        Some(OidcProvider {
            partition: partition.to_string(),
            account: account.to_string(),
            issuer: issuer.to_string(),
        })
    }
}

/// The web identity providers built into IAM: a trust policy names them as
/// `"Federated": "accounts.google.com"`, with no IAM OIDC provider to create.
pub const BUILT_IN: &[&str] = &[
    "accounts.google.com",
    "graph.facebook.com",
    "www.amazon.com",
    "cognito-identity.amazonaws.com",
];

/// Google's built-in provider, whose keys are not its claims of the same name.
pub const GOOGLE: &str = "accounts.google.com";

/// Whether `issuer` is a provider built into IAM rather than an IAM OIDC provider.
pub fn built_in(issuer: &str) -> bool {
    BUILT_IN
        .iter()
        .any(|name| name.eq_ignore_ascii_case(issuer))
}

/// The claim under which `issuer`'s condition keys test the audience the token
/// was asked for: `oaud` for Google, whose `aud` key is the token's `azp`
/// (AWS's condition keys for web identity federation:
/// <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#condition-keys-wif>).
pub fn audience_claim(issuer: &str) -> &'static str {
    match issuer.eq_ignore_ascii_case(GOOGLE) {
        true => "oaud",
        false => "aud",
    }
}

/// The token claim a condition key `<issuer>:<claim>` reads. For Google's keys
/// IAM reads `aud` from the token's `azp` when it has one, and `oaud` from its
/// `aud` (absent without `azp`); every other key reads the claim of its name.
pub fn claim_read<'a>(issuer: &str, claim: &'a str, has: impl Fn(&str) -> bool) -> Option<&'a str> {
    if !issuer.eq_ignore_ascii_case(GOOGLE) {
        return Some(claim);
    }
    match claim.to_ascii_lowercase().as_str() {
        "aud" if has("azp") => Some("azp"),
        "oaud" if has("azp") => Some("aud"),
        "oaud" => None,
        _ => Some(claim),
    }
}

impl Operator {
    pub fn parse(name: &str) -> Operator {
        let (qualifier, rest) = match name.split_once(':') {
            Some(("ForAnyValue", rest)) => (Some(Qualifier::ForAnyValue), rest),
            Some(("ForAllValues", rest)) => (Some(Qualifier::ForAllValues), rest),
            Some(_) => (None, ""),
            None => (None, name),
        };
        let (base, if_exists) = match rest.strip_suffix("IfExists") {
            Some(base) => (base, true),
            None => (rest, false),
        };
        let string = |like| Family::String { like };
        let (family, negated, ignore_case) = match base {
            "StringEquals" => (string(false), false, false),
            "StringNotEquals" => (string(false), true, false),
            "StringEqualsIgnoreCase" => (string(false), false, true),
            "StringNotEqualsIgnoreCase" => (string(false), true, true),
            "StringLike" => (string(true), false, false),
            "StringNotLike" => (string(true), true, false),
            "Bool" => (Family::Bool, false, false),
            "BinaryEquals" => (Family::Binary, false, false),
            "IpAddress" => (Family::IpAddress, false, false),
            "NotIpAddress" => (Family::IpAddress, true, false),
            "ArnEquals" | "ArnLike" => (Family::Arn, false, false),
            "ArnNotEquals" | "ArnNotLike" => (Family::Arn, true, false),
            // IAM takes no `IfExists` and no qualifier on `Null`.
            "Null" if !if_exists && qualifier.is_none() => (Family::Null, false, false),
            _ => ordered(base).unwrap_or((Family::Unknown, false, false)),
        };
        Operator {
            name: name.to_string(),
            qualifier,
            family,
            negated,
            ignore_case,
            if_exists,
        }
    }

    /// `Some(like)` for the string operators.
    pub fn string(&self) -> Option<bool> {
        match self.family {
            Family::String { like } => Some(like),
            _ => None,
        }
    }
}

/// `Numeric…` and `Date…`: a family and an order.
fn ordered(base: &str) -> Option<(Family, bool, bool)> {
    let (family, rest): (fn(Order) -> Family, &str) =
        if let Some(rest) = base.strip_prefix("Numeric") {
            (Family::Numeric, rest)
        } else {
            (Family::Date, base.strip_prefix("Date")?)
        };
    let (order, negated) = match rest {
        "Equals" => (Order::Equal, false),
        "NotEquals" => (Order::Equal, true),
        "LessThan" => (Order::Less, false),
        "LessThanEquals" => (Order::LessOrEqual, false),
        "GreaterThan" => (Order::Greater, false),
        "GreaterThanEquals" => (Order::GreaterOrEqual, false),
        _ => return None,
    };
    Some((family(order), negated, false))
}

impl Condition {
    pub fn key_is(&self, key: &str) -> bool {
        self.key.eq_ignore_ascii_case(key)
    }

    /// IAM's verdict on this test for a request whose values for the key are
    /// `request` (`None`, or none at all: the request lacks the key); `None` when
    /// it cannot be judged.
    pub fn holds(&self, request: Option<&[String]>) -> Option<bool> {
        let operator = &self.operator;
        let present = request.filter(|values| !values.is_empty());
        match (operator.family, present) {
            (Family::Unknown, _) => None,
            (Family::Null, _) => {
                any(self
                    .values
                    .iter()
                    .map(|wanted| match wanted.to_ascii_lowercase().as_str() {
                        "true" => Some(present.is_none()),
                        "false" => Some(present.is_some()),
                        _ => None,
                    }))
            }
            // The qualifier decides before `IfExists` does: AWS re:Post reports
            // `ForAnyValue:StringEqualsIfExists` false on a missing key
            // (repost.aws/questions/QU9HFmDzP0QGuU-fd7rS6B7w).
            (_, None) => Some(match operator.qualifier {
                Some(Qualifier::ForAllValues) => true,
                Some(Qualifier::ForAnyValue) => false,
                None => operator.if_exists || operator.negated,
            }),
            (family, Some(request)) => {
                // Whether one request value passes: it matches one of the
                // policy's values (or, negated, none of them).
                let passes = |value: &String| {
                    any(self
                        .values
                        .iter()
                        .map(|wanted| family.compare(wanted, value, operator.ignore_case)))
                    .map(|matched| matched != operator.negated)
                };
                let each = request.iter().map(passes);
                match (operator.qualifier, operator.negated) {
                    (Some(Qualifier::ForAllValues), _) | (None, true) => all(each),
                    (Some(Qualifier::ForAnyValue), _) | (None, false) => any(each),
                }
            }
        }
    }

    /// What the test gives a request without its key.
    pub fn when_absent(&self) -> Option<bool> {
        self.holds(None)
    }

    /// Its one value, when it is a literal the key must equal.
    pub fn literal(&self) -> Option<&str> {
        let operator = &self.operator;
        let like = operator.string()?;
        let plain = !operator.negated && operator.qualifier.is_none() && !operator.if_exists;
        match self.values.as_slice() {
            [one] if plain && !(like && one.contains(['*', '?'])) => Some(one),
            _ => None,
        }
    }
}

impl Family {
    /// Whether the request's `value` matches the policy's `wanted`; `None` when
    /// either is not of the family's kind.
    fn compare(self, wanted: &str, value: &str, ignore_case: bool) -> Option<bool> {
        Some(match self {
            Family::String { like: true } => like_match(wanted, value),
            Family::String { like: false } if ignore_case => {
                wanted.to_lowercase() == value.to_lowercase()
            }
            Family::String { like: false } | Family::Binary => wanted == value,
            Family::Numeric(order) => {
                let number = |text: &str| text.trim().parse::<f64>().ok();
                order.holds(number(value)?.partial_cmp(&number(wanted)?)?)
            }
            Family::Date(order) => order.holds(date(value)?.partial_cmp(&date(wanted)?)?),
            Family::Bool => wanted.eq_ignore_ascii_case(value),
            Family::IpAddress => in_cidr(wanted, value)?,
            Family::Arn => arn_like(wanted, value),
            Family::Null | Family::Unknown => return None,
        })
    }
}

impl Order {
    fn holds(self, ordering: Ordering) -> bool {
        match self {
            Order::Equal => ordering.is_eq(),
            Order::Less => ordering.is_lt(),
            Order::LessOrEqual => ordering.is_le(),
            Order::Greater => ordering.is_gt(),
            Order::GreaterOrEqual => ordering.is_ge(),
        }
    }
}

/// Three-valued OR: true wins, then "cannot judge".
fn any(results: impl Iterator<Item = Option<bool>>) -> Option<bool> {
    let mut unknown = false;
    for result in results {
        match result {
            Some(true) => return Some(true),
            None => unknown = true,
            Some(false) => {}
        }
    }
    (!unknown).then_some(false)
}

/// Three-valued AND: false wins, then "cannot judge".
fn all(results: impl Iterator<Item = Option<bool>>) -> Option<bool> {
    any(results.map(|r| r.map(|b| !b))).map(|b| !b)
}

/// Whether STS certainly sets no `key` in a request with a token from `issuer`:
/// a key without a service prefix, or one named after another OIDC issuer
/// (prefixes with a dot are issuers; `aws:`, `sts:` … have none).
pub fn absent_for(key: &str, issuer: &str) -> bool {
    match key.rsplit_once(':') {
        None => true,
        Some((prefix, _)) => prefix.contains('.') && !prefix.eq_ignore_ascii_case(issuer),
    }
}

/// IAM's `StringLike`: `*` is any run of characters, `?` exactly one.
pub fn like_match(pattern: &str, value: &str) -> bool {
    let (p, v): (Vec<char>, Vec<char>) = (pattern.chars().collect(), value.chars().collect());
    let (mut pi, mut vi) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while vi < v.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == v[vi]) {
            pi += 1;
            vi += 1;
        } else if pi < p.len() && p[pi] == '*' {
            backtrack = Some((pi, vi));
            pi += 1;
        } else if let Some((star, matched)) = backtrack {
            pi = star + 1;
            vi = matched + 1;
            backtrack = Some((star, matched + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// `ArnLike`: each of the ARN's six `:`-separated parts is matched on its own
/// (a pattern of fewer parts matches the rest of the ARN with its last).
fn arn_like(pattern: &str, arn: &str) -> bool {
    let mut parts = pattern.splitn(6, ':').peekable();
    let mut rest = arn;
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            return like_match(part, rest);
        }
        let Some((head, tail)) = rest.split_once(':') else {
            return false;
        };
        if !like_match(part, head) {
            return false;
        }
        rest = tail;
    }
    false
}

/// `IpAddress`: `address` is in `cidr` (a bare address is one host).
fn in_cidr(cidr: &str, address: &str) -> Option<bool> {
    let (network, bits) = match cidr.split_once('/') {
        Some((network, bits)) => (network, Some(bits.parse::<u32>().ok()?)),
        None => (cidr, None),
    };
    let wide = |ip: IpAddr| match ip {
        IpAddr::V4(ip) => (u128::from(u32::from(ip)), 32),
        IpAddr::V6(ip) => (u128::from(ip), 128),
    };
    let (network, width) = wide(network.trim().parse().ok()?);
    let (address, address_width) = wide(address.trim().parse().ok()?);
    let bits = bits.unwrap_or(width);
    if bits > width {
        return None;
    }
    let shift = width - bits;
    Some(width == address_width && (bits == 0 || network >> shift == address >> shift))
}

/// A date as IAM takes it: ISO 8601 (a day, or a time with its zone) or Unix seconds.
fn date(text: &str) -> Option<f64> {
    use aws_smithy_types::DateTime;
    use aws_smithy_types::date_time::Format;
    let text = text.trim();
    if let Ok(seconds) = text.parse::<f64>() {
        return Some(seconds);
    }
    DateTime::from_str(text, Format::DateTime)
        .or_else(|_| DateTime::from_str(&format!("{text}T00:00:00Z"), Format::DateTime))
        .ok()
        .map(|time| time.as_secs_f64())
}

/// A policy value as strings: one, a list, or (as IAM also takes them) numbers and booleans.
pub fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(all) => all.iter().flat_map(strings).collect(),
        Value::Number(n) => vec![n.to_string()],
        Value::Bool(b) => vec![b.to_string()],
        _ => Vec::new(),
    }
}

pub(super) fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn condition(operator: &str, values: &[&str]) -> Condition {
        Condition {
            operator: Operator::parse(operator),
            key: "k".into(),
            values: values.iter().map(|v| v.to_string()).collect(),
            at: String::new(),
        }
    }

    #[test]
    fn a_literal_is_one_value_a_plain_test_requires() {
        assert_eq!(condition("StringEquals", &["a"]).literal(), Some("a"));
        assert_eq!(condition("StringLike", &["a"]).literal(), Some("a"));
        for (operator, values) in [
            ("StringLike", &["a*"][..]),
            ("StringNotEquals", &["a"]),
            ("StringEqualsIfExists", &["a"]),
            ("ForAnyValue:StringEquals", &["a"]),
            ("StringEquals", &["a", "b"]),
            ("NumericEquals", &["1"]),
        ] {
            assert_eq!(
                condition(operator, values).literal(),
                None,
                "{operator} {values:?}"
            );
        }
    }

    fn request(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| v.to_string()).collect()
    }

    #[test]
    fn every_operator_iam_has_is_read_and_no_other() {
        let families = [
            ("StringEquals", Family::String { like: false }, false, false),
            (
                "StringNotEqualsIgnoreCase",
                Family::String { like: false },
                true,
                true,
            ),
            ("StringNotLike", Family::String { like: true }, true, false),
            (
                "NumericLessThanEquals",
                Family::Numeric(Order::LessOrEqual),
                false,
                false,
            ),
            (
                "NumericNotEquals",
                Family::Numeric(Order::Equal),
                true,
                false,
            ),
            (
                "DateGreaterThan",
                Family::Date(Order::Greater),
                false,
                false,
            ),
            ("Bool", Family::Bool, false, false),
            ("BinaryEquals", Family::Binary, false, false),
            ("NotIpAddress", Family::IpAddress, true, false),
            ("ArnLike", Family::Arn, false, false),
            ("ArnNotEquals", Family::Arn, true, false),
            ("Null", Family::Null, false, false),
        ];
        for (name, family, negated, ignore_case) in families {
            let operator = Operator::parse(name);
            assert_eq!(
                (operator.family, operator.negated, operator.ignore_case),
                (family, negated, ignore_case),
                "{name}"
            );
        }
        let full = Operator::parse("ForAnyValue:StringNotEqualsIgnoreCaseIfExists");
        assert_eq!(full.qualifier, Some(Qualifier::ForAnyValue));
        assert!(full.negated && full.ignore_case && full.if_exists);
        // Operator names are case-sensitive; `Null` takes no IfExists or qualifier.
        for name in [
            "stringequals",
            "StringEqual",
            "NullIfExists",
            "ForAllValues:Null",
            "ForSomeValues:StringLike",
            "DateLessThanOrEquals",
        ] {
            assert_eq!(Operator::parse(name).family, Family::Unknown, "{name}");
            assert_eq!(condition(name, &["x"]).holds(Some(&request(&["x"]))), None);
        }
    }

    #[test]
    fn a_missing_key_is_judged_as_iam_documents_it() {
        let cases = [
            ("StringEquals", Some(false)),
            ("StringLike", Some(false)),
            ("StringNotEquals", Some(true)),
            ("StringNotLikeIfExists", Some(true)),
            ("StringEqualsIfExists", Some(true)),
            ("StringEqualsIgnoreCase", Some(false)),
            ("ForAllValues:StringEquals", Some(true)),
            ("ForAllValues:StringNotEquals", Some(true)),
            ("ForAnyValue:StringLike", Some(false)),
            ("ForAnyValue:StringNotLike", Some(false)),
            ("ForAnyValue:StringEqualsIfExists", Some(false)),
            ("NumericLessThan", Some(false)),
            ("DateGreaterThanIfExists", Some(true)),
            ("Bool", Some(false)),
            ("BoolIfExists", Some(true)),
            ("NotIpAddress", Some(true)),
            ("ArnLike", Some(false)),
            ("ArnNotLike", Some(true)),
            ("NoSuchOperator", None),
        ];
        for (operator, absent) in cases {
            let test = condition(operator, &["1"]);
            assert_eq!(test.when_absent(), absent, "{operator}");
            // An empty list is no value either.
            assert_eq!(test.holds(Some(&[])), absent, "{operator} []");
        }
        assert_eq!(condition("Null", &["true"]).when_absent(), Some(true));
        assert_eq!(condition("Null", &["false"]).when_absent(), Some(false));
        assert_eq!(
            condition("Null", &["false"]).holds(Some(&request(&["x"]))),
            Some(true)
        );
        assert_eq!(condition("Null", &["maybe"]).when_absent(), None);
    }

    #[test]
    fn strings_compare_case_sensitively_unless_told_not_to() {
        let holds = |operator: &str, wanted: &[&str], values: &[&str]| {
            condition(operator, wanted).holds(Some(&request(values)))
        };
        assert_eq!(holds("StringEquals", &["Repo:A"], &["repo:a"]), Some(false));
        assert_eq!(
            holds("StringEqualsIgnoreCase", &["Repo:A"], &["repo:a"]),
            Some(true)
        );
        assert_eq!(
            holds("StringNotEqualsIgnoreCase", &["Repo:A"], &["repo:a"]),
            Some(false)
        );
        assert_eq!(
            holds("StringLike", &["repo:a/*"], &["repo:a/b"]),
            Some(true)
        );
        assert_eq!(
            holds("StringLike", &["repo:A/*"], &["repo:a/b"]),
            Some(false)
        );
        // `*` is a wildcard only where the operator is `…Like`.
        assert_eq!(holds("StringEquals", &["repo:*"], &["repo:a"]), Some(false));
        // Values are ORed; under a negated operator, NORed.
        assert_eq!(holds("StringEquals", &["x", "y"], &["y"]), Some(true));
        assert_eq!(holds("StringNotEquals", &["x", "y"], &["y"]), Some(false));
        assert_eq!(holds("StringNotEquals", &["x", "y"], &["z"]), Some(true));
    }

    #[test]
    fn several_request_values_follow_the_qualifier() {
        let holds = |operator: &str, values: &[&str]| {
            condition(operator, &["a", "b"]).holds(Some(&request(values)))
        };
        assert_eq!(holds("ForAllValues:StringEquals", &["a", "b"]), Some(true));
        assert_eq!(holds("ForAllValues:StringEquals", &["a", "c"]), Some(false));
        assert_eq!(holds("ForAnyValue:StringEquals", &["c", "a"]), Some(true));
        assert_eq!(holds("ForAnyValue:StringEquals", &["c", "d"]), Some(false));
        assert_eq!(
            holds("ForAnyValue:StringNotEquals", &["a", "c"]),
            Some(true)
        );
        assert_eq!(
            holds("ForAnyValue:StringNotEquals", &["a", "b"]),
            Some(false)
        );
        assert_eq!(
            holds("ForAllValues:StringNotEquals", &["c", "d"]),
            Some(true)
        );
        assert_eq!(
            holds("ForAllValues:StringNotEquals", &["c", "a"]),
            Some(false)
        );
        // Without a qualifier: one matching value will do; negated, none may match.
        assert_eq!(holds("StringEquals", &["c", "a"]), Some(true));
        assert_eq!(holds("StringNotEquals", &["c", "a"]), Some(false));
    }

    #[test]
    fn numbers_dates_booleans_addresses_and_arns() {
        let holds = |operator: &str, wanted: &str, value: &str| {
            condition(operator, &[wanted]).holds(Some(&request(&[value])))
        };
        assert_eq!(holds("NumericLessThan", "10", "9.5"), Some(true));
        assert_eq!(holds("NumericGreaterThanEquals", "10", "9"), Some(false));
        assert_eq!(holds("NumericNotEquals", "10", "10.0"), Some(false));
        assert_eq!(holds("NumericEquals", "10", "ten"), None);
        assert_eq!(
            holds(
                "DateLessThan",
                "2030-01-01T00:00:00Z",
                "2029-12-31T23:59:59Z"
            ),
            Some(true)
        );
        assert_eq!(
            holds("DateGreaterThan", "2030-01-01", "1893456000"),
            Some(false)
        );
        assert_eq!(holds("DateEquals", "2030-01-01", "1893456000"), Some(true));
        assert_eq!(holds("DateEquals", "soon", "1893456000"), None);
        assert_eq!(holds("Bool", "true", "TRUE"), Some(true));
        assert_eq!(holds("Bool", "false", "true"), Some(false));
        assert_eq!(holds("IpAddress", "192.0.2.0/24", "192.0.2.7"), Some(true));
        assert_eq!(
            holds("IpAddress", "192.0.2.0/24", "198.51.100.1"),
            Some(false)
        );
        assert_eq!(holds("IpAddress", "0.0.0.0/0", "198.51.100.1"), Some(true));
        assert_eq!(
            holds("NotIpAddress", "2001:db8::/32", "2001:db8::1"),
            Some(false)
        );
        assert_eq!(
            holds("IpAddress", "192.0.2.0/24", "2001:db8::1"),
            Some(false)
        );
        assert_eq!(holds("IpAddress", "192.0.2.0/33", "192.0.2.1"), None);
        let role = "arn:aws:iam::123456789012:role/deploy";
        assert_eq!(
            holds("ArnLike", "arn:aws:iam::*:role/deploy", role),
            Some(true)
        );
        assert_eq!(
            holds("ArnEquals", "arn:aws:iam::123456789012:role/*", role),
            Some(true)
        );
        assert_eq!(holds("ArnLike", "arn:aws:iam::*:role", role), Some(false));
        assert_eq!(
            holds("ArnNotLike", "arn:aws:iam::111122223333:*", role),
            Some(true)
        );
        assert_eq!(holds("ArnLike", "*", role), Some(true));
        assert_eq!(holds("BinaryEquals", "QmluYXJ5", "QmluYXJ5"), Some(true));
    }

    #[test]
    fn documents_in_every_shape_the_cli_and_api_give() {
        let policy = json!({ "Statement": {
            "Sid": "Deploy", "Effect": "Allow",
            "NotPrincipal": { "Federated": "arn:aws:iam::123456789012:oidc-provider/gitlab.com" },
            "NotAction": "s3:*",
            "Condition": { "StringEquals": { "gitlab.com:aud": ["a", "b"] } },
        }});
        let document = Document::parse(&policy).unwrap();
        let statement = &document.statements[0];
        assert_eq!(statement.label, "statement 1 (Deploy)");
        assert_eq!(statement.effect, Some(Effect::Allow));
        assert!(statement.covers("sts:AssumeRoleWithWebIdentity"));
        assert!(!statement.covers("S3:GetObject"));
        assert!(!statement.principal.admits_issuer("GitLab.com"));
        assert!(
            statement
                .principal
                .admits_issuer("token.actions.githubusercontent.com")
        );
        assert_eq!(statement.conditions[0].values, ["a", "b"]);

        let encoded = "%7B%22Statement%22%3A%5B%7B%22Effect%22%3A%22Deny%22%7D%5D%7D";
        let api = json!({ "Role": { "Arn": "arn:aws:iam::1:role/r", "AssumeRolePolicyDocument": encoded } });
        let document = Document::parse(&api).unwrap();
        assert_eq!(document.role.as_deref(), Some("arn:aws:iam::1:role/r"));
        assert_eq!(document.statements[0].effect, Some(Effect::Deny));

        assert!(Document::parse(&json!({})).is_err());
        assert!(Document::parse(&json!({ "Statement": [1] })).is_err());
    }

    #[test]
    fn string_like_follows_iam_wildcards() {
        assert!(like_match("repo:o/r:*", "repo:o/r:ref:refs/heads/main"));
        assert!(like_match("a?c", "abc"));
        assert!(!like_match("a?c", "abbc"));
        assert!(like_match("*main", "refs/heads/main"));
        // IpAddress: a network of all the address's bits is that one address.
        assert_eq!(in_cidr("192.0.2.1/32", "192.0.2.1"), Some(true));
        assert_eq!(in_cidr("192.0.2.1/32", "192.0.2.2"), Some(false));
        assert_eq!(in_cidr("192.0.2.0/33", "192.0.2.1"), None);
        // A star that must give up more than one character, more than once.
        assert!(like_match("*ab", "aaaab"));
        assert!(like_match("*:*ab", "x:y:aaab"));
        assert!(!like_match("*ab", "aaaa"));
        assert!(!like_match(
            "repo:o/r:ref:refs/heads/main",
            "repo:o/r:ref:refs/heads/mainx"
        ));
        assert!(like_match("*", ""));
    }

    /// A regular-expression translation of the pattern: `*` is `.*`, `?` is `.`,
    /// everything else literal, the whole value matched.
    fn regex_of(pattern: &str) -> regex_lite::Regex {
        let mut re = String::from("(?s)^");
        for c in pattern.chars() {
            match c {
                '*' => re.push_str(".*"),
                '?' => re.push('.'),
                c => re.push_str(&regex_lite::escape(&c.to_string())),
            }
        }
        re.push('$');
        regex_lite::Regex::new(&re).unwrap()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        #[test]
        fn string_like_agrees_with_a_regex(
            pattern in "[ab*?:/é.]{0,8}",
            value in "[ab:/é.\n]{0,10}",
        ) {
            proptest::prop_assert_eq!(
                like_match(&pattern, &value),
                regex_of(&pattern).is_match(&value),
                "{:?} against {:?}", pattern, value
            );
        }
    }
}
