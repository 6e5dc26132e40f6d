//! The signals that stop the server.

/// Resolves on Ctrl-C or SIGTERM (what `docker stop` and systemd send).
///
/// The handlers are installed when this is called, not when the future is
/// first polled: a SIGTERM that comes right after start (a service
/// manager stopping what it just started) is a graceful stop, never the
/// default action's kill. Call it inside the runtime, before serving.
///
/// If a handler cannot be installed, that signal is logged and ignored rather
/// than stopping the server on the spot.
pub fn signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, Signal, SignalKind};
        let install = |kind: SignalKind, name: &'static str| -> Option<Signal> {
            signal(kind)
                .map_err(|error| tracing::error!(%error, "cannot listen for {name}"))
                .ok()
        };
        let interrupt = install(SignalKind::interrupt(), "Ctrl-C");
        let terminate = install(SignalKind::terminate(), "SIGTERM");
        async move {
            let received = |signal: Option<Signal>| async move {
                match signal {
                    Some(mut signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = received(interrupt) => {}
                () = received(terminate) => {}
            }
        }
    }
    #[cfg(not(unix))]
    async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
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
