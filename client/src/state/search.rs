//! The search panel: what the user asked, what came back, a page at a
//! time. The server answers `search` frames in the order they were sent,
//! so the answer to the newest question is the one that counts; a page
//! for a question since replaced is dropped.

use std::rc::Rc;

use protocol::Hit;

/// A question: the query as typed, and the room it is about (`None`:
/// every room this browser has joined).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asked {
    pub q: String,
    pub room: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Search {
    /// The question on screen; `None`: the panel is closed.
    pub asked: Option<Asked>,
    /// What it found so far, newest first.
    pub hits: Rc<Vec<Hit>>,
    /// The cursor of the page after `hits`, if there may be more.
    pub next: Option<u64>,
    /// Pages asked for and not answered yet (of this question or of
    /// earlier ones: their answers are dropped while newer are awaited).
    pub waiting: u32,
    /// Answers to drop before one for `asked` arrives.
    stale: u32,
    /// Why the server would not answer (a bad query, too many searches).
    pub error: Option<String>,
}

impl Search {
    /// A new question: asked of the server at once.
    pub fn ask(&mut self, asked: Asked) {
        self.stale = self.waiting;
        self.waiting += 1;
        self.asked = Some(asked);
        self.hits = Rc::default();
        self.next = None;
        self.error = None;
    }

    /// The page after `hits`, if there is one and none is on its way:
    /// the cursor to ask with.
    pub fn more(&mut self) -> Option<u64> {
        let next = self.next.filter(|_| self.waiting == 0)?;
        self.waiting += 1;
        Some(next)
    }

    /// Whether an answer is awaited for the question on screen.
    pub fn searching(&self) -> bool {
        self.waiting > self.stale
    }

    /// A `results` frame.
    pub fn results(&mut self, hits: Vec<Hit>, next: Option<u64>) {
        if self.answered() {
            Rc::make_mut(&mut self.hits).extend(hits);
            self.next = next;
        }
    }

    /// A refusal of a search (`invalid_query`, or a search over the rate):
    /// the reason, shown in the panel. Whether the refusal was a search's
    /// is for the caller to know: `searching()` says one is awaited.
    pub fn refused(&mut self, reason: String) {
        if self.answered() {
            self.error = Some(reason);
        }
    }

    /// The connection dropped: what was asked is not answered on the
    /// next one (the user asks again; the hits stay).
    pub fn dropped(&mut self) {
        self.waiting = 0;
        self.stale = 0;
    }

    /// Closes the panel; answers still on their way are dropped.
    pub fn close(&mut self) {
        *self = Self {
            waiting: self.waiting,
            stale: self.waiting,
            ..Self::default()
        };
    }

    /// One answer arrived: whether it is for the question on screen.
    fn answered(&mut self) -> bool {
        self.waiting = self.waiting.saturating_sub(1);
        if self.stale > 0 {
            self.stale -= 1;
            return false;
        }
        self.asked.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(id: u64) -> Hit {
        Hit {
            room: "lobby".into(),
            id,
            user: "alice".into(),
            date_time: 1,
            msg: format!("hello {id}"),
            marks: vec![[0, 5]],
        }
    }

    fn asked(q: &str) -> Asked {
        Asked {
            q: q.into(),
            room: None,
        }
    }

    #[test]
    fn pages_add_up_in_order_and_more_waits_for_the_last() {
        let mut search = Search::default();
        search.ask(asked("hello"));
        assert!(search.searching());
        assert_eq!(search.more(), None, "no cursor before the first page");
        search.results(vec![hit(9), hit(8)], Some(8));
        assert!(!search.searching());
        assert_eq!(search.more(), Some(8));
        assert_eq!(search.more(), None, "one page at a time");
        search.results(vec![hit(7)], None);
        let ids: Vec<u64> = search.hits.iter().map(|hit| hit.id).collect();
        assert_eq!(ids, [9, 8, 7]);
        assert_eq!(search.more(), None, "the last page has no cursor");
    }

    #[test]
    fn an_answer_to_a_replaced_question_is_dropped() {
        let mut search = Search::default();
        search.ask(asked("hel"));
        search.ask(asked("hello"));
        search.results(vec![hit(1)], Some(1));
        assert!(search.hits.is_empty(), "hel's answer");
        assert!(search.searching());
        search.results(vec![hit(2)], None);
        assert_eq!(search.hits.len(), 1);
        assert_eq!(search.hits[0].id, 2);
        assert!(!search.searching());
    }

    #[test]
    fn a_refusal_is_shown_and_a_new_question_clears_it() {
        let mut search = Search::default();
        search.ask(asked("\"open"));
        search.refused("A quote is not closed.".into());
        assert_eq!(search.error.as_deref(), Some("A quote is not closed."));
        assert!(!search.searching());
        search.ask(asked("open"));
        assert_eq!(search.error, None);
    }

    #[test]
    fn a_closed_panel_takes_no_late_answer() {
        let mut search = Search::default();
        search.ask(asked("hello"));
        search.close();
        search.ask(asked("world"));
        search.results(vec![hit(1)], None);
        assert!(search.hits.is_empty(), "hello's answer");
        search.results(vec![hit(2)], None);
        assert_eq!(search.hits.len(), 1);
        search.close();
        search.results(vec![hit(3)], None);
        assert_eq!(search.asked, None);
        assert!(search.hits.is_empty());
    }

    #[test]
    fn a_dropped_connection_forgets_what_was_awaited() {
        let mut search = Search::default();
        search.ask(asked("hello"));
        search.results(vec![hit(3)], Some(3));
        assert_eq!(search.more(), Some(3));
        search.dropped();
        assert!(!search.searching());
        assert_eq!(search.more(), Some(3), "asked again on the new connection");
    }
}
