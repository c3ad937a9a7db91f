//! CA bundles: `--ca-bundle` / AWS_CA_BUNDLE, read and loaded into the HTTP
//! client's TLS configuration as `NetConfig::new` does for a run.
//!
//! Input: the bundle file's bytes.

#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use vault_ci::env::Env;
use vault_ci::error::Kind;
use vault_ci::net::{NetConfig, NetOptions};

fn bundle_path() -> &'static PathBuf {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        DIR.get_or_init(|| tempfile::tempdir().unwrap())
            .path()
            .join("ca.pem")
    })
}

fuzz_target!(|data: &[u8]| {
    let path = bundle_path();
    std::fs::write(path, data).unwrap();
    let options = NetOptions {
        ca_bundle: Some(path),
        attempt_timeout: Duration::from_secs(1),
        total_timeout: Duration::from_secs(1),
        ..NetOptions::default()
    };
    match NetConfig::new(options, &Env::default(), &["https://sts.amazonaws.com/"]) {
        Ok(_) => {
            // Only a bundle with a certificate in it is taken.
            assert!(contains(data, b"-----BEGIN CERTIFICATE-----"));
        }
        Err(err) => {
            assert!(matches!(err.kind(), Kind::Usage), "{err}");
            let message = err.message();
            assert!(
                message.starts_with(&format!("CA bundle {}", path.display()))
                    || message.starts_with("cannot set up HTTPS"),
                "{message}"
            );
            assert!(!message.contains(['\n', '\r']), "{message:?}");
        }
    }
});

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
