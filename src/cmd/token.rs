//! `vault-ci token`: the token `assume` would use, decoded for a person — the
//! first thing to look at when a trust policy refuses it.

use serde_json::{Value, json};

use super::{runtime, within_timeout};
use crate::cli::{TokenArgs, TokenFormat};
use crate::env::Env;
use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::identity::Context;
use crate::net::NetConfig;
use crate::plan::{net_options, read_trust_policy, select_source};
use crate::time::{human_duration, now_unix, rfc3339};
use crate::token::Token;
use crate::trust::evaluate::{Verdict, evaluate};
use crate::workflow::Workflow;

pub fn run(args: TokenArgs, env: &Env) -> Result<Exit> {
    let policy = args
        .trust_policy
        .as_deref()
        .map(|path| read_trust_policy(path, "--trust-policy"))
        .transpose()?;
    let source = select_source(&args.identity, env, false)?;
    let urls: Vec<&str> = source.token_url().into_iter().collect();
    let net = NetConfig::new(net_options(&args.net, env), env, &urls)?;
    let mut workflow = Workflow::from_env(env);
    if args.format == TokenFormat::Json && !args.raw {
        workflow.reserve_stdout();
    }
    let ctx = Context {
        audience: args.identity.audience.as_deref(),
        net: &net,
    };
    let token = runtime()?.block_on(within_timeout(&net, source.token(&ctx)))?;
    workflow.mask(token.jwt.expose());
    let verdict = policy
        .map(|policy| evaluate(&policy, &token))
        .transpose()
        .map_err(|why| Error::usage(format!("--trust-policy: {why}")))?;

    let text = match args.format {
        TokenFormat::Text => text(&source.describe(), &token, verdict.as_ref(), args.raw),
        TokenFormat::Json => json(&source.describe(), &token, verdict.as_ref(), args.raw),
    };
    print!("{text}");
    Ok(match verdict.map(|v| v.admitted) {
        Some(Some(false)) => Exit(1),
        // It depends on what only STS sees: not a yes, not a no.
        Some(None) => Exit(3),
        _ => Exit::SUCCESS,
    })
}

fn expiry(token: &Token) -> String {
    let Some(exp) = token.claims.exp else {
        return "(no exp claim)".into();
    };
    let at = rfc3339(exp).unwrap_or_else(|| exp.to_string());
    let left = exp - now_unix();
    if left > 0 {
        format!("{at} (expires in {})", human_duration(left as u64))
    } else {
        format!("{at} (expired {} ago)", human_duration((-left) as u64))
    }
}

fn text(source: &str, token: &Token, verdict: Option<&Verdict>, raw: bool) -> String {
    let claims = &token.claims;
    let or_none = |v: Option<String>| v.unwrap_or_else(|| "(none)".into());
    let mut out = format!(
        "source    {source}\n\
         issuer    {}\n\
         audience  {}\n\
         subject   {}\n\
         expires   {}\n\
         header    {}\n\
         claims\n",
        or_none(claims.iss.clone()),
        or_none(claims.aud.as_ref().map(|a| a.to_string())),
        or_none(claims.sub.clone()),
        expiry(token),
        token.header,
    );
    for (name, value) in &token.all_claims {
        let shown = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        out.push_str(&format!("  {name}: {shown}\n"));
    }
    if let Some(verdict) = verdict {
        out.push_str(match verdict.admitted {
            Some(true) => "trust policy: admits this token\n",
            Some(false) => "trust policy: does NOT admit this token\n",
            None => "trust policy: may admit this token: STS decides on what it alone sees\n",
        });
        for reason in &verdict.reasons {
            out.push_str(&format!("  {reason}\n"));
        }
    }
    if raw {
        out.push_str(&format!("token\n  {}\n", token.jwt.expose()));
    }
    out
}

fn json(source: &str, token: &Token, verdict: Option<&Verdict>, raw: bool) -> String {
    let mut doc = json!({
        "source": source,
        "header": token.header,
        "claims": token.all_claims,
        "expires_at": token.claims.exp.and_then(rfc3339),
        "expires_in_seconds": token.claims.exp.map(|exp| exp - now_unix()),
    });
    if let Some(verdict) = verdict {
        doc["trust_policy"] = json!({
            "admitted": verdict.admitted,
            "reasons": verdict.reasons,
        });
    }
    if raw {
        doc["token"] = json!(token.jwt.expose());
    }
    format!("{doc:#}\n")
}
