//! A connection's socket after the greeting: one writer, one reader, one
//! task.
//!
//! The connection writes bytes, not messages: a broadcast arrives as a
//! complete frame, encoded once by the room (see `wire`), and the same
//! bytes go to every recipient. tungstenite only reads: it checks and
//! decodes the client's frames, and the frames it makes itself (pongs, the
//! reply to a close, pings, the goodbye) are queued behind what is being
//! written, so that no frame ever lands inside another.
//!
//! Reading and writing are driven from the connection's one task, by
//! polling, so the socket needs no split (a lock and a shared allocation)
//! and tungstenite no waker proxies: an idle connection is one task and
//! this, with no buffer beyond tungstenite's small read buffer.

use std::future::Future;
use std::io::{self, Read, Write};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, Wake, Waker};
use std::time::Duration;

use futures::task::AtomicWaker;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;
use tokio_tungstenite::tungstenite::protocol::{
    CloseFrame, Role, WebSocketConfig, WebSocketContext,
};
use tokio_tungstenite::tungstenite::{Bytes, Error as WsError, Message};

use crate::upgrade::Io;

/// Why the socket can no longer be used as it was.
#[derive(Debug)]
pub(crate) enum TransportError {
    /// A write did not finish within the send timeout.
    TooSlow,
    /// The socket failed, the client broke the protocol, or it closed.
    Ws(WsError),
}

impl From<io::Error> for TransportError {
    fn from(error: io::Error) -> Self {
        Self::Ws(WsError::Io(error))
    }
}

pub(crate) struct Transport {
    io: Io,
    /// Tells whether the socket may have something to read: a connection
    /// is woken for many reasons, mostly broadcasts, and trying a read on
    /// each of them would cost every delivery a trip through tungstenite
    /// and the socket's layers.
    readable: Arc<Readable>,
    /// `readable` as the waker the socket wakes when it can be read.
    read_waker: Waker,
    /// tungstenite's state: the read buffer, a frame half read, the close
    /// handshake.
    protocol: WebSocketContext,
    out: Outgoing,
}

impl Transport {
    /// Takes over a socket on which nothing has been read yet.
    pub(crate) fn new(io: Io, config: WebSocketConfig) -> Self {
        let readable = Arc::new(Readable {
            ready: AtomicBool::new(true),
            task: AtomicWaker::new(),
        });
        Self {
            read_waker: Waker::from(Arc::clone(&readable)),
            readable,
            io,
            protocol: WebSocketContext::new(Role::Server, Some(config)),
            out: Outgoing::default(),
        }
    }

    /// Whether bytes are waiting to be written.
    pub(crate) fn is_writing(&self) -> bool {
        !self.out.is_empty()
    }

    /// How many bytes wait behind the ones being written.
    pub(crate) fn queued_bytes(&self) -> usize {
        self.out.queued.len()
    }

    /// Queues encoded frames: written as they are (shared, not copied) when
    /// nothing else is waiting.
    pub(crate) fn push(&mut self, frames: Bytes) {
        self.out.push(frames);
    }

    /// Queues a ping.
    pub(crate) fn ping(&mut self) {
        let mut io = ProtocolIo::writing(&mut self.out.queued);
        // Writing into memory cannot fail; once the close handshake began,
        // tungstenite refuses, and no ping is due then.
        let _ = self.protocol.write(&mut io, Message::Ping(Bytes::new()));
        let _ = self.protocol.flush(&mut io);
    }

    /// Queues the close frame that starts the closing handshake. Nothing
    /// may be queued after it.
    pub(crate) fn close(&mut self, frame: CloseFrame) {
        let mut io = ProtocolIo::writing(&mut self.out.queued);
        // Writing into memory cannot fail.
        let _ = self.protocol.close(&mut io, Some(frame));
    }

