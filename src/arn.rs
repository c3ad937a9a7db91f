//! Every ARN shape vault-ci reads, and the account id, checked for shape before
//! any request so a typo fails in milliseconds with the offending part named,
//! not after a round trip to STS. Nothing else splits an ARN.

use std::fmt;
use std::str::FromStr;

/// A 12-digit AWS account id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct AccountId(String);

impl AccountId {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Exactly twelve ASCII digits.
    pub fn is_valid(text: &str) -> bool {
        text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
    }
}

impl FromStr for AccountId {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if AccountId::is_valid(s) {
            Ok(AccountId(s.to_string()))
        } else {
            Err(format!("`{s}` is not a 12-digit AWS account id"))
        }
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for AccountId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

/// The six `:`-separated parts of any ARN, borrowed from its text; the resource
/// keeps any further `:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parts<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

impl<'a> Parts<'a> {
    /// `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE` with a partition name of
    /// AWS's shape; None for anything else.
    pub fn of(arn: &'a str) -> Option<Parts<'a>> {
        let mut parts = arn.splitn(6, ':');
        if parts.next()? != "arn" {
            return None;
        }
        let parts = Parts {
            partition: parts.next()?,
            service: parts.next()?,
            region: parts.next()?,
            account: parts.next()?,
            resource: parts.next()?,
        };
        is_partition(parts.partition).then_some(parts)
    }

    /// The account, when it is one (not `aws` for AWS-managed policies, nor empty).
    pub fn account_id(&self) -> Option<AccountId> {
        self.account.parse().ok()
    }
}

/// A role's ARN, `arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleArn {
    arn: String,
    partition_end: usize,
    account: AccountId,
    name: String,
}

impl RoleArn {
    pub fn as_str(&self) -> &str {
        &self.arn
    }

    pub fn partition(&self) -> &str {
        &self.arn[4..self.partition_end]
    }

    pub fn account(&self) -> &AccountId {
        &self.account
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The role `name` in `caller`'s account and partition: a bare role name,
    /// completed as configure-aws-credentials completes it.
    pub fn in_account_of(name: &str, caller: &Principal) -> Result<RoleArn, String> {
        format!(
            "arn:{}:iam::{}:role/{name}",
            caller.partition, caller.account
        )
        .parse()
    }
}

impl fmt::Display for RoleArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.arn)
    }
}

const EXAMPLE: &str = "arn:aws:iam::123456789012:role/deploy";

impl FromStr for RoleArn {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| format!("`{s}` is not a role ARN: {why} (expected e.g. {EXAMPLE})");
        let count = s.splitn(6, ':').count();
        if count != 6 {
            return Err(bad("it needs six ':'-separated parts"));
        }
        if !s.starts_with("arn:") {
            return Err(bad("it must start with `arn:`"));
        }
        let Some(parts) = Parts::of(s) else {
            let partition = s.split(':').nth(1).unwrap_or_default();
            return Err(bad(&format!("`{partition}` is not an AWS partition")));
        };
        if parts.service != "iam" {
            return Err(bad(&format!(
                "the service is `{}`, roles live in `iam`",
                parts.service
            )));
        }
        if !parts.region.is_empty() {
            return Err(bad(
                "IAM ARNs have no region: use `iam::` with nothing between",
            ));
        }
        let account = parts.account_id().ok_or_else(|| {
            bad(&format!(
                "the account id `{}` must be exactly 12 digits",
                parts.account
            ))
        })?;
        let Some(path_and_name) = parts.resource.strip_prefix("role/") else {
            return Err(bad(&format!(
                "the resource `{}` must start with `role/`",
                parts.resource
            )));
        };
        let name = path_and_name.rsplit('/').next().unwrap_or_default();
        if !is_iam_name(name, 64) {
            return Err(bad(&format!(
                "the role name `{name}` must be 1-64 characters of letters, digits and +=,.@_-"
            )));
        }
        if !path_and_name
            .chars()
            .all(|c| c == '/' || is_iam_name_char(c))
        {
            return Err(bad("the role path has characters IAM does not allow"));
        }
        Ok(RoleArn {
            arn: s.to_string(),
            partition_end: 4 + parts.partition.len(),
            account,
            name: name.to_string(),
        })
    }
}

