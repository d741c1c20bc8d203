//! Stopping on Ctrl-C or SIGTERM the way Kafka's tools do in their
//! shutdown hooks: finish cleanly (flush the producer, close the consumer,
//! print the totals) instead of dying mid-write.

use std::process::ExitCode;

/// Which signal asked the tool to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM.
    Terminate,
}

impl Stop {
    /// The status a shell reports for a process ended by this signal
    /// (128 + its number), which is also what the JVM exits with.
    pub fn exit_code(self) -> ExitCode {
        match self {
            Stop::Interrupt => ExitCode::from(130),
            Stop::Terminate => ExitCode::from(143),
        }
    }
}

/// Resolves when SIGINT or SIGTERM arrives. Install it before the work
/// starts (create the future early and keep it): signals that arrive before
/// the handlers exist would kill the process without the clean-up.
pub fn shutdown_signal() -> impl Future<Output = Stop> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let int = signal(SignalKind::interrupt()).ok();
        let term = signal(SignalKind::terminate()).ok();
        async move {
            let int = async {
                match int {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            let term = async {
                match term {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = int => Stop::Interrupt,
                () = term => Stop::Terminate,
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            match tokio::signal::ctrl_c().await {
                Ok(()) => Stop::Interrupt,
                Err(_) => std::future::pending().await,
            }
        }
    }
}