    /// Writes what is queued and, if `read`, reads the client's next frame.
    ///
    /// Ready with a frame when one arrives; with `None` when everything
    /// queued is written and `read` is false (the caller has something else
    /// to wait for).
    pub(crate) fn poll(
        &mut self,
        cx: &mut TaskContext<'_>,
        read: bool,
        send_timeout: Duration,
    ) -> Poll<Result<Option<Message>, TransportError>> {
        loop {
            let was_writing = !self.out.is_empty();
            if was_writing {
                match self.out.poll_write(&mut self.io, cx, send_timeout) {
                    Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                    Poll::Ready(Ok(())) if !read => return Poll::Ready(Ok(None)),
                    Poll::Ready(Ok(())) | Poll::Pending => {}
                }
            }
            if !read {
                return Poll::Pending;
            }
            self.readable.task.register(cx.waker());
            if !self.readable.ready.swap(false, Ordering::AcqRel) {
                return Poll::Pending;
            }
            let mut read_cx = TaskContext::from_waker(&self.read_waker);
            let mut io = ProtocolIo {
                source: Some((&mut self.io, &mut read_cx)),
                out: &mut self.out.queued,
            };
            match self.protocol.read(&mut io) {
                Ok(message) => {
                    // More may be buffered, here or in the socket.
                    self.readable.ready.store(true, Ordering::Release);
                    return Poll::Ready(Ok(Some(message)));
                }
                Err(WsError::Io(error)) if error.kind() == io::ErrorKind::WouldBlock => {
                    // tungstenite queued a reply (a pong) while reading:
                    // start writing it now.
                    if !was_writing && !self.out.is_empty() {
                        continue;
                    }
                    return Poll::Pending;
                }
                Err(error) => return Poll::Ready(Err(TransportError::Ws(error))),
            }
        }
    }
}

/// Whether the socket may have something to read (false from a read that
/// found it empty until its read waker fires), and the connection's task,
/// to wake then.
struct Readable {
    ready: AtomicBool,
    task: AtomicWaker,
}

impl Wake for Readable {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.ready.store(true, Ordering::Release);
        self.task.wake();
    }
}

/// Bytes on their way to the client.
#[derive(Default)]
struct Outgoing {
    /// Being written, advanced as it goes: a broadcast frame shared with
    /// every other recipient, or a batch.
    writing: Bytes,
    /// Waiting behind it, copied: answers, pings, tungstenite's frames.
    queued: Vec<u8>,
    /// When the write under way times out. Armed only when a write cannot
    /// finish at once, which is rare: an idle connection carries no timer.
    deadline: Option<Pin<Box<Sleep>>>,
}

impl Outgoing {
    fn is_empty(&self) -> bool {
        self.writing.is_empty() && self.queued.is_empty()
    }

    fn push(&mut self, frames: Bytes) {
        if self.is_empty() {
            self.writing = frames;
        } else {
            self.queued.extend_from_slice(&frames);
        }
    }

    fn poll_write(
        &mut self,
        io: &mut Io,
        cx: &mut TaskContext<'_>,
        send_timeout: Duration,
    ) -> Poll<Result<(), TransportError>> {
        loop {
            if self.writing.is_empty() {
                if self.queued.is_empty() {
                    break;
                }
                self.writing = Bytes::from(std::mem::take(&mut self.queued));
            }
            match Pin::new(&mut *io).poll_write(cx, &self.writing) {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(io::Error::from(io::ErrorKind::WriteZero).into()))
                }
                Poll::Ready(Ok(written)) => self.writing = self.writing.slice(written..),
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error.into())),
                Poll::Pending => {
                    let deadline = self
                        .deadline
                        .get_or_insert_with(|| Box::pin(tokio::time::sleep(send_timeout)));
                    return match deadline.as_mut().poll(cx) {
                        Poll::Ready(()) => Poll::Ready(Err(TransportError::TooSlow)),
                        Poll::Pending => Poll::Pending,
                    };
                }
            }
        }
        // An empty slice of a shared frame still holds the whole frame.
        self.writing = Bytes::new();
        self.deadline = None;
        Pin::new(io).poll_flush(cx).map_err(Into::into)
    }
}

/// The socket as tungstenite sees it: reads come from the socket, with
/// `WouldBlock` for "not yet" (the task is woken when there is more, or,
/// without a task context, always); writes go to the end of the
/// connection's queue, which only the connection writes to the socket.
struct ProtocolIo<'a, 'b> {
    /// The socket and the context to read it in; `None` to write alone.
    source: Option<(&'a mut Io, &'a mut TaskContext<'b>)>,
    out: &'a mut Vec<u8>,
}

impl<'a> ProtocolIo<'a, '_> {
    /// For writing alone: reads find nothing.
    fn writing(out: &'a mut Vec<u8>) -> Self {
        Self { source: None, out }
    }
}

impl Read for ProtocolIo<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some((io, cx)) = &mut self.source else {
            return Err(io::ErrorKind::WouldBlock.into());
        };
        let mut buf = ReadBuf::new(buf);
        match Pin::new(&mut **io).poll_read(cx, &mut buf) {
            Poll::Ready(Ok(())) => Ok(buf.filled().len()),
            Poll::Ready(Err(error)) => Err(error),
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

impl Write for ProtocolIo<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
