//! The chat reducer's tests: frames and actions in, state out, no browser.

use protocol::{ChatMessage, ErrorCode, ModAction, Posted};

use super::*;

fn posted(id: u64, user: &str, client_id: &str) -> Posted {
    Posted {
        message: ChatMessage {
            id,
            user: user.into(),
            msg: format!("message {id}"),
            date_time: 1_764_100_000_000,
            ..ChatMessage::default()
        },
        client_id: client_id.into(),
    }
}

fn frame(frame: ServerFrame) -> ChatAction {
    ChatAction::Frame { frame, now: 0.0 }
}

fn message(room: &str, id: u64, user: &str) -> ChatAction {
    frame(ServerFrame::Message {
        room: room.into(),
        posted: posted(id, user, &format!("c{id}")),
    })
}

fn history(room: &str, ids: &[u64], reset: bool, has_older: bool) -> ChatAction {
    frame(ServerFrame::History {
        room: room.into(),
        messages: ids.iter().map(|&id| posted(id, "bob", "x")).collect(),
        reset,
        has_older,
        seq: None,
        rules: protocol::ShownRules::default(),
        moderator: false,
    })
}

fn welcome(user: &str) -> ChatAction {
    frame(ServerFrame::Welcome {
        user: user.into(),
        claimed: false,
        admin: false,
        rooms: vec![],
        retain_days: None,
    })
}

fn outgoing(room: &str, client_id: &str, since: f64) -> Outgoing {
    Outgoing {
        room: room.into(),
        client_id: client_id.into(),
        reply_to: None,
        msg: format!("text of {client_id}"),
        since,
        status: OutgoingStatus::Pending,
    }
}

/// Alice, welcomed, in the lobby (the default room) and rust, looking
/// at the lobby.
fn in_two_rooms() -> Rc<Chat> {
    reduce(
        Chat::new(vec!["rust".into()], None, Vec::new(), Vec::new()),
        [
            ChatAction::Connecting { room: None },
            welcome("alice"),
            history("lobby", &[1, 2], true, false),
            history("rust", &[7], true, true),
        ],
    )
}

fn reduce(chat: Chat, actions: impl IntoIterator<Item = ChatAction>) -> Rc<Chat> {
    actions.into_iter().fold(Rc::new(chat), Reducible::reduce)
}

fn ids(chat: &Chat, room: &str) -> Vec<u64> {
    chat.room(room)
        .map(|room| room.messages.entries.iter().map(|e| e.message.id).collect())
        .unwrap_or_default()
}

#[test]
fn the_default_room_is_learned_from_the_first_history_and_opened() {
    let chat = in_two_rooms();
    assert!(chat.online());
    assert_eq!(chat.home.as_deref(), Some("lobby"));
    assert_eq!(chat.current.as_deref(), Some("lobby"));
    let names: Vec<&str> = chat.rooms.iter().map(|room| room.name.as_str()).collect();
    assert_eq!(names, ["lobby", "rust"]);
    assert_eq!(
        (ids(&chat, "lobby"), ids(&chat, "rust")),
        (vec![1, 2], vec![7])
    );
    assert!(chat
        .rooms
        .iter()
        .all(|room| room.joining == Joining::Joined));
}

#[test]
fn messages_go_to_their_room_and_count_as_unread_out_of_view() {
    let chat = in_two_rooms().reduce(message("rust", 8, "bob"));
    let chat = chat.reduce(message("rust", 9, "alice"));
    let chat = chat.reduce(message("lobby", 3, "bob"));
    assert_eq!(ids(&chat, "rust"), [7, 8, 9]);
    let rust = chat.room("rust").expect("rust");
    // Our own message is not unread; one in the room in view neither.
    assert_eq!(
        (rust.unread, chat.room("lobby").map(|r| r.unread)),
        (1, Some(0))
    );
    assert_eq!(chat.unread_total(), 1);
    // Opening rust: read, and the line marks where the unread began.
    let chat = chat.reduce(ChatAction::Open {
        room: Some("rust".into()),
    });
    let rust = chat.room("rust").expect("rust");
    assert_eq!((rust.unread, rust.new_since), (0, Some(8)));
    // Back to the lobby and to rust again: nothing new, no line.
    let chat = chat.reduce(ChatAction::Open { room: None });
    let chat = chat.reduce(ChatAction::Open {
        room: Some("rust".into()),
    });
    assert_eq!(chat.room("rust").and_then(|r| r.new_since), None);
}

