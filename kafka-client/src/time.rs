//! The clock a client reads.
//!
//! Every timer of a client (linger, backoff, request and delivery timeouts,
//! heartbeats, session and poll intervals, auto-commit, metadata age) is
//! scheduled on the clock's monotonic milliseconds, which advance with
//! tokio's clock: under a paused runtime (`#[tokio::test(start_paused =
//! true)]`, `tokio::time::pause`) they stand still until the runtime
//! advances them, so a test that waits out a 45 s session timeout takes
//! milliseconds. They are expressed as wall-clock milliseconds as of the
//! clock's creation plus the time elapsed since, so they read like
//! timestamps but never jump when the system clock is stepped.
//!
//! Record timestamps (`CreateTime`) come from [`Clock::wall_ms`]: the
//! system clock for [`Clock::system`], the monotonic milliseconds for a
//! [`Clock::starting_at`] clock, whose runs are then reproducible.

use std::time::Duration;

/// A client's clock; see the module docs. Cheap to copy.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// use kafka_client::Clock;
/// use std::time::Duration;
///
/// let clock = Clock::starting_at(1_700_000_000_000);
/// tokio::time::sleep(Duration::from_secs(45)).await; // instant: time is paused
/// assert_eq!(clock.wall_ms(), 1_700_000_045_000);
/// # }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    base: tokio::time::Instant,
    base_ms: i64,
    system_wall: bool,
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

impl Clock {
    /// The default: timers on tokio's clock, record timestamps from the
    /// system clock.
    pub fn system() -> Clock {
        Clock { base: tokio::time::Instant::now(), base_ms: system_ms(), system_wall: true }
    }

    /// A clock whose wall time starts at `wall_ms` (milliseconds since the
    /// epoch) and advances only with tokio's clock: with a paused runtime
    /// and a seeded schedule, every timestamp of a run is reproducible.
    /// Create it inside the runtime whose clock it follows.
    pub fn starting_at(wall_ms: i64) -> Clock {
        Clock { base: tokio::time::Instant::now(), base_ms: wall_ms, system_wall: false }
    }

    /// Monotonic milliseconds (see the module docs): what every timer of
    /// the client is scheduled on.
    pub(crate) fn now_ms(&self) -> i64 {
        let elapsed = tokio::time::Instant::now().saturating_duration_since(self.base);
        self.base_ms.saturating_add(millis(elapsed))
    }

    /// Wall-clock milliseconds since the epoch, for record timestamps.
    pub fn wall_ms(&self) -> i64 {
        if self.system_wall { system_ms() } else { self.now_ms() }
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn system_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn timers_follow_tokios_clock_and_ignore_the_system_clock() {
        let clock = Clock::system();
        let t0 = clock.now_ms();
        tokio::time::sleep(Duration::from_secs(45)).await;
        assert_eq!(clock.now_ms() - t0, 45_000, "paused time advanced by the sleep alone");
        // The wall clock of a system clock is the system's, which did not
        // move 45 s meanwhile.
        assert!(clock.wall_ms() < clock.now_ms());
    }

    #[tokio::test(start_paused = true)]
    async fn a_clock_starting_at_a_time_is_reproducible() {
        let clock = Clock::starting_at(1_000);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!((clock.now_ms(), clock.wall_ms()), (2_500, 2_500));
    }
}
