//! Values that must never reach a log line, an error message or `Debug` output.
//!
//! A [`Secret`] only gives up its value through [`Secret::expose`], so every place
//! that reveals one is a deliberate, greppable call — in practice only the sinks.

use std::fmt;
use std::time::SystemTime;

use serde::{Deserialize, Deserializer};

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(****)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret)
    }
}

/// A set of AWS credentials: the deploy user's static keys or a hop's session.
#[derive(Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub session_token: Option<Secret>,
    pub expiration: Option<SystemTime>,
}

impl Credentials {
    /// The access key id as aws-vault shows it: enough to tell keys apart in a log.
    pub fn masked_key_id(&self) -> String {
        mask_key_id(&self.access_key_id)
    }

    /// A session token means these are already a role session, so the next
    /// AssumeRole is role chaining (capped at one hour by STS).
    pub fn is_session(&self) -> bool {
        self.session_token.is_some()
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.masked_key_id())
            .field("secret_access_key", &self.secret_access_key)
            .field("session_token", &self.session_token)
            .field("expiration", &self.expiration)
            .finish()
    }
}

pub fn mask_key_id(key_id: &str) -> String {
    let tail: String = key_id
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("****************{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let creds = Credentials {
            access_key_id: "ASIAEXAMPLEKEY123456".into(),
            secret_access_key: Secret::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
            session_token: Some(Secret::new("FwoGZXIvYXdzEXAMPLETOKEN")),
            expiration: None,
        };
        let shown = format!(
            "{creds:?} {} {:?}",
            creds.secret_access_key, creds.session_token
        );
        assert!(!shown.contains("wJalrXUtnFEMI"), "{shown}");
        assert!(!shown.contains("FwoGZXIvYXdz"), "{shown}");
        assert!(!shown.contains("ASIAEXAMPLEKEY1"), "{shown}");
        assert!(shown.contains("****************3456"), "{shown}");
    }
}