fn mentioning(room: &str, id: u64, user: &str, names: &[&str]) -> ChatAction {
    let mut posted = posted(id, user, &format!("c{id}"));
    posted.message.mentions = names.iter().map(|name| (*name).to_owned()).collect();
    frame(ServerFrame::Message {
        room: room.into(),
        posted,
    })
}

fn alerted(chat: &Chat) -> Vec<(String, u64)> {
    chat.alerts
        .iter()
        .map(|alert| (alert.room.clone(), alert.id))
        .collect()
}

#[test]
fn mentions_count_apart_and_notify_as_each_room_s_level_says() {
    // Welcomed as "Alice": mentions are in lower case.
    let chat = in_two_rooms().reduce(welcome("Alice"));
    let chat = chat.reduce(mentioning("rust", 8, "bob", &["alice"]));
    let chat = chat.reduce(message("rust", 9, "bob"));
    let rust = chat.room("rust").expect("rust");
    assert_eq!((rust.unread, rust.mentions), (2, 1));
    // Mentions only, by default: one alert, for the mention.
    assert_eq!(alerted(&chat), [("rust".to_owned(), 8)]);
    let chat = chat.reduce(ChatAction::Alerted { count: 1 });
    assert!(chat.alerts.is_empty());
    // Every message, then nothing.
    let chat = chat.reduce(ChatAction::SetNotify {
        room: "rust".into(),
        level: Notify::All,
    });
    let chat = chat.reduce(message("rust", 10, "bob"));
    assert_eq!(alerted(&chat), [("rust".to_owned(), 10)]);
    let chat = chat.reduce(ChatAction::SetNotify {
        room: "rust".into(),
        level: Notify::Nothing,
    });
    let chat = chat.reduce(ChatAction::Alerted { count: 5 });
    let chat = chat.reduce(mentioning("rust", 11, "bob", &["alice"]));
    assert!(chat.alerts.is_empty());
    assert_eq!(chat.notify_level("rust"), Notify::Nothing);
    assert_eq!(chat.notify_level("lobby"), Notify::Mentions);
    // The room in view (the lobby) raises nothing, mention or not.
    let chat = chat.reduce(mentioning("lobby", 3, "bob", &["alice"]));
    assert!(chat.alerts.is_empty());
    // Opening rust reads its mentions too.
    let chat = chat.reduce(ChatAction::Open {
        room: Some("rust".into()),
    });
    let rust = chat.room("rust").expect("rust");
    assert_eq!((rust.unread, rust.mentions), (0, 0));
}

#[test]
fn a_visit_starts_from_the_frames_the_last_one_kept() {
    let mut chat = Chat::new(vec!["rust".into()], None, Vec::new(), Vec::new());
    let mut rust = posted(5, "alice", "c5");
    rust.message.msg = "mine".into();
    let frames = [
        ServerFrame::Welcome {
            user: "alice".into(),
            claimed: false,
            admin: false,
            rooms: vec![],
            retain_days: None,
        },
        ServerFrame::History {
            room: "rust".into(),
            messages: vec![posted(3, "bob", "c3")],
            reset: true,
            has_older: false,
            seq: Some(4),
            rules: protocol::ShownRules::default(),
            moderator: false,
        },
        ServerFrame::Message {
            room: "rust".into(),
            posted: rust,
        },
        // A lock after the history holds offline too.
        ServerFrame::Moderated {
            room: "rust".into(),
            seq: 6,
            action: ModAction::Lock,
            target: None,
            id: None,
            by: "mod".into(),
            until: None,
            reason: None,
            all_rooms: false,
            date_time: 0,
        },
        // A room no longer in the list stays out.
        ServerFrame::Deleted {
            room: "gone".into(),
            seq: 9,
            id: 1,
        },
    ];
    let mut kept = cache::FrameCache::default();
    for frame in &frames {
        kept.keep(&frame.to_json(), frame);
    }
    chat.restore(&kept);
    assert_eq!(ids(&chat, "rust"), [3, 5]);
    assert!(chat.room("gone").is_none());
    let rust = chat.room("rust").expect("rust");
    assert_eq!(rust.joining, Joining::Wanted, "joined again, after its seq");
    assert!(rust.rules.locked);
    assert_eq!(rust.messages.resume_after(), Some(6), "after the lock");
    assert_eq!((rust.unread, chat.alerts.len()), (0, 0));
    assert!(rust.messages.entries[1].own, "ours, by the name kept");
    assert!(!chat.online());
}

