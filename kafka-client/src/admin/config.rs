//! The admin client's settings: a typed builder and Java-style properties,
//! validated once in [`AdminBuilder::config`] (which `build` calls).
//!
//! Names, defaults and rules are those of Java's `AdminClientConfig`
//! (Kafka 4.0). As in Java, `default.api.timeout.ms` may not be below
//! `request.timeout.ms` when both are set; when only the request timeout is
//! raised above it, the API timeout follows it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::Admin;
use crate::config::{parse_list, parse_ms, refuse_unsupported};
use crate::error::{ConfigError, Error};

static CLIENT_IDS: AtomicU64 = AtomicU64::new(1);

/// Validated admin client settings; see [`AdminBuilder`] for each one.
///
/// ```
/// use kafka_client::admin::Admin;
///
/// let cfg = Admin::builder().bootstrap_servers("h:9092").config().unwrap();
/// assert_eq!(cfg.default_api_timeout(), std::time::Duration::from_secs(60));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminConfig {
    pub(crate) bootstrap_servers: Vec<String>,
    pub(crate) client_id: String,
    pub(crate) request_timeout: Duration,
    pub(crate) default_api_timeout: Duration,
    pub(crate) retry_backoff: Duration,
    pub(crate) retry_backoff_max: Duration,
    pub(crate) reconnect_backoff: Duration,
    pub(crate) reconnect_backoff_max: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) metadata_max_age: Duration,
}

impl AdminConfig {
    /// `bootstrap.servers`, as `host:port` entries.
    ///
    /// ```
    /// let cfg = kafka_client::admin::Admin::builder().bootstrap_servers("a:1, b:2").config().unwrap();
    /// assert_eq!(cfg.bootstrap_servers(), ["a:1", "b:2"]);
    /// ```
    pub fn bootstrap_servers(&self) -> &[String] {
        &self.bootstrap_servers
    }

    /// `client.id`; `adminclient-N` when none was given.
    ///
    /// ```
    /// let cfg = kafka_client::admin::Admin::builder().bootstrap_servers("h:1").client_id("ops").config().unwrap();
    /// assert_eq!(cfg.client_id(), "ops");
    /// ```
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// `request.timeout.ms`: how long one request may wait for its answer.
    ///
    /// ```
    /// let cfg = kafka_client::admin::Admin::builder().bootstrap_servers("h:1").config().unwrap();
    /// assert_eq!(cfg.request_timeout(), std::time::Duration::from_secs(30));
    /// ```
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }

    /// `default.api.timeout.ms`: how long one admin call may take, retries
    /// included.
    ///
    /// ```
    /// let cfg = kafka_client::admin::Admin::builder().bootstrap_servers("h:1").config().unwrap();
    /// assert_eq!(cfg.default_api_timeout(), std::time::Duration::from_secs(60));
    /// ```
    pub fn default_api_timeout(&self) -> Duration {
        self.default_api_timeout
    }

    /// `retry.backoff.ms` and `retry.backoff.max.ms`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let cfg = kafka_client::admin::Admin::builder().bootstrap_servers("h:1").config().unwrap();
    /// assert_eq!(cfg.retry_backoff(), (Duration::from_millis(100), Duration::from_secs(1)));
    /// ```
    pub fn retry_backoff(&self) -> (Duration, Duration) {
        (self.retry_backoff, self.retry_backoff_max)
    }

    /// `reconnect.backoff.ms` and `reconnect.backoff.max.ms`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let cfg = kafka_client::admin::Admin::builder().bootstrap_servers("h:1").config().unwrap();
    /// assert_eq!(cfg.reconnect_backoff(), (Duration::from_millis(50), Duration::from_secs(1)));
    /// ```
    pub fn reconnect_backoff(&self) -> (Duration, Duration) {
        (self.reconnect_backoff, self.reconnect_backoff_max)
    }

    /// `socket.connection.setup.timeout.ms`.
    ///
    /// ```
    /// let cfg = kafka_client::admin::Admin::builder().bootstrap_servers("h:1").config().unwrap();
    /// assert_eq!(cfg.connect_timeout(), std::time::Duration::from_secs(10));
    /// ```
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// `metadata.max.age.ms`.
    ///
    /// ```
    /// let cfg = kafka_client::admin::Admin::builder().bootstrap_servers("h:1").config().unwrap();
    /// assert_eq!(cfg.metadata_max_age(), std::time::Duration::from_secs(300));
    /// ```
    pub fn metadata_max_age(&self) -> Duration {
        self.metadata_max_age
    }
}

