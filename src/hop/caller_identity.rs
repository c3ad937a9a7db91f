//! GetCallerIdentity: who a set of keys belongs to, to complete a bare role
//! name with their account, to check keys that are delivered as they are, and
//! to hold them to `--allowed-account-id`.

use super::Sts;
use super::errors::{Call, classify};
use crate::error::{Error, Result};
use crate::retry::retry;
use crate::secret::Credentials;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub arn: String,
    pub partition: String,
    pub account: String,
}

pub async fn call(sts: &Sts, keys: &Credentials) -> Result<Caller> {
    let arn = retry(&sts.retry, |_| async {
        let output = sts
            .client(Some(keys))
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| {
                let call = Call {
                    operation: "GetCallerIdentity",
                    role: None,
                    denial_hint: None,
                };
                classify(sts, &call, e)
            })?;
        Ok(output.arn().unwrap_or_default().to_string())
    })
    .await?;
    parse(&arn)
}

fn parse(arn: &str) -> Result<Caller> {
    let parts: Vec<&str> = arn.split(':').collect();
    match (parts.first(), parts.get(1), parts.get(4)) {
        (Some(&"arn"), Some(partition), Some(account))
            if partition.starts_with("aws")
                && account.len() == 12
                && account.bytes().all(|b| b.is_ascii_digit()) =>
        {
            Ok(Caller {
                arn: arn.to_string(),
                partition: partition.to_string(),
                account: account.to_string(),
            })
        }
        _ => Err(Error::rejected(format!(
            "GetCallerIdentity answered `{arn}`, which names no account; is the STS endpoint really STS?"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_callers_account_and_partition_come_from_its_arn() {
        let caller = parse("arn:aws-cn:iam::123456789012:user/deploy").unwrap();
        assert_eq!(
            (caller.partition.as_str(), caller.account.as_str()),
            ("aws-cn", "123456789012")
        );
        assert!(parse("arn:aws:iam::12:user/x").is_err());
        assert!(parse("").is_err());
    }
}
