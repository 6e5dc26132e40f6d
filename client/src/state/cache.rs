//! Each joined room's recent frames, as the server sent them, kept in
//! localStorage: the next visit starts from them, so the page opens with
//! its history even without the network, and then resumes after it.
//!
//! The frames are kept as text and read back with the same parser as live
//! ones (`ServerFrame::parse`): keeping a room costs the client no encoder
//! of its own. A room keeps its last `history` and what came after it, at
//! most [`MAX_FRAMES`]: past that the oldest go, and what is left is still
//! an unbroken run of the room's newest events.

use protocol::ServerFrame;

/// Most frames kept per room.
pub const MAX_FRAMES: usize = 300;

/// What begins a room's part of the stored text; a frame is one line (JSON
/// text has no raw newline).
const ROOM_MARK: char = '\u{1}';

#[derive(Debug, Default, Clone, PartialEq)]
pub struct FrameCache {
    /// The name the server bound, as its last `welcome` said.
    pub me: Option<String>,
    rooms: Vec<(String, Vec<String>)>,
}

impl FrameCache {
    /// Keeps `text`, the frame `frame` was read from, if it is part of a
    /// room's history.
    pub fn keep(&mut self, text: &str, frame: &ServerFrame) {
        let room = match frame {
            ServerFrame::Welcome { user, .. } => {
                self.me = Some(user.clone());
                return;
            }
            ServerFrame::History { room, reset, .. } => {
                if *reset {
                    self.frames(room).clear();
                }
                room
            }
            // A moderator's action too: a lock made after the history
            // holds in an offline start.
            ServerFrame::Message { room, .. }
            | ServerFrame::Edited { room, .. }
            | ServerFrame::Deleted { room, .. }
            | ServerFrame::Reaction { room, .. }
            | ServerFrame::Moderated { room, .. } => room,
            ServerFrame::Older { .. }
            | ServerFrame::Online { .. }
            | ServerFrame::Presence { .. }
            | ServerFrame::Typing { .. }
            | ServerFrame::Pong
            | ServerFrame::Results { .. }
            | ServerFrame::Error { .. } => return,
        };
        let frames = self.frames(room);
        // Shifting at most 300 pointers now and then: cheaper for the
        // client than a second kind of queue.
        if frames.len() == MAX_FRAMES {
            frames.remove(0);
        }
        frames.push(text.to_owned());
    }

    /// Forgets `room` (left).
    pub fn forget(&mut self, room: &str) {
        self.rooms.retain(|(name, _)| name != room);
    }

    /// Each room's frames, oldest first, as received.
    pub fn rooms(&self) -> &[(String, Vec<String>)] {
        &self.rooms
    }

    /// The cache as one text: `me`, then each room's name after a mark and
    /// its frames, a line each.
    pub fn to_text(&self) -> String {
        let mut text = self.me.clone().unwrap_or_default();
        for (room, frames) in &self.rooms {
            text.push('\n');
            text.push(ROOM_MARK);
            text.push_str(room);
            for frame in frames {
                text.push('\n');
                text.push_str(frame);
            }
        }
        text
    }

    pub fn from_text(text: &str) -> Self {
        let mut lines = text.split('\n');
        let me = lines.next().filter(|me| !me.is_empty()).map(str::to_owned);
        let mut cache = Self {
            me,
            rooms: Vec::new(),
        };
        for line in lines {
            match line.strip_prefix(ROOM_MARK) {
                Some(room) => cache.rooms.push((room.to_owned(), Vec::new())),
                None => {
                    if let Some((_, frames)) = cache.rooms.last_mut() {
                        frames.push(line.to_owned());
                    }
                }
            }
        }
        cache
    }

    fn frames(&mut self, room: &str) -> &mut Vec<String> {
        let at = match self.rooms.iter().position(|(name, _)| name == room) {
            Some(at) => at,
            None => {
                self.rooms.push((room.to_owned(), Vec::new()));
                self.rooms.len() - 1
            }
        };
        &mut self.rooms[at].1
    }
}

fn key(user: &str) -> String {
    format!("chat.cache.{user}")
}

/// What `user`'s last visit kept.
pub fn load(user: &str) -> FrameCache {
    gloo::utils::window()
        .local_storage()
        .ok()
        .flatten()
        .and_then(|storage| storage.get_item(&key(user)).ok().flatten())
        .map(|text| FrameCache::from_text(&text))
        .unwrap_or_default()
}

pub fn save(user: &str, cache: &FrameCache) {
    let stored = gloo::utils::window()
        .local_storage()
        .ok()
        .flatten()
        .map(|storage| storage.set_item(&key(user), &cache.to_text()));
    if !matches!(stored, Some(Ok(()))) {
        gloo::console::warn!("cannot keep the rooms' history in this browser");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(text: &str) -> ServerFrame {
        ServerFrame::parse(text).expect("a frame")
    }

    #[test]
    fn a_room_keeps_its_last_history_and_what_followed_as_text() {
        let mut cache = FrameCache::default();
        let texts = [
            r#"{"type":"welcome","user":"amy"}"#,
            r#"{"type":"history","room":"lobby","messages":[],"reset":true,"hasOlder":false,"seq":0}"#,
            r#"{"type":"message","room":"lobby","id":1,"user":"bob","msg":"a\nb","dateTime":1,"clientId":"c"}"#,
            r#"{"type":"online","room":"lobby","users":[],"count":0}"#,
            r#"{"type":"reaction","room":"rust","seq":3,"id":2,"emoji":"👍","user":"bob","on":true}"#,
        ];
        for text in texts {
            cache.keep(text, &frame(text));
        }
        let back = FrameCache::from_text(&cache.to_text());
        assert_eq!(back, cache, "read back as written");
        assert_eq!(back.me.as_deref(), Some("amy"));
        let rooms = back.rooms();
        assert_eq!(rooms.len(), 2);
        assert_eq!(rooms[0].1.len(), 2, "history and message; not online");
        // A reset history starts the room over.
        let reset = texts[1];
        cache.keep(reset, &frame(reset));
        assert_eq!(cache.rooms()[0].1.len(), 1);
        cache.forget("lobby");
        assert_eq!(cache.rooms().len(), 1);
    }

    #[test]
    fn a_room_keeps_at_most_its_newest_frames() {
        let mut cache = FrameCache::default();
        for id in 1..=(MAX_FRAMES as u64 + 10) {
            let text = format!(r#"{{"type":"deleted","room":"lobby","seq":{id},"id":{id}}}"#);
            cache.keep(&text, &frame(&text));
        }
        let rooms = cache.rooms();
        assert_eq!(rooms[0].1.len(), MAX_FRAMES);
        assert!(matches!(
            frame(&rooms[0].1[0]),
            ServerFrame::Deleted { seq: 11, .. }
        ));
    }
}
