//! The one retry loop: retries that help and never hurt.
//!
//! - A refusal (AccessDenied, a bad parameter, an untrusted certificate) is
//!   final on the first answer.
//! - A transient failure (5xx, network) is tried again a bounded number of
//!   times (`--max-attempts`), with capped exponential backoff and full jitter.
//! - Throttling is tried again until the deadline (`--timeout`): a CI matrix
//!   that starts 200 jobs at once is what per-account STS quotas throttle, and
//!   every one of those jobs can have its credentials a few seconds later. The
//!   pause is random in [0, 2 s] every time, not growing: the quota refills at a
//!   steady rate, so a job that waits longer only finishes later. (bench/matrix.py
//!   and bench/retry_sim.py measured the alternatives: exponential backoff left
//!   jobs failing or finishing at twice the floor, botocore's adaptive mode made
//!   every job wait in step.) A server's `Retry-After` is honoured.
//!
//! Full jitter ("uniformly random in [0, ceiling]") keeps many jobs throttled
//! at once from coming back in lockstep. The jitter source is a field so tests
//! assert exact delays on tokio's paused clock.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;
use tracing::warn;

use crate::error::{Error, Result, Retry};

tokio::task_local! {
    /// When the whole exchange must be done (`--timeout`); set by [`with_deadline`].
    static DEADLINE: Instant;
}

/// Runs `work` with `deadline` as the retry loops' deadline.
pub async fn with_deadline<T>(deadline: Instant, work: impl Future<Output = T>) -> T {
    DEADLINE.scope(deadline, work).await
}

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all for a transient failure, the first one included.
    /// 1 means no retry at all, not even for throttling.
    pub max_attempts: u32,
    /// The first pause's ceiling; it doubles with every attempt up to `cap`.
    pub base: Duration,
    pub cap: Duration,
    /// The ceiling of every pause after throttling.
    pub throttle_pause: Duration,
    /// A number in [0, 1]: the fraction of the ceiling to wait.
    pub jitter: fn() -> f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base: Duration::from_millis(250),
            cap: Duration::from_secs(8),
            throttle_pause: Duration::from_secs(2),
            jitter: random_fraction,
        }
    }
}

impl RetryPolicy {
    /// The pause after failed attempt `attempt` (from 1): full jitter under
    /// min(cap, base × 2^(attempt-1)).
    pub fn delay(&self, attempt: u32) -> Duration {
        self.ceiling(attempt)
            .mul_f64((self.jitter)().clamp(0.0, 1.0))
    }

    fn ceiling(&self, attempt: u32) -> Duration {
        ceiling(self.base, self.cap, attempt)
    }

    /// How long to wait before another attempt after `err`, or None to give up.
    /// `left` is the time until the deadline, when there is one.
    pub fn pause(&self, err: &Error, attempt: u32, left: Option<Duration>) -> Option<Duration> {
        let delay = match err.retry() {
            Retry::Never => return None,
            _ if self.max_attempts <= 1 => return None,
            Retry::Transient if attempt >= self.max_attempts => return None,
            Retry::Transient => self.delay(attempt),
            // Without a deadline, throttling counts against the attempts like anything else.
            Retry::Throttled { .. } if left.is_none() && attempt >= self.max_attempts => {
                return None;
            }
            Retry::Throttled { after } => {
                let delay = self.throttle_pause.mul_f64((self.jitter)().clamp(0.0, 1.0));
                after.map_or(delay, |after| after.max(delay))
            }
        };
        match left {
            // An attempt that could not finish before the deadline is not worth starting.
            Some(left) if delay >= left => None,
            _ => Some(delay),
        }
    }

    /// The last error, saying how often it was tried.
    pub fn give_up(&self, err: Error, attempts: u32) -> Error {
        if err.retry() != Retry::Never && attempts > 1 {
            err.with_suffix(&format!(" (gave up after {attempts} attempts)"))
        } else {
            err
        }
    }
}

/// Runs `op` (given the attempt number, from 1) until it succeeds, fails for
/// good, or no further attempt is allowed.
pub async fn retry<T, F, Fut>(policy: &RetryPolicy, mut op: F) -> Result<T>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut attempt = 1;
    loop {
        let err = match op(attempt).await {
            Ok(value) => return Ok(value),
            Err(err) => err,
        };
        let left = DEADLINE
            .try_with(|deadline| deadline.saturating_duration_since(Instant::now()))
            .ok();
        let Some(delay) = policy.pause(&err, attempt, left) else {
            return Err(policy.give_up(err, attempt));
        };
        let of = match err.retry() {
            Retry::Throttled { .. } if left.is_some() => "until --timeout".to_string(),
            _ => policy.max_attempts.to_string(),
        };
        warn!(
            "{} — retrying in {} ms (attempt {}/{of})",
            err.message(),
            delay.as_millis(),
            attempt + 1
        );
        tokio::time::sleep(delay).await;
        attempt += 1;
    }
}