/// Who a set of credentials belongs to, as GetCallerIdentity names it: a user,
/// a role session, the root: any ARN with an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub arn: String,
    pub partition: String,
    pub account: AccountId,
}

impl FromStr for Principal {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts = Parts::of(s).ok_or_else(|| format!("`{s}` is not an ARN"))?;
        let account = parts
            .account_id()
            .ok_or_else(|| format!("`{s}` names no account"))?;
        Ok(Principal {
            arn: s.to_string(),
            partition: parts.partition.to_string(),
            account,
        })
    }
}

/// A role session's ARN, `arn:PARTITION:sts::ACCOUNT:assumed-role/ROLE/SESSION`,
/// as STS answers AssumeRole: anything else is not an answer from STS.
pub fn session_account(arn: &str) -> Option<AccountId> {
    let parts = Parts::of(arn)?;
    let session = parts.resource.strip_prefix("assumed-role/")?;
    let shaped = parts.service == "sts"
        && parts.region.is_empty()
        && session.split('/').count() >= 2
        && !session.contains(char::is_control);
    shaped.then(|| parts.account_id()).flatten()
}

/// A managed policy: `arn:PARTITION:iam::ACCOUNT:policy/…`, ACCOUNT being 12
/// digits or `aws` for AWS's own.
pub fn is_managed_policy(arn: &str) -> bool {
    Parts::of(arn).is_some_and(|parts| {
        parts.service == "iam"
            && parts.region.is_empty()
            && (parts.account == "aws" || AccountId::is_valid(parts.account))
            && parts
                .resource
                .strip_prefix("policy/")
                .is_some_and(|name| !name.is_empty())
    })
}

/// An IAM OIDC provider's ARN, `arn:PARTITION:iam::ACCOUNT:oidc-provider/ISSUER`:
/// the partition, the account as written, and the issuer (host and path).
pub fn oidc_provider(arn: &str) -> Option<(&str, &str, &str)> {
    let parts = Parts::of(arn)?;
    let issuer = parts.resource.strip_prefix("oidc-provider/")?;
    Some((parts.partition, parts.account, issuer))
}

/// `aws`, or `aws-` followed by lower-case words: `aws-cn`, `aws-us-gov`, `aws-iso-b`.
pub fn is_partition(p: &str) -> bool {
    p == "aws"
        || (p.starts_with("aws-")
            && p[4..]
                .split('-')
                .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase())))
}

pub fn is_iam_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "+=,.@_-".contains(c)
}

