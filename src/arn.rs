//! Role ARNs, checked for shape before any request so a typo fails in
//! milliseconds with the offending part named, not after a round trip to STS.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleArn {
    arn: String,
    partition_end: usize,
    account: String,
    name: String,
}

impl RoleArn {
    pub fn as_str(&self) -> &str {
        &self.arn
    }

    pub fn partition(&self) -> &str {
        &self.arn[4..self.partition_end]
    }

    pub fn account(&self) -> &str {
        &self.account
    }

    pub fn name(&self) -> &str {
        &self.name
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
        let parts: Vec<&str> = s.splitn(6, ':').collect();
        let [prefix, partition, service, region, account, resource] = parts[..] else {
            return Err(bad("it needs six ':'-separated parts"));
        };
        if prefix != "arn" {
            return Err(bad("it must start with `arn:`"));
        }
        if !is_partition(partition) {
            return Err(bad(&format!("`{partition}` is not an AWS partition")));
        }
        if service != "iam" {
            return Err(bad(&format!(
                "the service is `{service}`, roles live in `iam`"
            )));
        }
        if !region.is_empty() {
            return Err(bad(
                "IAM ARNs have no region: use `iam::` with nothing between",
            ));
        }
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(&format!(
                "the account id `{account}` must be exactly 12 digits"
            )));
        }
        let Some(path_and_name) = resource.strip_prefix("role/") else {
            return Err(bad(&format!(
                "the resource `{resource}` must start with `role/`"
            )));
        };
        let name = path_and_name.rsplit('/').next().unwrap_or_default();
        if name.is_empty() || name.len() > 64 || !name.chars().all(is_iam_name_char) {
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
            partition_end: 4 + partition.len(),
            account: account.to_string(),
            name: name.to_string(),
        })
    }
}

fn is_partition(p: &str) -> bool {
    p == "aws"
        || (p.starts_with("aws-")
            && p[4..]
                .split('-')
                .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase())))
}

pub fn is_iam_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "+=,.@_-".contains(c)
}

/// The account id in an assumed-role ARN (`arn:aws:sts::123456789012:assumed-role/…`).
pub fn account_of(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
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
