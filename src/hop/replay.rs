//! STS played by the SDK's own replay client, for in-process tests of the hops
//! and of a plan that asks STS something: each request gets the next answer,
//! and the test reads back exactly what the SDK sent.

use std::time::Duration;

use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_types::body::SdkBody;

use super::Sts;
use crate::retry::RetryPolicy;

/// STS at https://sts.test answering `answers` (status, body) in order, with
/// retries that do not wait.
pub fn sts(answers: Vec<(u16, String)>) -> (Sts, StaticReplayClient) {
    let events = answers
        .into_iter()
        .map(|(status, body)| {
            ReplayEvent::new(
                http::Request::builder()
                    .uri("https://sts.test/")
                    .body(SdkBody::empty())
                    .unwrap(),
                http::Response::builder()
                    .status(status)
                    .body(SdkBody::from(body))
                    .unwrap(),
            )
        })
        .collect();
    let client = StaticReplayClient::new(events);
    let sts = Sts {
        region: "us-east-1".into(),
        endpoint: Some("https://sts.test".into()),
        http: SharedHttpClient::new(client.clone()),
        retry: RetryPolicy {
            jitter: || 0.0,
            ..RetryPolicy::default()
        },
        attempt_timeout: Duration::from_secs(5),
    };
    (sts, client)
}

/// STS's answer to AssumeRole or AssumeRoleWithWebIdentity.
pub fn granted(operation: &str, role: &str, key: &str) -> (u16, String) {
    let expiration = crate::time::rfc3339(crate::time::now_unix() + 900).expect("a time in range");
    (
        200,
        format!(
            "<{operation}Response xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
             <{operation}Result><AssumedRoleUser>\
             <Arn>arn:aws:sts::123456789012:assumed-role/{role}/ci</Arn>\
             <AssumedRoleId>AROAEXAMPLE:ci</AssumedRoleId></AssumedRoleUser>\
             <Credentials><AccessKeyId>{key}</AccessKeyId><SecretAccessKey>secret</SecretAccessKey>\
             <SessionToken>token</SessionToken><Expiration>{expiration}</Expiration></Credentials>\
             </{operation}Result><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata>\
             </{operation}Response>"
        ),
    )
}

/// STS's answer to GetCallerIdentity for the principal `arn`.
pub fn caller(arn: &str) -> (u16, String) {
    let account = arn.split(':').nth(4).unwrap_or_default();
    (
        200,
        format!(
            "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
             <GetCallerIdentityResult><Arn>{arn}</Arn><UserId>AIDAEXAMPLE</UserId>\
             <Account>{account}</Account></GetCallerIdentityResult>\
             <ResponseMetadata><RequestId>1</RequestId></ResponseMetadata>\
             </GetCallerIdentityResponse>"
        ),
    )
}

/// STS's refusal: an error document with `code` and `message`.
pub fn refused(status: u16, code: &str, message: &str) -> (u16, String) {
    (
        status,
        format!(
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error>\
             <Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>\
             <RequestId>1</RequestId></ErrorResponse>"
        ),
    )
}

/// A request's form parameters, in the order the SDK sent them.
pub fn form(request: &HttpRequest) -> Vec<(String, String)> {
    let body = request.body().bytes().expect("an in-memory body");
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// The form parameters of `expected`, to compare with [`form`]'s.
pub fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
