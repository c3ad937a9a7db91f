//! Proxies: the proxy decision and the parsing of proxy URLs (`--http-proxy`,
//! HTTPS_PROXY / HTTP_PROXY / ALL_PROXY and their lower-case forms, NO_PROXY),
//! as far as building the one HTTP client with them.
//!
//! Input: NUL-separated fields (neither an argument nor a variable can hold a
//! NUL): --http-proxy, --no-proxy, HTTPS_PROXY, http_proxy, ALL_PROXY, NO_PROXY.
//! An empty or missing field is not given.

#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use vault_ci::env::Env;
use vault_ci::net::{NetConfig, NetOptions};

const VARIABLES: [&str; 4] = ["HTTPS_PROXY", "http_proxy", "ALL_PROXY", "NO_PROXY"];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut fields = text.split('\0');
    let mut field = || fields.next().filter(|f| !f.is_empty());
    let proxy = field();
    let no_proxy = field();
    let vars: Vec<(&str, &str)> = VARIABLES
        .iter()
        .filter_map(|name| Some((*name, field()?)))
        .collect();
    let env = Env::of(vars.iter().copied());
    let options = NetOptions {
        proxy,
        no_proxy,
        attempt_timeout: Duration::from_secs(1),
        total_timeout: Duration::from_secs(1),
        ..NetOptions::default()
    };
    // Plain http:// peers: no trust roots are loaded unless a proxy is https://.
    let Err(err) = NetConfig::new(options, &env, &["http://127.0.0.1:1/"]) else {
        return;
    };
    let message = err.message();
    assert!(!message.contains(['\n', '\r']), "{message:?}");
    // A refusal shows the proxy URL, if at all, without its password.
    // (`{origin} \`{url}\`: {why}`; a query may hold a backquote itself.)
    let shown = message
        .split_once('`')
        .and_then(|(_, rest)| rest.rsplit_once("`: "))
        .map(|(shown, _)| shown);
    if let Some(shown) = shown {
        let url = url::Url::parse(shown).expect("the URL shown parses");
        assert!(
            matches!(url.password(), None | Some("****")),
            "the password is shown: {message}"
        );
    }
});
