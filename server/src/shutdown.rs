//! The signals that stop the server.

/// Resolves on Ctrl-C or SIGTERM (what `docker stop` and systemd send).
///
/// If a handler cannot be installed, that signal is logged and ignored rather
/// than stopping the server on the spot.
pub async fn signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

/// The handle of a background task or thread that stopping waits for;
/// whoever stops it first takes it.
pub struct Background<T>(std::sync::Mutex<Option<T>>);

impl<T> Background<T> {
    pub fn new(handle: T) -> Self {
        Self(std::sync::Mutex::new(Some(handle)))
    }

    /// The handle, the first time only.
    pub fn take(&self) -> Option<T> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }
}
