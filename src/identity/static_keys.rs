//! Static keys in the environment: the AssumeRole-only deploy user of a
//! hand-written assume_role.sh, or a person's keys when run by hand.

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::secret::{Credentials, Secret};

#[derive(Debug, Default, Deserialize)]
pub struct StaticEnv {
    aws_access_key_id: Option<String>,
    aws_secret_access_key: Option<Secret>,
    aws_session_token: Option<Secret>,
}

impl StaticEnv {
    pub fn from_env() -> Self {
        super::env_struct()
    }

    pub fn is_present(&self) -> bool {
        self.aws_access_key_id
            .as_deref()
            .is_some_and(|k| !k.is_empty())
    }

    pub fn credentials(&self) -> Result<Credentials> {
        let key_id = self
            .aws_access_key_id
            .as_deref()
            .filter(|k| !k.is_empty())
            .ok_or_else(|| {
                Error::identity(
                    "no static keys: AWS_ACCESS_KEY_ID is not set; export the deploy user's \
                     AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or use an OIDC provider",
                )
            })?;
        let secret = self
            .aws_secret_access_key
            .clone()
            .filter(|s| !s.expose().is_empty())
            .ok_or_else(|| {
                Error::identity(format!(
                    "AWS_ACCESS_KEY_ID is set ({}) but AWS_SECRET_ACCESS_KEY is not; export both",
                    crate::secret::mask_key_id(key_id)
                ))
            })?;
        Ok(Credentials {
            access_key_id: key_id.to_string(),
            secret_access_key: secret,
            session_token: self
                .aws_session_token
                .clone()
                .filter(|t| !t.expose().is_empty()),
            expiration: None,
        })
    }
}
