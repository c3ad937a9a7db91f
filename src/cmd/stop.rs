//! `vault-ci stop`: ends the job-wide credentials server of `--serve`, through
//! the endpoint itself (a DELETE with the token), so it works wherever a later
//! step does.

use crate::env::Env;
use crate::error::{Error, Peer, Result, error_chain};
use crate::exit::Exit;

pub fn run(env: &Env) -> Result<Exit> {
    let (Some(uri), Some(token)) = (
        env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI"),
        env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN"),
    ) else {
        return Err(Error::usage(
            "no server to stop: AWS_CONTAINER_CREDENTIALS_FULL_URI and AWS_CONTAINER_AUTHORIZATION_TOKEN \
             are not set (a `vault-ci assume --serve` step exports them for the later ones)",
        ));
    };
    if !uri.starts_with("http://127.0.0.1:") || !uri.ends_with(crate::server::endpoint::PATH) {
        return Err(Error::usage(format!(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI is {}, not a vault-ci server's; nothing to stop",
            crate::text::one_line(uri)
        )));
    }
    let net = crate::net::NetConfig::new(
        crate::net::NetOptions {
            attempt_timeout: std::time::Duration::from_secs(5),
            total_timeout: std::time::Duration::from_secs(10),
            ..Default::default()
        },
        &Env::default(),
        &[uri],
    )?;
    let answer = super::runtime()?.block_on(async {
        net.client()
            .delete(uri)
            .header(reqwest::header::AUTHORIZATION, token)
            .send()
            .await
    });
    match answer {
        Ok(response) if response.status().is_success() => {
            tracing::info!("the credentials server at {uri} is stopping");
            Ok(Exit::SUCCESS)
        }
        Ok(response) => Err(Error::denied(format!(
            "the credentials server at {uri} refused to stop (HTTP {}): the token is not its own",
            response.status()
        ))),
        // Nothing listens: the server is gone already, which is what was asked.
        Err(e) if e.is_connect() => {
            tracing::info!("no credentials server answers at {uri}: it has stopped already");
            Ok(Exit::SUCCESS)
        }
        Err(e) => Err(Error::unavailable(
            Peer::Metadata,
            format!(
                "the credentials server at {uri} did not answer ({}); end its process \
                 (its log is $VAULT_CI_SERVE_LOG) if it is still there",
                error_chain(&e.without_url())
            ),
        )),
    }
}
