//! Retries that help and never hurt: only transient failures (throttling,
//! 5xx, network, the IdP briefly unreachable) are tried again, with capped
//! exponential backoff and full jitter, a bounded number of times. A refusal
//! (AccessDenied, a bad parameter) is final on the first answer.

use std::future::Future;
use std::time::Duration;

use tracing::warn;

use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all, the first one included.
    pub max_attempts: u32,
    pub base: Duration,
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base: Duration::from_millis(250),
            cap: Duration::from_secs(8),
        }
    }
}

impl RetryPolicy {
    /// Full jitter: uniformly random in [0, min(cap, base * 2^(attempt-1))], so
    /// many jobs throttled at once do not come back in lockstep.
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(self.cap);
        ceiling.mul_f64(random_fraction())
    }

    /// After attempt `attempt` failed with `err`: waits and returns true if it
    /// is worth another attempt.
    pub async fn pause(&self, err: &Error, attempt: u32) -> bool {
        if !err.is_transient() || attempt >= self.max_attempts {
            return false;
        }
        let delay = self.delay(attempt);
        warn!(
            "{} — retrying in {} ms (attempt {}/{})",
            err.message(),
            delay.as_millis(),
            attempt + 1,
            self.max_attempts
        );
        tokio::time::sleep(delay).await;
        true
    }

    /// The last error, saying that retries were made.
    pub fn give_up(&self, err: Error, attempts: u32) -> Error {
        if err.is_transient() && attempts > 1 {
            err.with_suffix(&format!(" (gave up after {attempts} attempts)"))
        } else {
            err
        }
    }
}

/// Runs `op` (given the attempt number, from 1) until it succeeds, fails for
/// good, or the attempts run out.
pub async fn retry<T, F, Fut>(policy: &RetryPolicy, mut op: F) -> Result<T>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut attempt = 1;
    loop {
        match op(attempt).await {
            Ok(value) => return Ok(value),
            Err(err) => {
                if !policy.pause(&err, attempt).await {
                    return Err(policy.give_up(err, attempt));
                }
                attempt += 1;
            }
        }
    }
}

fn random_fraction() -> f64 {
    let mut bytes = [0u8; 4];
    // Without randomness the delay is the ceiling: still bounded, just not jittered.
    if getrandom::fill(&mut bytes).is_err() {
        return 1.0;
    }
    f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_exponentially_up_to_the_cap() {
        let policy = RetryPolicy::default();
        for attempt in 1..=40 {
            let ceiling =
                Duration::from_millis(250 * (1u64 << (attempt - 1).min(16))).min(policy.cap);
            for _ in 0..20 {
                assert!(policy.delay(attempt) <= ceiling, "attempt {attempt}");
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn only_transient_errors_are_retried_and_only_so_often() {
        let policy = RetryPolicy::default();
        let mut calls = 0;
        let err = retry(&policy, |_| {
            calls += 1;
            async { Err::<(), _>(Error::unavailable("throttled")) }
        })
        .await
        .unwrap_err();
        assert_eq!(calls, 5);
        assert!(
            err.message().ends_with("(gave up after 5 attempts)"),
            "{err}"
        );

        let mut calls = 0;
        retry(&policy, |_| {
            calls += 1;
            async { Err::<(), _>(Error::denied("AccessDenied")) }
        })
        .await
        .unwrap_err();
        assert_eq!(calls, 1);

        let mut calls = 0;
        let value = retry(&policy, |attempt| {
            calls += 1;
            async move {
                if attempt < 3 {
                    Err(Error::unavailable("503"))
                } else {
                    Ok(attempt)
                }
            }
        })
        .await
        .unwrap();
        assert_eq!((value, calls), (3, 3));
    }
}