#[test]
fn the_room_in_view_counts_unread_while_the_page_is_hidden() {
    let chat = in_two_rooms().reduce(ChatAction::Visible(false));
    let chat = chat.reduce(message("lobby", 3, "bob"));
    assert_eq!(chat.unread_total(), 1);
    let chat = chat.reduce(ChatAction::Visible(true));
    let lobby = chat.room("lobby").expect("lobby");
    assert_eq!((lobby.unread, lobby.new_since), (0, Some(3)));
    // Escape marks it read: the line goes.
    let chat = chat.reduce(ChatAction::MarkRead);
    let lobby = chat.room("lobby").expect("lobby");
    assert_eq!((lobby.unread, lobby.new_since), (0, None));
}

#[test]
fn opening_a_new_room_adds_it_to_be_joined_and_leaving_removes_it() {
    let chat = in_two_rooms().reduce(ChatAction::Open {
        room: Some("闲聊".into()),
    });
    let new = chat.room("闲聊").expect("added");
    assert_eq!(new.joining, Joining::Wanted);
    let chat = chat.reduce(ChatAction::JoinSent {
        room: "闲聊".into(),
    });
    assert_eq!(chat.room("闲聊").map(|r| r.joining), Some(Joining::Sent));
    let chat = chat.reduce(ChatAction::Leave {
        room: "rust".into(),
    });
    assert!(chat.room("rust").is_none());
    // Frames still on their way for a room left are dropped.
    let chat = chat.reduce(message("rust", 10, "bob"));
    assert!(chat.room("rust").is_none());
}

#[test]
fn a_join_over_the_rate_limit_is_tried_again_after_the_wait() {
    let chat = in_two_rooms().reduce(ChatAction::Open {
        room: Some("go".into()),
    });
    let chat = chat.reduce(ChatAction::Frame {
        frame: ServerFrame::rate_limited(300, None).in_room("go"),
        now: 1_000.0,
    });
    assert_eq!(
        chat.room("go").map(|r| r.joining),
        Some(Joining::RetryAt(1_300.0))
    );
    let same = Rc::clone(&chat).reduce(ChatAction::Tick { now: 1_299.0 });
    assert!(Rc::ptr_eq(&chat, &same), "nothing to do yet");
    let chat = chat.reduce(ChatAction::Tick { now: 1_300.0 });
    assert_eq!(chat.room("go").map(|r| r.joining), Some(Joining::Wanted));
}

#[test]
fn a_room_the_server_refuses_leaves_the_list_with_a_notice() {
    let chat = in_two_rooms().reduce(ChatAction::Open {
        room: Some("many".into()),
    });
    let chat = chat.reduce(frame(
        ServerFrame::error(ErrorCode::TooManyRooms, "leave one first").in_room("many"),
    ));
    assert!(chat.room("many").is_none());
    assert_eq!(chat.notice.as_deref(), Some("leave one first"));
}

