//! Static keys in the environment: the AssumeRole-only deploy user of a
//! hand-written assume_role.sh, a person's keys when run by hand, or the
//! session an earlier step exported (role chaining).

use crate::env::Env;
use crate::error::{Error, Result};
use crate::secret::{Credentials, Secret, mask_key_id};

/// None when no keys are set; an error when they are set by half.
pub fn from_env(env: &Env) -> Option<Result<Credentials>> {
    let key_id = env.get("AWS_ACCESS_KEY_ID")?;
    let Some(secret) = env.get("AWS_SECRET_ACCESS_KEY") else {
        return Some(Err(Error::identity(format!(
            "AWS_ACCESS_KEY_ID is set ({}) but AWS_SECRET_ACCESS_KEY is not; export both",
            mask_key_id(key_id)
        ))));
    };
    Some(Ok(Credentials {
        access_key_id: key_id.to_string(),
        secret_access_key: Secret::new(secret),
        session_token: env.get("AWS_SESSION_TOKEN").map(Secret::new),
        expiration: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_read_whole_or_refused_by_half() {
        assert!(from_env(&Env::default()).is_none());
        let half = Env::of([("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEKEY123456")]);
        let err = from_env(&half).unwrap().err().unwrap();
        assert_eq!(
            err.message(),
            "AWS_ACCESS_KEY_ID is set (****************3456) but AWS_SECRET_ACCESS_KEY is not; export both"
        );
        let session = Env::of([
            ("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
            ("AWS_SESSION_TOKEN", "t"),
        ]);
        assert!(from_env(&session).unwrap().unwrap().is_session());
    }
}