/// Builds an [`Admin`]; every setting names its Java config and default.
///
/// ```no_run
/// # async fn demo() -> kafka_client::Result<()> {
/// use std::time::Duration;
/// use kafka_client::admin::Admin;
///
/// let admin = Admin::builder()
///     .bootstrap_servers("127.0.0.1:9092")
///     .client_id("ops-tool")
///     .default_api_timeout(Duration::from_secs(20))
///     .build()?;
/// # let _ = admin; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct AdminBuilder {
    bootstrap: Vec<String>,
    client_id: String,
    request_timeout: Duration,
    default_api_timeout: Option<Duration>,
    retry_backoff: Duration,
    retry_backoff_max: Duration,
    reconnect_backoff: Duration,
    reconnect_backoff_max: Duration,
    connect_timeout: Duration,
    metadata_max_age: Duration,
    env: crate::config::Environment,
    error: Option<ConfigError>,
}

impl Default for AdminBuilder {
    fn default() -> Self {
        AdminBuilder {
            bootstrap: Vec::new(),
            client_id: String::new(),
            request_timeout: Duration::from_secs(30),
            default_api_timeout: None,
            retry_backoff: Duration::from_millis(100),
            retry_backoff_max: Duration::from_secs(1),
            reconnect_backoff: Duration::from_millis(50),
            reconnect_backoff_max: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(10),
            metadata_max_age: Duration::from_secs(300),
            env: crate::config::Environment::default(),
            error: None,
        }
    }
}

impl AdminBuilder {
    /// A builder with Java's defaults.
    ///
    /// ```
    /// let b = kafka_client::admin::AdminBuilder::new();
    /// assert_eq!(b.config().unwrap_err().field, "bootstrap.servers");
    /// ```
    pub fn new() -> Self {
        AdminBuilder::default()
    }

    crate::config::environment_setters!();

    /// `bootstrap.servers`: comma-separated `host:port` list (required).
    ///
    /// ```
    /// let cfg = kafka_client::admin::AdminBuilder::new().bootstrap_servers("a:9092,b:9092").config().unwrap();
    /// assert_eq!(cfg.bootstrap_servers().len(), 2);
    /// ```
    pub fn bootstrap_servers(mut self, servers: impl AsRef<str>) -> Self {
        self.bootstrap = parse_list(servers.as_ref());
        self
    }