#[test]
fn history_resets_or_continues_per_room() {
    let chat = in_two_rooms().reduce(history("rust", &[8, 9], false, true));
    assert_eq!(ids(&chat, "rust"), [7, 8, 9]);
    let chat = chat.reduce(history("rust", &[20], true, false));
    assert_eq!(ids(&chat, "rust"), [20]);
    assert_eq!(ids(&chat, "lobby"), [1, 2]);
    let chat = chat.reduce(ChatAction::LoadingOlder {
        room: "lobby".into(),
    });
    assert!(chat.room("lobby").is_some_and(|r| r.messages.loading_older));
}

#[test]
fn the_echo_of_an_own_message_confirms_it_and_a_refusal_fails_it() {
    let chat = reduce(
        Chat::new(
            vec!["lobby".into()],
            Some("lobby".into()),
            Vec::new(),
            Vec::new(),
        ),
        [
            ChatAction::Post(outgoing("lobby", "a1", 0.0)),
            ChatAction::Post(outgoing("lobby", "a2", 0.0)),
            ChatAction::Post(outgoing("lobby", "a3", 0.0)),
            welcome("alice"),
            frame(ServerFrame::Message {
                room: "lobby".into(),
                posted: posted(1, "alice", "a1"),
            }),
            // Another user's message with the same client id confirms nothing.
            frame(ServerFrame::Message {
                room: "lobby".into(),
                posted: posted(2, "bob", "a2"),
            }),
            frame(ServerFrame::send_error(
                ErrorCode::StorageUnavailable,
                "disk full",
                "a3".into(),
            )),
        ],
    );
    let statuses: Vec<(&str, &OutgoingStatus)> = chat
        .outbox
        .iter()
        .map(|o| (o.client_id.as_str(), &o.status))
        .collect();
    let refused = OutgoingStatus::Refused {
        reason: "disk full".into(),
    };
    assert_eq!(
        statuses,
        [("a2", &OutgoingStatus::Pending), ("a3", &refused)]
    );
    // Confirmation through history after a reconnect works too.
    let chat = chat.reduce(frame(ServerFrame::History {
        room: "lobby".into(),
        messages: vec![posted(3, "alice", "a2")],
        reset: false,
        has_older: false,
        seq: None,
        rules: protocol::ShownRules::default(),
        moderator: false,
    }));
    let left: Vec<&str> = chat.outbox.iter().map(|o| o.client_id.as_str()).collect();
    assert_eq!(left, ["a3"]);
    let chat = chat.reduce(ChatAction::Discard {
        client_id: "a3".into(),
    });
    assert!(chat.outbox.is_empty());
}

#[test]
fn offline_every_room_is_joined_again_and_pending_messages_time_out() {
    let chat = in_two_rooms().reduce(ChatAction::Post(outgoing("rust", "r1", 0.0)));
    let chat = chat.reduce(ChatAction::Closed {
        retry_at: Some(5_800.0),
        now: 5_000.0,
    });
    assert_eq!(
        chat.connection,
        Connection::Offline {
            retry_at: Some(5_800.0)
        }
    );
    assert!(chat
        .rooms
        .iter()
        .all(|room| room.joining == Joining::Wanted));
    assert!(chat
        .rooms
        .iter()
        .all(|room| room.people.online_users.is_empty()));
    let chat = chat.reduce(ChatAction::Tick {
        now: outbox::PENDING_TIMEOUT_MS,
    });
    assert_eq!(chat.outbox[0].status, OutgoingStatus::TimedOut);
    assert!(chat.outbox[0].status.resend_on_connect());
}

#[test]
fn name_refusals_end_the_session_and_other_errors_are_notices() {
    let chat = reduce(
        Chat::new(Vec::new(), None, Vec::new(), Vec::new()),
        [frame(ServerFrame::error(ErrorCode::UsernameTaken, "taken"))],
    );
    assert_eq!(chat.refused.as_deref(), Some("taken"));
    let chat = in_two_rooms().reduce(frame(ServerFrame::error(
        ErrorCode::InvalidLimit,
        "bad page",
    )));
    assert_eq!(
        (chat.notice.as_deref(), chat.refused.as_deref()),
        (Some("bad page"), None)
    );
    let chat = chat.reduce(ChatAction::DismissNotice);
    assert_eq!(chat.notice, None);
}

