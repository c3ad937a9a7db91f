//! GetCallerIdentity: who a set of keys belongs to, to complete a bare role
//! name with their account, to check keys that are delivered as they are, and
//! to hold them to `--allowed-account-id`.

use super::Sts;
use super::errors::{Call, classify};
use crate::arn::Principal;
use crate::error::{Error, Result};
use crate::retry::retry;
use crate::secret::Credentials;

pub async fn call(sts: &Sts, keys: &Credentials) -> Result<Principal> {
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

fn parse(arn: &str) -> Result<Principal> {
    arn.parse().map_err(|_| {
        Error::rejected(format!(
            "GetCallerIdentity answered `{arn}`, which names no account; is the STS endpoint really STS?"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_that_names_no_account_is_not_from_sts() {
        let caller = parse("arn:aws-cn:iam::123456789012:user/deploy").unwrap();
        assert_eq!(caller.account.as_str(), "123456789012");
        assert_eq!(
            parse("arn:aws:iam::12:user/x").unwrap_err().message(),
            "GetCallerIdentity answered `arn:aws:iam::12:user/x`, which names no account; \
             is the STS endpoint really STS?"
        );
    }
}