/// min(cap, base × 2^(attempt-1)): the exponential part of every backoff here.
pub fn ceiling(base: Duration, cap: Duration, attempt: u32) -> Duration {
    base.saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
        .min(cap)
}

pub fn random_fraction() -> f64 {
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
    use crate::error::Peer;
    use std::cell::RefCell;

    fn policy(jitter: fn() -> f64) -> RetryPolicy {
        RetryPolicy {
            jitter,
            ..RetryPolicy::default()
        }
    }

    /// Runs `outcomes` in order through the loop on the paused clock and
    /// returns the result and when each attempt started, in ms from the start.
    async fn attempts(
        policy: &RetryPolicy,
        deadline: Option<Duration>,
        outcomes: Vec<Result<u32>>,
    ) -> (Result<u32>, Vec<u128>) {
        let start = Instant::now();
        let started = RefCell::new(Vec::new());
        let outcomes = RefCell::new(outcomes.into_iter());
        let run = retry(policy, |_| {
            started.borrow_mut().push(start.elapsed().as_millis());
            let next = outcomes.borrow_mut().next();
            async move { next.unwrap_or(Err(Error::unavailable(Peer::Sts, "503"))) }
        });
        let result = match deadline {
            Some(d) => with_deadline(start + d, run).await,
            None => run.await,
        };
        (result, started.into_inner())
    }

    #[tokio::test(start_paused = true)]
    async fn transient_failures_back_off_exponentially_up_to_the_attempts() {
        let (result, started) = attempts(&policy(|| 1.0), None, vec![]).await;
        let err = result.unwrap_err();
        assert_eq!(started, [0, 250, 750, 1750, 3750]);
        assert_eq!(err.message(), "503 (gave up after 5 attempts)");

        let (_, started) = attempts(&policy(|| 0.5), None, vec![]).await;
        assert_eq!(started, [0, 125, 375, 875, 1875]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_refusal_is_final_and_a_success_ends_the_loop() {
        let (result, started) = attempts(
            &policy(|| 1.0),
            None,
            vec![Err(Error::denied("AccessDenied"))],
        )
        .await;
        assert_eq!(result.unwrap_err().message(), "AccessDenied");
        assert_eq!(started, [0]);

        let outcomes = vec![Err(Error::unavailable(Peer::Sts, "503")), Ok(7)];
        let (result, started) = attempts(&policy(|| 1.0), None, outcomes).await;
        assert_eq!(result.unwrap(), 7);
        assert_eq!(started, [0, 250]);
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_is_retried_until_the_deadline_and_honours_retry_after() {
        let throttled = || Error::throttled("Rate exceeded", None);
        let outcomes = (0..20).map(|_| Err(throttled())).collect();
        let (result, started) =
            attempts(&policy(|| 1.0), Some(Duration::from_secs(30)), outcomes).await;
        // 2 s each time (the jitter's ceiling here), past --max-attempts, up to the deadline.
        assert_eq!(started, (0..15).map(|n| n * 2000).collect::<Vec<u128>>());
        assert_eq!(
            result.unwrap_err().message(),
            "Rate exceeded (gave up after 15 attempts)"
        );

        let outcomes = vec![
            Err(Error::throttled("slow down", Some(Duration::from_secs(3)))),
            Ok(1),
        ];
        let (_, started) = attempts(&policy(|| 1.0), Some(Duration::from_secs(30)), outcomes).await;
        assert_eq!(started, [0, 3000]);
    }

    #[tokio::test(start_paused = true)]
    async fn one_attempt_means_no_retry_at_all() {
        let one = RetryPolicy {
            max_attempts: 1,
            ..policy(|| 1.0)
        };
        let outcomes = vec![Err(Error::throttled("Rate exceeded", None))];
        let (result, started) = attempts(&one, Some(Duration::from_secs(30)), outcomes).await;
        assert_eq!(started, [0]);
        assert_eq!(result.unwrap_err().message(), "Rate exceeded");
    }

    #[test]
    fn delays_stay_under_the_ceiling_whatever_the_jitter() {
        let policy = RetryPolicy::default();
        for attempt in 1..=40 {
            let ceiling =
                Duration::from_millis(250 * (1u64 << (attempt - 1).min(16))).min(policy.cap);
            for _ in 0..20 {
                assert!(policy.delay(attempt) <= ceiling, "attempt {attempt}");
            }
        }
    }
}
