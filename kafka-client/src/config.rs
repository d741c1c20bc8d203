//! Parsing Java-style property values, shared by the producer, consumer and
//! admin builders. Each function names the setting in its error.

use std::time::Duration;

use crate::error::ConfigError;

/// A `true`/`false` value (case-insensitive, as Java's ConfigDef reads it).
///
/// ```
/// assert_eq!(kafka_client::config::parse_bool("enable.idempotence", "TRUE"), Ok(true));
/// assert!(kafka_client::config::parse_bool("enable.idempotence", "yes").is_err());
/// ```
pub fn parse_bool(key: &str, v: &str) -> Result<bool, ConfigError> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(ConfigError::new(key, format!("expected true or false, got {v:?}"))),
    }
}

/// An integer within `min..=max`.
///
/// ```
/// assert_eq!(kafka_client::config::parse_int("batch.size", "16384", 0, i64::MAX), Ok(16384));
/// assert!(kafka_client::config::parse_int("batch.size", "-1", 0, i64::MAX).is_err());
/// ```
pub fn parse_int(key: &str, v: &str, min: i64, max: i64) -> Result<i64, ConfigError> {
    let n: i64 = v.trim().parse().map_err(|_| ConfigError::new(key, format!("expected a number, got {v:?}")))?;
    if n < min || n > max {
        return Err(ConfigError::new(key, format!("{n} is outside [{min}, {max}]")));
    }
    Ok(n)
}

/// A duration given in milliseconds (non-negative).
///
/// ```
/// use std::time::Duration;
/// assert_eq!(kafka_client::config::parse_ms("linger.ms", "5"), Ok(Duration::from_millis(5)));
/// ```
pub fn parse_ms(key: &str, v: &str) -> Result<Duration, ConfigError> {
    parse_int(key, v, 0, i64::MAX).map(|n| Duration::from_millis(n as u64))
}

/// A comma-separated list, trimmed, empty entries dropped.
///
/// ```
/// assert_eq!(kafka_client::config::parse_list(" a:1, b:2 ,"), vec!["a:1", "b:2"]);
/// ```
pub fn parse_list(v: &str) -> Vec<String> {
    v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// Refuses settings the client does not implement yet, with a clear message
/// instead of silently ignoring them. Returns Ok(()) for anything else.
pub fn refuse_unsupported(key: &str, v: &str) -> Result<(), ConfigError> {
    if key == "security.protocol" {
        if v.trim().eq_ignore_ascii_case("PLAINTEXT") {
            return Ok(());
        }
        return Err(ConfigError::new(key, format!("{v} is not supported yet; only PLAINTEXT")));
    }
    if key.starts_with("sasl.") || key.starts_with("ssl.") {
        return Err(ConfigError::new(key, "SASL and TLS are not supported yet"));
    }
    Ok(())
}

/// Milliseconds of a duration, saturating.
pub(crate) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// What a client runs on, beside its settings: the clock its timers read
/// and how it opens connections. Set by the builders' `clock` and
/// `connector`; no Java equivalent.
#[derive(Debug, Clone, Default)]
pub(crate) struct Environment {
    pub(crate) clock: Option<crate::Clock>,
    pub(crate) connector: Option<crate::net::connector::ConnectorRef>,
}

/// The `clock` and `connector` setters of every client builder (each holds
/// an `env: Environment`).
macro_rules! environment_setters {
    () => {
        /// The clock the client's timers and default record timestamps read
        /// (default [`crate::Clock::system`]); a test on a paused runtime
        /// passes [`crate::Clock::starting_at`] for reproducible timestamps.
        /// No Java equivalent.
        pub fn clock(mut self, clock: crate::Clock) -> Self {
            self.env.clock = Some(clock);
            self
        }

        /// How the client opens connections to brokers (default: TCP), e.g.
        /// an in-memory pipe to an in-process broker. No Java equivalent.
        pub fn connector(mut self, connector: impl crate::Connector) -> Self {
            self.env.connector = Some(crate::net::connector::ConnectorRef(std::sync::Arc::new(connector)));
            self
        }
    };
}
pub(crate) use environment_setters;

impl Environment {
    /// The clock to use: the one given, else the system clock made now
    /// (inside the runtime the client runs on).
    pub(crate) fn clock(&self) -> crate::Clock {
        self.clock.unwrap_or_else(crate::Clock::system)
    }
}
