//! Times as vault-ci shows and compares them: Unix seconds, RFC 3339 in whole
//! seconds as STS writes them, and short human durations for logs.

use std::time::{SystemTime, UNIX_EPOCH};

pub fn now_unix() -> i64 {
    unix(SystemTime::now())
}

pub fn unix(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(before) => -(before.duration().as_secs() as i64),
    }
}

/// A Unix time as RFC 3339 in whole seconds (`2026-11-24T21:00:00Z`), as STS writes times.
pub fn rfc3339(secs: i64) -> Option<String> {
    aws_smithy_types::DateTime::from_secs(secs)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .ok()
}

pub fn human_duration(secs: u64) -> String {
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s => format!("{}h{}m", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_sts_writes_them() {
        assert_eq!(rfc3339(0).as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(
            rfc3339(1_795_000_000).as_deref(),
            Some("2026-11-18T11:06:40Z")
        );
        assert_eq!(human_duration(119), "119s");
        assert_eq!(human_duration(900), "15m");
        assert_eq!(human_duration(7_260), "2h1m");
        assert_eq!(unix(UNIX_EPOCH - std::time::Duration::from_secs(5)), -5);
    }
}