#[test]
fn a_refusal_is_said_in_the_reader_s_language_from_its_code() {
    let refused = |chat: Rc<Chat>, code, message: &str| {
        chat.reduce(frame(ServerFrame::error(code, message).in_room("many")))
            .notice
            .clone()
    };
    crate::i18n::pick(crate::i18n::Lang::ZhCn);
    let notice = refused(in_two_rooms(), ErrorCode::TooManyRooms, "leave one first");
    crate::i18n::pick(crate::i18n::Lang::En);
    assert_eq!(
        notice.as_deref(),
        Some("你加入的聊天室已达上限:请先退出一个。")
    );
    // In English the server's own words, the most precise.
    let notice = refused(in_two_rooms(), ErrorCode::TooManyRooms, "leave one first");
    assert_eq!(notice.as_deref(), Some("leave one first"));
    // A code this page does not know (a newer server's): its English, in
    // any language.
    crate::i18n::pick(crate::i18n::Lang::ZhCn);
    let notice = refused(
        in_two_rooms(),
        ErrorCode::Unknown,
        "Something new went wrong.",
    );
    crate::i18n::pick(crate::i18n::Lang::En);
    assert_eq!(notice.as_deref(), Some("Something new went wrong."));
}

#[test]
fn typing_is_per_room_and_a_message_ends_it() {
    let chat = in_two_rooms().reduce(ChatAction::Frame {
        frame: ServerFrame::Typing {
            room: "rust".into(),
            user: "bob".into(),
        },
        now: 1_000.0,
    });
    let typing = |chat: &Chat, room: &str| {
        chat.room(room)
            .map(|r| r.people.typing_users(Some("alice")).len())
            .unwrap_or_default()
    };
    assert_eq!((typing(&chat, "rust"), typing(&chat, "lobby")), (1, 0));
    let chat = chat.reduce(message("rust", 8, "bob"));
    assert_eq!(typing(&chat, "rust"), 0);
}

fn moderated(action: ModAction, target: Option<&str>, seq: u64) -> ChatAction {
    frame(ServerFrame::Moderated {
        room: "lobby".into(),
        seq,
        action,
        target: target.map(str::to_owned),
        id: None,
        by: "mod".into(),
        until: None,
        reason: Some("be kind".into()),
        all_rooms: false,
        date_time: 0,
    })
}

#[test]
fn a_moderator_s_actions_are_notices_and_a_lock_is_the_room_s_state() {
    let chat = in_two_rooms();
    let chat = reduce(
        Rc::unwrap_or_clone(chat),
        [
            moderated(ModAction::Lock, None, 10),
            moderated(ModAction::Mute, Some("bob"), 11),
            moderated(ModAction::Mute, Some("alice"), 12),
            moderated(ModAction::Kick, Some("bob"), 13),
        ],
    );
    let lobby = chat.room("lobby").expect("the lobby");
    assert!(lobby.rules.locked);
    assert_eq!(lobby.messages.seq, 13, "resumes after the newest event");
    let notices: Vec<(ModAction, Option<&str>)> = lobby
        .people
        .notices
        .iter()
        .filter_map(|n| match &n.what {
            people::Notice::Moderated { action, target, .. } => Some((*action, target.as_deref())),
            people::Notice::People { .. } => None,
        })
        .collect();
    // bob's mute is his own business.
    assert_eq!(
        notices,
        [
            (ModAction::Lock, None),
            (ModAction::Mute, Some("alice")),
            (ModAction::Kick, Some("bob")),
        ]
    );
    assert!(!chat.room("rust").expect("rust").rules.locked);
    let chat = chat.reduce(moderated(ModAction::Unlock, None, 14));
    assert!(!chat.room("lobby").expect("the lobby").rules.locked);
}

