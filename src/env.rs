//! The process environment, read once in `main` and handed down as a value, so
//! that planning a run is a function of its arguments and this snapshot: no
//! module reads `std::env` behind another's back, and tests build one by hand.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

use serde::de::DeserializeOwned;

#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: BTreeMap<OsString, OsString>,
}

impl Env {
    /// This process's environment.
    pub fn capture() -> Env {
        Env {
            vars: std::env::vars_os().collect(),
        }
    }

    /// An environment of exactly these variables.
    pub fn of<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Env {
        Env {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (OsString::from(k), OsString::from(v)))
                .collect(),
        }
    }

    /// Every variable's name.
    pub fn names(&self) -> impl Iterator<Item = &OsStr> {
        self.vars.keys().map(OsString::as_os_str)
    }

    /// A variable's value, unless it is unset, empty or not UTF-8: CIs mean
    /// "unset" when they leave a variable empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(OsStr::new(name))
            .and_then(|v| v.to_str())
            .filter(|v| !v.is_empty())
    }

    /// `true` exactly, as CIs set their markers (`GITHUB_ACTIONS=true`).
    pub fn is_true(&self, name: &str) -> bool {
        self.get(name) == Some("true")
    }

    /// Whether the variable is set at all, even to nothing.
    pub fn has(&self, name: &str) -> bool {
        self.vars.contains_key(OsStr::new(name))
    }

    /// A path, which may be any bytes the OS allows.
    pub fn path(&self, name: &str) -> Option<PathBuf> {
        self.vars
            .get(OsStr::new(name))
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    }

    /// The first of these variables that is set.
    pub fn first<'n>(&self, names: &[&'n str]) -> Option<(&'n str, &str)> {
        names
            .iter()
            .find_map(|name| self.get(name).map(|value| (*name, value)))
    }

    /// A provider's variables as a struct (envy: `GITHUB_RUN_ID` → `github_run_id`).
    /// Variables that are not UTF-8 are skipped: no CI variable vault-ci reads is binary.
    pub fn deserialize<T: DeserializeOwned + Default>(&self) -> T {
        let vars = self
            .vars
            .iter()
            .filter_map(|(k, v)| Some((k.to_str()?.to_string(), v.to_str()?.to_string())));
        envy::from_iter(vars).unwrap_or_default()
    }

    /// The same environment without these variables.
    pub fn without(&self, names: &[&str]) -> Env {
        let mut vars = self.vars.clone();
        for name in names {
            vars.remove(OsStr::new(name));
        }
        Env { vars }
    }

    pub fn in_github_actions(&self) -> bool {
        self.is_true("GITHUB_ACTIONS")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_variables_count_as_unset() {
        let env = Env::of([("A", ""), ("B", "b"), ("C", "true")]);
        assert_eq!(env.get("A"), None);
        assert_eq!(env.get("B"), Some("b"));
        assert_eq!(env.first(&["A", "B", "C"]), Some(("B", "b")));
        assert!(env.is_true("C") && !env.is_true("B"));
        assert_eq!(env.path("A"), None);
    }
}
