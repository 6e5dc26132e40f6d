//! Accepting TCP connections under the caps, and serving HTTP/1.1 on each.
//!
//! The server's own accept loop rather than `warp::serve`, for what an open
//! server needs and warp does not let one set: connections are counted (in
//! total and per address) at accept, before a byte is read, so half-sent
//! requests cannot pile up until the process runs out of file descriptors;
//! every connection has a deadline for its request headers, which is also
//! how long an idle keep-alive connection stays open; and HTTP/2 is not
//! spoken in the clear (h2c), which no browser uses.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_service::Service;
use warp::reply::Response;

use crate::limits::{Admission, Refusal, Ticket};
use crate::proxy::TrustedProxies;

/// Where a request came from (the client's address, behind a trusted
/// proxy; see `proxy.rs`), put in its extensions for the routes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Peer(pub(crate) SocketAddr);

/// How long accepting pauses after an error such as running out of file
/// descriptors: retrying at once would spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);
/// How long a refused connection may take to read its 503.
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(1);
/// Refused connections being answered at once; further ones are closed
/// without an answer, so that refusing costs a bounded number of file
/// descriptors (counted in the server's reserve).
pub(crate) const REFUSALS_IN_FLIGHT: usize = 16;

/// Serves `routes` on `listener` until `shutdown` resolves, then lets the
/// HTTP connections under way finish (WebSockets are not among them: they
/// end through the room).
pub(crate) async fn serve<S>(
    listener: TcpListener,
    routes: S,
    admission: Arc<Admission>,
    proxies: Arc<TrustedProxies>,
    header_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) where
    S: Service<Request<Incoming>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let stopping = CancellationToken::new();
    let connections = TaskTracker::new();
    let refusals = Arc::new(Semaphore::new(REFUSALS_IN_FLIGHT));
    let mut shutdown = pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    on_accept_error(&error).await;
                    continue;
                }
            },
        };
        let proxied = proxies.trusts(peer.ip());
        let admitted = if proxied {
            admission.admit_proxied()
        } else {
            admission.admit(peer.ip())
        };
        let ticket = match admitted {
            Ok(ticket) => ticket,
            Err(refusal) => {
                tracing::debug!(%peer, %refusal, "refused a connection");
                if let Ok(permit) = Arc::clone(&refusals).try_acquire_owned() {
                    tokio::spawn(async move {
                        refuse(stream, refusal).await;
                        drop(permit);
                    });
                }
                continue;
            }
        };
        let io = TokioIo::new(Admitted {
            stream,
            _ticket: ticket,
        });
        let routes = routes.clone();
        let proxies = Arc::clone(&proxies);
        let service = service_fn(move |mut request: Request<Incoming>| {
            let client = if proxied {
                proxies.client(peer, request.headers())
            } else {
                peer
            };
            request.extensions_mut().insert(Peer(client));
            routes.clone().call(request)
        });
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .serve_connection(io, service)
            .with_upgrades();
        let stopping = stopping.clone();
        connections.spawn(async move {
            let mut connection = pin!(connection);
            let ended = tokio::select! {
                ended = &mut connection => ended,
                () = stopping.cancelled() => {
                    // Finishes the request under way, then closes.
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(error) = ended {
                tracing::debug!(%peer, %error, "http connection ended");
            }
        });
    }
    drop(listener);
    stopping.cancel();
    connections.close();
    connections.wait().await;
}

/// Errors of one connection that came up through `accept` are that
/// connection's; anything else (no file descriptors left, no memory) is the
/// server's, logged, and waited out.
async fn on_accept_error(error: &io::Error) {
    if matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(%error, "cannot accept connections; pausing");
    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
}

/// Answers a connection over the caps with `503` without reading its
/// request, and closes it.
async fn refuse(mut stream: TcpStream, refusal: Refusal) {
    let body = format!("{refusal}\n");
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(REFUSAL_TIMEOUT, async {
        stream.write_all(response.as_bytes()).await?;
        stream.shutdown().await
    })
    .await;
}

/// An accepted connection with its place under the caps: the place is
/// freed when the connection is, also after it became a WebSocket (hyper
/// hands the same object over on upgrade).
struct Admitted {
    stream: TcpStream,
    _ticket: Ticket,
}

impl AsyncRead for Admitted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Admitted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
