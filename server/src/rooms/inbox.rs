//! Where the rooms of a connection in several rooms queue what they
//! broadcast for it.
//!
//! A connection in one room reads that room's fan-out (a
//! `tokio::sync::broadcast`) directly. In several, it would need a receiver
//! of each fan-out and a wake-up in each room, and every room's fan-out
//! would keep slots for it: about 75 bytes a room. Instead each room it is
//! in pushes its broadcasts here, under the room's lock (so a room's
//! frames stay in order), and the connection takes them out. An idle
//! connection's inbox is empty and holds no buffer; a room costs it one
//! pointer in the room and one in the connection.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Bytes;

use super::room::Broadcast;

/// Which room a queued frame came from: the room's address, compared only,
/// so that leaving (or joining again) can take back what the room queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RoomKey(usize);

impl RoomKey {
    pub(crate) fn of<T>(room: &T) -> Self {
        Self(std::ptr::from_ref(room) as usize)
    }
}

/// The broadcasts of a connection's rooms, waiting to be written.
#[derive(Debug)]
pub(crate) struct Inbox {
    queue: Mutex<Queue>,
    /// Woken on every push.
    notify: Notify,
    /// Most frames queued before the connection counts as fallen behind.
    capacity: usize,
}

#[derive(Debug, Default)]
struct Queue {
    frames: VecDeque<(RoomKey, Bytes)>,
    /// A room's clock ticked since the last take (one tick is enough).
    ticked: bool,
    shutting_down: bool,
    /// Frames dropped because the queue was full.
    missed: u64,
}

/// What one [`Inbox::take`] found besides frames.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Took {
    pub ticked: bool,
    /// The server is shutting down, and every frame queued before the
    /// notice has been taken.
    pub shutting_down: bool,
    /// Frames the connection missed by not reading fast enough, if any.
    pub missed: Option<u64>,
    /// Frames are left: the batch was full.
    pub more: bool,
}

impl Inbox {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            queue: Mutex::new(Queue::default()),
            notify: Notify::new(),
            capacity: capacity.max(1),
        }
    }

    /// Waits for a push since the last wait (a push while nobody waits is
    /// not lost).
    pub(crate) async fn pushed(&self) {
        self.notify.notified().await;
    }

    /// Appends to `batch` the queued frames (oldest first) while it holds
    /// fewer than `max_bytes`. When frames are left, the next
    /// [`Inbox::pushed`] returns at once.
    pub(crate) fn take(&self, batch: &mut Vec<u8>, max_bytes: usize) -> Took {
        let mut queue = self.lock();
        let mut took = Took {
            ticked: std::mem::take(&mut queue.ticked),
            missed: (queue.missed > 0).then_some(queue.missed),
            ..Took::default()
        };
        while batch.len() < max_bytes {
            match queue.frames.pop_front() {
                Some((_, frame)) => batch.extend_from_slice(&frame),
                None => break,
            }
        }
        took.more = !queue.frames.is_empty();
        if took.more {
            self.notify.notify_one();
        }
        took.shutting_down = queue.shutting_down && !took.more;
        if queue.frames.is_empty() {
            // An idle connection keeps no buffer from a busy moment.
            queue.frames = VecDeque::new();
        }
        took
    }

    /// Queues a room's broadcast (called under the room's lock).
    pub(crate) fn push(&self, room: RoomKey, broadcast: &Broadcast) {
        {
            let mut queue = self.lock();
            match broadcast {
                Broadcast::Frame(frame) => {
                    if queue.frames.len() >= self.capacity {
                        queue.missed += 1;
                    } else {
                        queue.frames.push_back((room, frame.clone()));
                    }
                }
                Broadcast::Tick => queue.ticked = true,
                Broadcast::ShuttingDown => queue.shutting_down = true,
                // Only for the fan-out's own receivers.
                Broadcast::Moved(_) => return,
            }
        }
        self.notify.notify_one();
    }

    /// Takes back what `room` queued: the connection left it, or joined it
    /// again and starts over from a new `history` (called under the room's
    /// lock, so nothing of the room's comes in meanwhile).
    pub(crate) fn forget(&self, room: RoomKey) {
        self.lock().frames.retain(|(from, _)| *from != room);
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        // Every change is a single step: a poisoned lock is consistent.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOBBY: RoomKey = RoomKey(1);
    const RUST: RoomKey = RoomKey(2);

    fn frame(text: &str) -> Broadcast {
        Broadcast::Frame(Bytes::copy_from_slice(text.as_bytes()))
    }

    #[test]
    fn takes_frames_in_order_up_to_the_batch_size_and_says_more_are_left() {
        let inbox = Inbox::new(10);
        for text in ["a", "b", "c"] {
            inbox.push(LOBBY, &frame(text));
        }
        let mut batch = Vec::new();
        let took = inbox.take(&mut batch, 2);
        assert_eq!((batch.as_slice(), took.more), (&b"ab"[..], true));
        let took = inbox.take(&mut batch, 100);
        assert_eq!((batch.as_slice(), took.more), (&b"abc"[..], false));
    }

    #[test]
    fn a_full_inbox_counts_what_it_missed() {
        let inbox = Inbox::new(2);
        for text in ["a", "b", "c", "d"] {
            inbox.push(LOBBY, &frame(text));
        }
        let took = inbox.take(&mut Vec::new(), 100);
        assert_eq!(took.missed, Some(2));
    }

    #[test]
    fn forgetting_a_room_keeps_the_others_frames() {
        let inbox = Inbox::new(10);
        inbox.push(LOBBY, &frame("a"));
        inbox.push(RUST, &frame("b"));
        inbox.push(LOBBY, &frame("c"));
        inbox.forget(LOBBY);
        let mut batch = Vec::new();
        inbox.take(&mut batch, 100);
        assert_eq!(batch, b"b");
    }

    #[test]
    fn shutting_down_is_reported_once_the_frames_before_it_are_taken() {
        let inbox = Inbox::new(10);
        inbox.push(LOBBY, &frame("ab"));
        inbox.push(RUST, &Broadcast::Tick);
        inbox.push(RUST, &frame("c"));
        inbox.push(LOBBY, &Broadcast::ShuttingDown);
        let mut batch = Vec::new();
        let took = inbox.take(&mut batch, 1);
        assert!(took.ticked && took.more && !took.shutting_down);
        let took = inbox.take(&mut batch, 100);
        assert!(took.shutting_down && !took.more && !took.ticked);
        assert_eq!(batch, b"abc");
    }
}