/// 1 to `max` characters IAM allows in a name.
pub fn is_iam_name(name: &str, max: usize) -> bool {
    (1..=max).contains(&name.len()) && name.chars().all(is_iam_name_char)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_roles_in_every_partition_with_paths() {
        for ok in [
            "arn:aws:iam::123456789012:role/deploy",
            "arn:aws-cn:iam::123456789012:role/ci/deploy-cfn",
            "arn:aws-us-gov:iam::123456789012:role/a+b=c,d.e@f_g-h",
            "arn:aws-iso-b:iam::123456789012:role/x",
        ] {
            let arn: RoleArn = ok.parse().unwrap();
            assert_eq!(arn.account(), "123456789012");
        }
        let arn: RoleArn = "arn:aws-cn:iam::123456789012:role/ci/deploy"
            .parse()
            .unwrap();
        assert_eq!((arn.partition(), arn.name()), ("aws-cn", "deploy"));
    }

    #[test]
    fn names_the_broken_part() {
        let cases = [
            ("deploy", "six"),
            ("arn:aws:iam::12345678901:role/deploy", "12 digits"),
            ("arn:aws:iam::123456789012:user/deploy", "role/"),
            ("arn:aws:sts::123456789012:role/deploy", "`sts`"),
            (
                "arn:aws:iam:us-east-1:123456789012:role/deploy",
                "no region",
            ),
            ("arn:amazon:iam::123456789012:role/deploy", "partition"),
            ("arn:aws:iam::123456789012:role/", "role name"),
            ("arn:aws:iam::123456789012:role/has space", "role name"),
        ];
        for (input, expected) in cases {
            let err = input.parse::<RoleArn>().unwrap_err();
            assert!(err.contains(expected), "{input}: {err}");
        }
    }

    #[test]
    fn account_ids_are_twelve_digits() {
        assert_eq!(
            "012345678901".parse::<AccountId>().unwrap(),
            *"012345678901"
        );
        for bad in [
            "12345678901",
            "1234567890123",
            "12345678901a",
            "",
            "１２３４５６７８９０１２",
        ] {
            assert_eq!(
                bad.parse::<AccountId>().unwrap_err(),
                format!("`{bad}` is not a 12-digit AWS account id")
            );
        }
    }

    #[test]
    fn a_callers_arn_gives_its_partition_and_account() {
        let user: Principal = "arn:aws-cn:iam::123456789012:user/deploy".parse().unwrap();
        assert_eq!(
            (user.partition.as_str(), user.account.as_str()),
            ("aws-cn", "123456789012")
        );
        let role = RoleArn::in_account_of("cfn", &user).unwrap();
        assert_eq!(role.as_str(), "arn:aws-cn:iam::123456789012:role/cfn");
        assert_eq!(
            "arn:aws:iam::12:user/x".parse::<Principal>().unwrap_err(),
            "`arn:aws:iam::12:user/x` names no account"
        );
        assert_eq!("".parse::<Principal>().unwrap_err(), "`` is not an ARN");
        assert!(RoleArn::in_account_of("has space", &user).is_err());
    }

    #[test]
    fn session_arns_are_sts_assumed_roles_with_an_account() {
        let account = session_account("arn:aws:sts::123456789012:assumed-role/deploy/s");
        assert_eq!(account.unwrap().as_str(), "123456789012");
        for bad in [
            "arn:aws:sts::1:assumed-role/x/y",
            "arn:aws:iam::123456789012:assumed-role/x/y",
            "arn:aws:sts:us-east-1:123456789012:assumed-role/x/y",
            "arn:aws:sts::123456789012:assumed-role/x",
            "arn:aws:sts::123456789012:role/x/y",
            "arn:aws:sts::123456789012:assumed-role/x/y\n::set-env",
            "arn:amazon:sts::123456789012:assumed-role/x/y",
            "garbage",
        ] {
            assert_eq!(session_account(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn managed_policies_belong_to_an_account_or_to_aws() {
        assert!(is_managed_policy("arn:aws:iam::aws:policy/ReadOnlyAccess"));
        assert!(is_managed_policy(
            "arn:aws-cn:iam::123456789012:policy/ci/deploy"
        ));
        for bad in [
            "arn:aws:iam::aws:policy/",
            "arn:aws:iam::123:policy/x",
            "arn:aws:iam::aws:role/x",
            "arn:aws:s3::aws:policy/x",
            "arn:aws:iam:us-east-1:aws:policy/x",
            "ReadOnlyAccess",
        ] {
            assert!(!is_managed_policy(bad), "{bad}");
        }
    }

    #[test]
    fn an_oidc_providers_arn_names_its_issuer() {
        assert_eq!(
            oidc_provider("arn:aws:iam::123456789012:oidc-provider/gitlab.example.com/ci"),
            Some(("aws", "123456789012", "gitlab.example.com/ci"))
        );
        assert_eq!(oidc_provider("arn:aws:iam::123456789012:role/x"), None);
    }

    proptest::proptest! {
        #[test]
        fn any_text_parses_or_is_refused_without_panicking(text in "\\PC{0,80}") {
            let _ = text.parse::<RoleArn>();
        }

        #[test]
        fn well_formed_role_arns_parse_into_their_parts(
            partition in "aws|aws-cn|aws-us-gov",
            account in "[0-9]{12}",
            path in "(/[a-z0-9]{1,8}){0,3}",
            name in "[A-Za-z0-9+=,.@_-]{1,64}",
        ) {
            let text = format!("arn:{partition}:iam::{account}:role{path}/{name}");
            let arn: RoleArn = text.parse().unwrap();
            proptest::prop_assert_eq!(arn.partition(), partition.as_str());
            proptest::prop_assert_eq!(arn.account(), account.as_str());
            proptest::prop_assert_eq!(arn.name(), name.as_str());
        }
    }
}