    /// `client.id` (default: `adminclient-N`).
    ///
    /// ```
    /// let cfg = kafka_client::admin::AdminBuilder::new().bootstrap_servers("h:1").client_id("ops").config().unwrap();
    /// assert_eq!(cfg.client_id(), "ops");
    /// ```
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.client_id = id.into();
        self
    }

    /// `request.timeout.ms` (default 30 s).
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = kafka_client::admin::AdminBuilder::new().bootstrap_servers("h:1");
    /// let cfg = b.request_timeout(Duration::from_secs(5)).config().unwrap();
    /// assert_eq!(cfg.request_timeout(), Duration::from_secs(5));
    /// ```
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.request_timeout = d;
        self
    }

    /// `default.api.timeout.ms`: the time limit of each admin call, retries
    /// included (default 60 s; never below `request.timeout.ms`).
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = kafka_client::admin::AdminBuilder::new().bootstrap_servers("h:1");
    /// let cfg = b.default_api_timeout(Duration::from_secs(40)).config().unwrap();
    /// assert_eq!(cfg.default_api_timeout(), Duration::from_secs(40));
    /// ```
    pub fn default_api_timeout(mut self, d: Duration) -> Self {
        self.default_api_timeout = Some(d);
        self
    }

    /// `retry.backoff.ms` (default 100 ms), doubling per attempt up to
    /// `retry.backoff.max.ms` (default 1 s).
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = kafka_client::admin::AdminBuilder::new().bootstrap_servers("h:1");
    /// let cfg = b.retry_backoff(Duration::from_millis(20), Duration::from_millis(500)).config().unwrap();
    /// assert_eq!(cfg.retry_backoff(), (Duration::from_millis(20), Duration::from_millis(500)));
    /// ```
    pub fn retry_backoff(mut self, base: Duration, max: Duration) -> Self {
        self.retry_backoff = base;
        self.retry_backoff_max = max;
        self
    }

    /// `reconnect.backoff.ms` and `reconnect.backoff.max.ms` (50 ms, 1 s).
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = kafka_client::admin::AdminBuilder::new().bootstrap_servers("h:1");
    /// let cfg = b.reconnect_backoff(Duration::from_millis(10), Duration::from_secs(2)).config().unwrap();
    /// assert_eq!(cfg.reconnect_backoff(), (Duration::from_millis(10), Duration::from_secs(2)));
    /// ```
    pub fn reconnect_backoff(mut self, base: Duration, max: Duration) -> Self {
        self.reconnect_backoff = base;
        self.reconnect_backoff_max = max;
        self
    }

    /// `socket.connection.setup.timeout.ms` (default 10 s).
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = kafka_client::admin::AdminBuilder::new().bootstrap_servers("h:1");
    /// assert_eq!(b.connect_timeout(Duration::from_secs(3)).config().unwrap().connect_timeout(), Duration::from_secs(3));
    /// ```
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }

    /// `metadata.max.age.ms` (default 5 min): how old the broker list and
    /// controller may get before they are fetched again.
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = kafka_client::admin::AdminBuilder::new().bootstrap_servers("h:1");
    /// assert_eq!(b.metadata_max_age(Duration::from_secs(9)).config().unwrap().metadata_max_age(), Duration::from_secs(9));
    /// ```
    pub fn metadata_max_age(mut self, d: Duration) -> Self {
        self.metadata_max_age = d;
        self
    }

    /// Sets one setting by its Java name. Unknown names are an error at
    /// [`config`](Self::config), as are settings not supported yet
    /// (`security.protocol` other than PLAINTEXT, `sasl.*`, `ssl.*`). The
    /// first error is the one reported.
    ///
    /// ```
    /// let e = kafka_client::admin::AdminBuilder::new()
    ///     .bootstrap_servers("h:1")
    ///     .set("ssl.truststore.location", "/etc/ts.jks")
    ///     .config()
    ///     .unwrap_err();
    /// assert_eq!(e.field, "ssl.truststore.location");
    /// ```
    pub fn set(mut self, key: &str, value: &str) -> Self {
        if self.error.is_none()
            && let Err(e) = self.apply(key, value)
        {
            self.error = Some(e);
        }
        self
    }

    /// A builder from Java-style properties.
    ///
    /// ```
    /// use kafka_client::admin::AdminBuilder;
    ///
    /// let cfg = AdminBuilder::from_properties([
    ///     ("bootstrap.servers", "h:9092"),
    ///     ("client.id", "ops"),
    ///     ("request.timeout.ms", "5000"),
    /// ])
    /// .config()
    /// .unwrap();
    /// assert_eq!(cfg.request_timeout(), std::time::Duration::from_secs(5));
    /// assert!(AdminBuilder::from_properties([("bootstrap.servers", "h:1"), ("acks", "all")]).config().is_err());
    /// ```
    pub fn from_properties<'a>(props: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        props.into_iter().fold(AdminBuilder::default(), |b, (k, v)| b.set(k, v))
    }

    fn apply(&mut self, key: &str, v: &str) -> Result<(), ConfigError> {
        refuse_unsupported(key, v)?;
        match key {
            "bootstrap.servers" => self.bootstrap = parse_list(v),
            "client.id" => self.client_id = v.trim().to_string(),
            "request.timeout.ms" => self.request_timeout = parse_ms(key, v)?,
            "default.api.timeout.ms" => self.default_api_timeout = Some(parse_ms(key, v)?),
            "retry.backoff.ms" => self.retry_backoff = parse_ms(key, v)?,
            "retry.backoff.max.ms" => self.retry_backoff_max = parse_ms(key, v)?,
            "reconnect.backoff.ms" => self.reconnect_backoff = parse_ms(key, v)?,
            "reconnect.backoff.max.ms" => self.reconnect_backoff_max = parse_ms(key, v)?,
            "socket.connection.setup.timeout.ms" => self.connect_timeout = parse_ms(key, v)?,
            "metadata.max.age.ms" => self.metadata_max_age = parse_ms(key, v)?,
            // Accepted by refuse_unsupported only when PLAINTEXT.
            "security.protocol" => {}
            other => return Err(ConfigError::new(other, "unknown admin client setting")),
        }
        Ok(())
    }

    /// Validates the settings and returns them (what [`build`](Self::build)
    /// uses).
    ///
    /// ```
    /// use std::time::Duration;
    /// use kafka_client::admin::AdminBuilder;
    ///
    /// let b = AdminBuilder::new().bootstrap_servers("h:1").request_timeout(Duration::from_secs(90));
    /// // Left at its default, the API timeout grows to the request timeout...
    /// assert_eq!(b.clone().config().unwrap().default_api_timeout(), Duration::from_secs(90));
    /// // ...while a smaller explicit one is refused.
    /// let e = b.default_api_timeout(Duration::from_secs(60)).config().unwrap_err();
    /// assert_eq!(e.field, "default.api.timeout.ms");
    /// ```
    pub fn config(&self) -> Result<AdminConfig, ConfigError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        if self.bootstrap.is_empty() {
            return Err(ConfigError::new("bootstrap.servers", "at least one host:port is required"));
        }
        if let Some(bad) = self
            .bootstrap
            .iter()
            .find(|s| s.rsplit_once(':').is_none_or(|(h, p)| h.is_empty() || p.parse::<u16>().is_err()))
        {
            return Err(ConfigError::new("bootstrap.servers", format!("{bad:?} is not host:port")));
        }
        let default_api_timeout = match self.default_api_timeout {
            Some(d) if d < self.request_timeout => {
                return Err(ConfigError::new(
                    "default.api.timeout.ms",
                    format!("must be no smaller than request.timeout.ms ({} ms)", self.request_timeout.as_millis()),
                ));
            }
            Some(d) => d,
            None => Duration::from_secs(60).max(self.request_timeout),
        };
        let client_id = if self.client_id.is_empty() {
            format!("adminclient-{}", CLIENT_IDS.fetch_add(1, Ordering::Relaxed))
        } else {
            self.client_id.clone()
        };
        Ok(AdminConfig {
            bootstrap_servers: self.bootstrap.clone(),
            client_id,
            request_timeout: self.request_timeout,
            default_api_timeout,
            retry_backoff: self.retry_backoff,
            retry_backoff_max: self.retry_backoff_max.max(self.retry_backoff),
            reconnect_backoff: self.reconnect_backoff,
            reconnect_backoff_max: self.reconnect_backoff_max.max(self.reconnect_backoff),
            connect_timeout: self.connect_timeout,
            metadata_max_age: self.metadata_max_age,
        })
    }

    /// Validates the settings and creates the client. Nothing is connected
    /// until the first call. Needs a tokio runtime.
    ///
    /// ```no_run
    /// # async fn demo() -> kafka_client::Result<()> {
    /// let admin = kafka_client::admin::AdminBuilder::new().bootstrap_servers("127.0.0.1:9092").build()?;
    /// # let _ = admin; Ok(()) }
    /// ```
    pub fn build(self) -> Result<Admin, Error> {
        let cfg = self.config()?;
        Admin::start(cfg, self.env)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(extra: &[(&str, &str)]) -> Result<AdminConfig, ConfigError> {
        let mut all = vec![("bootstrap.servers", "h:9092")];
        all.extend_from_slice(extra);
        AdminBuilder::from_properties(all).config()
    }

    #[test]
    fn java_defaults() {
        let c = props(&[]).unwrap();
        assert_eq!(c.request_timeout, Duration::from_secs(30));
        assert_eq!(c.default_api_timeout, Duration::from_secs(60));
        assert_eq!((c.retry_backoff, c.retry_backoff_max), (Duration::from_millis(100), Duration::from_secs(1)));
        assert_eq!(c.reconnect_backoff, Duration::from_millis(50));
        assert_eq!(c.connect_timeout, Duration::from_secs(10));
        assert_eq!(c.metadata_max_age, Duration::from_secs(300));
        assert!(c.client_id.starts_with("adminclient-"));
    }

    #[test]
    fn refusals_name_the_field() {
        let field = |k: &str, v: &str| props(&[(k, v)]).unwrap_err().field;
        assert_eq!(field("linger.ms", "5"), "linger.ms");
        assert_eq!(field("security.protocol", "SSL"), "security.protocol");
        assert_eq!(field("sasl.mechanism", "PLAIN"), "sasl.mechanism");
        assert_eq!(field("ssl.keystore.location", "/k"), "ssl.keystore.location");
        assert_eq!(field("request.timeout.ms", "-1"), "request.timeout.ms");
        assert_eq!(field("bootstrap.servers", "nohost"), "bootstrap.servers");
        assert_eq!(field("default.api.timeout.ms", "1000"), "default.api.timeout.ms");
        assert!(props(&[("security.protocol", "plaintext")]).is_ok());
        let c = props(&[("request.timeout.ms", "1000"), ("default.api.timeout.ms", "1000")]).unwrap();
        assert_eq!(c.default_api_timeout, Duration::from_secs(1));
    }
}