#[test]
fn a_claimed_name_s_rooms_follow_it_from_the_server() {
    // This browser had lobby (on screen), rust, and go with a message
    // still to send; the name joined 闲聊 elsewhere and left rust.
    let mut chat = Chat::new(
        vec!["lobby".into(), "rust".into(), "go".into()],
        None,
        vec![outgoing("go", "c-1", 1.0)],
        Vec::new(),
    );
    chat.current = Some("lobby".into());
    let chat = Rc::new(chat).reduce(frame(ServerFrame::Welcome {
        user: "alice".into(),
        claimed: true,
        admin: false,
        rooms: vec!["闲聊".into(), "lobby".into()],
        retain_days: None,
    }));
    let names: Vec<&str> = chat.rooms.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["lobby", "go", "闲聊"]);
    // At `/` (nothing on screen yet), the default room's history opens
    // it, listed already or not.
    let mut at_home = Rc::unwrap_or_clone(chat);
    at_home.current = None;
    let chat = Rc::new(at_home).reduce(frame(ServerFrame::History {
        room: "闲聊".into(),
        messages: vec![],
        reset: true,
        has_older: false,
        seq: None,
        rules: protocol::ShownRules::default(),
        moderator: false,
    }));
    assert_eq!(chat.current.as_deref(), Some("闲聊"));
    assert_eq!(chat.rooms.len(), 3, "not listed twice");
    // A guest's welcome names none: its list stays its own.
    let chat = chat.reduce(welcome("alice"));
    assert_eq!(chat.rooms.len(), 3);
}

#[test]
fn a_room_opened_offline_outlives_the_next_welcome() {
    let mut chat = Chat::new(vec!["lobby".into()], None, Vec::new(), Vec::new());
    chat.current = Some("lobby".into());
    // Offline: "new" is opened, then the lobby again.
    let chat = reduce(
        chat,
        [
            ChatAction::Open {
                room: Some("new".into()),
            },
            ChatAction::Open {
                room: Some("lobby".into()),
            },
        ],
    );
    let back = |chat: Rc<Chat>| {
        chat.reduce(frame(ServerFrame::Welcome {
            user: "alice".into(),
            claimed: true,
            admin: false,
            rooms: vec!["lobby".into()],
            retain_days: None,
        }))
    };
    let chat = back(chat);
    let new = chat.room("new").expect("still listed");
    assert_eq!(new.joining, Joining::Wanted, "to be joined");
    // Once joined, the server's list is the truth: left elsewhere, gone.
    let chat = chat.reduce(frame(ServerFrame::History {
        room: "new".into(),
        messages: vec![],
        reset: true,
        has_older: false,
        seq: None,
        rules: protocol::ShownRules::default(),
        moderator: false,
    }));
    let chat = back(chat);
    assert!(chat.room("new").is_none(), "left on another device");
}

#[test]
fn our_mute_is_the_room_s_state_until_lifted_or_over() {
    let muted = |chat: &Chat| chat.room("lobby").and_then(|room| room.muted.clone());
    let chat = in_two_rooms().reduce(moderated(ModAction::Mute, Some("bob"), 10));
    assert_eq!(muted(&chat), None, "another's");
    let chat = chat.reduce(moderated(ModAction::Mute, Some("alice"), 11));
    let mute = muted(&chat).expect("ours");
    assert_eq!((mute.until, mute.by.as_deref()), (None, Some("mod")));
    assert!(mute.holds(f64::MAX), "for good");
    let chat = chat.reduce(moderated(ModAction::Unmute, Some("alice"), 12));
    assert_eq!(muted(&chat), None);
    // Muted before a reload: the refused message tells the page.
    let chat = chat.reduce(frame(ServerFrame::Error {
        code: ErrorCode::Muted,
        message: "muted".into(),
        client_id: Some("c-1".into()),
        retry_after_ms: Some(60_000),
        room: Some("lobby".into()),
    }));
    let mute = muted(&chat).expect("heard again");
    let until = mute.until.expect("timed");
    assert!(mute.holds(until - 1.0) && !mute.holds(until));
}
