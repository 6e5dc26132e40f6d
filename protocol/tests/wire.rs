//! The wire format, pinned: a renamed field or tag must break these tests.

use proptest::prelude::*;
use protocol::{
    apply_reaction, Block, ChatMessage, ClientFrame, ClientFrameKind, ErrorCode, FrameError, Hit,
    Inline, MessageError, ModAction, Posted, Reactions, ReplyQuote, RoomError, ServerFrame,
    ServerFrameKind, ShownRules, CLIENT_ID_MAX_CHARS, MESSAGE_MAX_CHARS, REACTION_NAMES_MAX,
};

fn posted_value() -> Posted {
    Posted {
        message: ChatMessage {
            id: 1,
            user: "alice".into(),
            msg: "hi".into(),
            date_time: 1_764_100_000_000,
            ..ChatMessage::default()
        },
        client_id: "c-1".into(),
    }
}

fn posted() -> ServerFrame {
    ServerFrame::Message {
        room: "lobby".into(),
        posted: posted_value(),
    }
}

#[test]
fn golden_client_frames() {
    let cases = [
        (
            ClientFrame::Send {
                client_id: "c-1".into(),
                msg: "hi".into(),
                room: None,
                reply_to: None,
            },
            r#"{"type":"send","clientId":"c-1","msg":"hi"}"#,
        ),
        (
            ClientFrame::Send {
                client_id: "c-1".into(),
                msg: "hi".into(),
                room: Some("rust".into()),
                reply_to: None,
            },
            r#"{"type":"send","clientId":"c-1","msg":"hi","room":"rust"}"#,
        ),
        (
            ClientFrame::Join {
                room: "rust".into(),
                after: Some(41),
            },
            r#"{"type":"join","room":"rust","after":41}"#,
        ),
        (
            ClientFrame::Join {
                room: "闲聊".into(),
                after: None,
            },
            r#"{"type":"join","room":"闲聊"}"#,
        ),
        (
            ClientFrame::Send {
                client_id: "c-2".into(),
                msg: "yes".into(),
                room: Some("r".into()),
                reply_to: Some(12),
            },
            r#"{"type":"send","clientId":"c-2","msg":"yes","room":"r","replyTo":12}"#,
        ),
        (
            ClientFrame::Edit {
                room: Some("r".into()),
                id: 12,
                msg: "new text".into(),
            },
            r#"{"type":"edit","room":"r","id":12,"msg":"new text"}"#,
        ),
        (
            ClientFrame::Delete { room: None, id: 12 },
            r#"{"type":"delete","id":12}"#,
        ),
        (
            ClientFrame::React {
                room: Some("r".into()),
                id: 12,
                emoji: "👍".into(),
                on: true,
            },
            r#"{"type":"react","room":"r","id":12,"emoji":"👍","on":true}"#,
        ),
        (
            ClientFrame::Leave {
                room: "rust".into(),
            },
            r#"{"type":"leave","room":"rust"}"#,
        ),
        (
            ClientFrame::Typing {
                room: Some("rust".into()),
            },
            r#"{"type":"typing","room":"rust"}"#,
        ),
    ];
    for (frame, json) in cases {
        assert_eq!(frame.to_json(), json);
        assert_eq!(ClientFrame::parse(json), Ok(frame));
    }
}

#[test]
fn every_client_frame_kind_is_a_known_type() {
    for kind in ClientFrameKind::ALL {
        let json = format!(r#"{{"type":"{}"}}"#, kind.as_str());
        // Known: refused for its fields, if at all, never as unknown.
        if let Err(error) = ClientFrame::parse(&json) {
            assert_eq!(error.code(), ErrorCode::InvalidFields, "{json}: {error}");
        }
    }
}

#[test]
fn a_room_that_breaks_the_rule_is_refused_naming_it() {
    for (json, room) in [
        (r#"{"type":"join","room":"a b"}"#, "a b"),
        (r#"{"type":"leave","room":""}"#, ""),
        (
            r##"{"type":"send","clientId":"c","msg":"hi","room":"#lobby"}"##,
            "#lobby",
        ),
        (r#"{"type":"typing","room":"a\u200bb"}"#, "a\u{200b}b"),
    ] {
        let error = ClientFrame::parse(json).expect_err(json);
        assert_eq!(error.code(), ErrorCode::InvalidRoom, "{json}");
        let ServerFrame::Error {
            room: named,
            message,
            ..
        } = error.to_frame()
        else {
            unreachable!()
        };
        assert_eq!(named.as_deref(), Some(room));
        assert!(message.contains("letters, digits"), "{message}");
    }
    let error = ClientFrame::parse(r#"{"type":"join","room":"a b"}"#).expect_err("a space");
    assert_eq!(
        error.to_frame().to_json(),
        format!(
            r#"{{"type":"error","code":"invalid_room","message":"{}","room":"a b"}}"#,
            RoomError::ForbiddenCharacter
        )
    );
}

#[test]
fn golden_load_older() {
    let frame = ClientFrame::LoadOlder {
        before: 101,
        limit: 50,
        room: None,
    };
    let json = r#"{"type":"loadOlder","before":101,"limit":50}"#;
    assert_eq!(frame.to_json(), json);
    assert_eq!(ClientFrame::parse(json), Ok(frame));
}

#[test]
fn golden_presence_and_liveness_frames() {
    let client = [
        (ClientFrame::Typing { room: None }, r#"{"type":"typing"}"#),
        (ClientFrame::Ping, r#"{"type":"ping"}"#),
    ];
    for (frame, json) in client {
        assert_eq!(frame.to_json(), json);
        assert_eq!(ClientFrame::parse(json), Ok(frame));
    }
    let server = [
        (
            ServerFrame::Online {
                room: "lobby".into(),
                users: vec!["alice".into(), "bob".into()],
                members: Vec::new(),
                count: 2,
            },
            r#"{"type":"online","room":"lobby","users":["alice","bob"],"count":2}"#,
        ),
        (
            ServerFrame::Online {
                room: "lobby".into(),
                users: vec!["alice".into(), "bob".into()],
                members: vec!["alice".into()],
                count: 2,
            },
            r#"{"type":"online","room":"lobby","users":["alice","bob"],"members":["alice"],"count":2}"#,
        ),
        (
            ServerFrame::Presence {
                room: "lobby".into(),
                joined: vec!["carol".into()],
                left: vec!["bob".into()],
                members: Vec::new(),
                count: 2,
            },
            r#"{"type":"presence","room":"lobby","joined":["carol"],"left":["bob"],"count":2}"#,
        ),
        (
            ServerFrame::Presence {
                room: "lobby".into(),
                joined: vec!["carol".into()],
                left: Vec::new(),
                members: vec!["carol".into()],
                count: 3,
            },
            r#"{"type":"presence","room":"lobby","joined":["carol"],"left":[],"members":["carol"],"count":3}"#,
        ),
        (
            ServerFrame::Typing {
                room: "lobby".into(),
                user: "alice".into(),
            },
            r#"{"type":"typing","room":"lobby","user":"alice"}"#,
        ),
        (ServerFrame::Pong, r#"{"type":"pong"}"#),
        (
            ServerFrame::rate_limited(200, Some("c-1".into())),
            r#"{"type":"error","code":"rate_limited","message":"Too many messages: wait 200 ms before sending again.","clientId":"c-1","retryAfterMs":200}"#,
        ),
    ];
    for (frame, json) in server {
        assert_eq!(frame.to_json(), json);
        assert_eq!(ServerFrame::parse(json).expect(json), frame);
    }
}

#[test]
fn golden_search_frames() {
    let client = [
        (
            ClientFrame::Search {
                q: "世界 from:alice".into(),
                room: None,
                before: None,
            },
            r#"{"type":"search","q":"世界 from:alice"}"#,
        ),
        (
            ClientFrame::Search {
                q: "deplo*".into(),
                room: Some("rust".into()),
                before: Some(41),
            },
            r#"{"type":"search","q":"deplo*","room":"rust","before":41}"#,
        ),
    ];
    for (frame, json) in client {
        assert_eq!(frame.to_json(), json);
        assert_eq!(ClientFrame::parse(json), Ok(frame));
    }
    let results = ServerFrame::Results {
        hits: vec![Hit {
            room: "lobby".into(),
            id: 3,
            user: "alice".into(),
            date_time: 1_764_100_000_000,
            msg: "你好世界".into(),
            marks: vec![[2, 4]],
        }],
        next: Some(17),
    };
    let json = r#"{"type":"results","hits":[{"room":"lobby","id":3,"user":"alice","dateTime":1764100000000,"msg":"你好世界","marks":[[2,4]]}],"next":17}"#;
    assert_eq!(results.to_json(), json);
    assert_eq!(ServerFrame::parse(json).expect(json), results);
    let empty = r#"{"type":"results","hits":[]}"#;
    assert_eq!(
        ServerFrame::parse(empty).expect(empty),
        ServerFrame::Results {
            hits: Vec::new(),
            next: None
        }
    );
    // A query that cannot be read is refused with the reason.
    let refused = ClientFrame::parse(r#"{"type":"search","q":"\"open"}"#).expect_err("unbalanced");
    assert_eq!(refused.code(), ErrorCode::InvalidQuery);
    assert!(refused.to_string().contains("quote"), "{refused}");
    let bad_mark = r#"{"type":"results","hits":[{"room":"r","id":1,"user":"a","dateTime":1,"msg":"m","marks":[[4,2]]}]}"#;
    assert!(
        ServerFrame::parse(bad_mark).is_err(),
        "a mark ends after it starts"
    );
}

#[test]
fn a_refused_send_names_its_client_id() {
    let err = ClientFrame::parse(r#"{"type":"send","clientId":"c-9","msg":" "}"#)
        .expect_err("empty message");
    assert_eq!(
        err.to_frame().to_json(),
        r#"{"type":"error","code":"empty_message","message":"A message cannot be empty.","clientId":"c-9"}"#
    );
    let err = ClientFrame::parse("nope").expect_err("not JSON");
    assert_eq!(err.client_id(), None);
}

/// Ids past what a log can hold are about no message: refused as
/// `not_found` here, before any log sees them (an id of 2^63 once failed
/// SQLite's whole batch, other people's posts with it).
#[test]
fn message_ids_past_the_largest_are_not_found() {
    let max = protocol::MESSAGE_ID_MAX;
    for id in [max + 1, 1 << 63, u64::MAX] {
        for frame in [
            format!(r#"{{"type":"send","clientId":"c-1","msg":"hi","replyTo":{id}}}"#),
            format!(r#"{{"type":"edit","id":{id},"msg":"hi"}}"#),
            format!(r#"{{"type":"delete","id":{id}}}"#),
            format!(r#"{{"type":"react","id":{id},"emoji":"👍","on":true}}"#),
            format!(r#"{{"type":"moderate","action":"delete","id":{id}}}"#),
        ] {
            let error = ClientFrame::parse(&frame).expect_err(&frame);
            assert_eq!(error.code(), ErrorCode::NotFound, "{frame}");
        }
    }
    let error = ClientFrame::parse(&format!(
        r#"{{"type":"send","clientId":"c-1","msg":"hi","replyTo":{}}}"#,
        u64::MAX
    ))
    .expect_err("no such message");
    assert_eq!(error.client_id(), Some("c-1"), "the send is named");
    let largest = format!(r#"{{"type":"delete","id":{max}}}"#);
    assert!(
        ClientFrame::parse(&largest).is_ok(),
        "the largest id is an id"
    );
}

#[test]
fn golden_server_frames() {
    let cases = [
        (
            ServerFrame::History {
                room: "lobby".into(),
                messages: vec![posted_value()],
                reset: true,
                has_older: false,
                seq: None,
                rules: ShownRules::default(),
                moderator: false,
            },
            r#"{"type":"history","room":"lobby","messages":[{"id":1,"user":"alice","msg":"hi","dateTime":1764100000000,"clientId":"c-1"}],"reset":true,"hasOlder":false}"#,
        ),
        (
            ServerFrame::History {
                room: "lobby".into(),
                messages: vec![],
                reset: false,
                has_older: true,
                seq: Some(59),
                rules: ShownRules::default(),
                moderator: false,
            },
            r#"{"type":"history","room":"lobby","messages":[],"reset":false,"hasOlder":true,"seq":59}"#,
        ),
        (
            ServerFrame::History {
                room: "lobby".into(),
                messages: vec![],
                reset: true,
                has_older: false,
                seq: Some(60),
                rules: ShownRules {
                    locked: true,
                    ..ShownRules::default()
                },
                moderator: true,
            },
            r#"{"type":"history","room":"lobby","messages":[],"reset":true,"hasOlder":false,"seq":60,"locked":true,"moderator":true}"#,
        ),
        (
            ServerFrame::History {
                room: "lobby".into(),
                messages: vec![],
                reset: true,
                has_older: false,
                seq: Some(62),
                rules: ShownRules {
                    pinned: vec![7, 3],
                    ..ShownRules::default()
                },
                moderator: false,
            },
            r#"{"type":"history","room":"lobby","messages":[],"reset":true,"hasOlder":false,"seq":62,"pinned":[7,3]}"#,
        ),
        (
            ServerFrame::Moderated {
                room: "lobby".into(),
                seq: 63,
                action: ModAction::Pin,
                target: None,
                id: Some(7),
                by: "alice".into(),
                until: None,
                reason: None,
                all_rooms: false,
                date_time: 1_764_100_000_000,
            },
            r#"{"type":"moderated","room":"lobby","seq":63,"action":"pin","id":7,"by":"alice","dateTime":1764100000000}"#,
        ),
        (
            ServerFrame::Moderated {
                room: "lobby".into(),
                seq: 61,
                action: ModAction::Mute,
                target: Some("bob".into()),
                id: None,
                by: "alice".into(),
                until: Some(1_764_100_600_000),
                reason: Some("be kind".into()),
                all_rooms: false,
                date_time: 1_764_100_000_000,
            },
            r#"{"type":"moderated","room":"lobby","seq":61,"action":"mute","target":"bob","by":"alice","until":1764100600000,"reason":"be kind","dateTime":1764100000000}"#,
        ),
        (
            ServerFrame::Older {
                room: "闲聊".into(),
                messages: vec![],
                has_older: true,
            },
            r#"{"type":"older","room":"闲聊","messages":[],"hasOlder":true}"#,
        ),
        (
            ServerFrame::error(ErrorCode::NotInRoom, "not in it").in_room("rust"),
            r#"{"type":"error","code":"not_in_room","message":"not in it","room":"rust"}"#,
        ),
        (
            ServerFrame::send_error(ErrorCode::StorageUnavailable, "disk full", "c-1".into()),
            r#"{"type":"error","code":"storage_unavailable","message":"disk full","clientId":"c-1"}"#,
        ),
        (
            posted(),
            r#"{"type":"message","room":"lobby","id":1,"user":"alice","msg":"hi","dateTime":1764100000000,"clientId":"c-1"}"#,
        ),
        (
            ServerFrame::Message {
                room: "lobby".into(),
                posted: Posted {
                    message: ChatMessage {
                        claimed: true,
                        ..posted_value().message
                    },
                    client_id: "c-1".into(),
                },
            },
            r#"{"type":"message","room":"lobby","id":1,"user":"alice","claimed":true,"msg":"hi","dateTime":1764100000000,"clientId":"c-1"}"#,
        ),
        (
            ServerFrame::Welcome {
                user: "alice".into(),
                claimed: false,
                admin: false,
                rooms: vec![],
                retain_days: None,
            },
            r#"{"type":"welcome","user":"alice"}"#,
        ),
        (
            ServerFrame::Welcome {
                user: "alice".into(),
                claimed: true,
                admin: true,
                rooms: vec![],
                retain_days: None,
            },
            r#"{"type":"welcome","user":"alice","claimed":true,"admin":true}"#,
        ),
        (
            ServerFrame::Welcome {
                user: "alice".into(),
                claimed: true,
                admin: false,
                rooms: vec!["lobby".into(), "闲聊".into()],
                retain_days: None,
            },
            r#"{"type":"welcome","user":"alice","claimed":true,"rooms":["lobby","闲聊"]}"#,
        ),
        (
            ServerFrame::Welcome {
                user: "alice".into(),
                claimed: false,
                admin: false,
                rooms: vec![],
                retain_days: Some(30),
            },
            r#"{"type":"welcome","user":"alice","retainDays":30}"#,
        ),
        (
            ServerFrame::error(ErrorCode::MessageTooLong, "too long"),
            r#"{"type":"error","code":"message_too_long","message":"too long"}"#,
        ),
    ];
    for (frame, json) in cases {
        assert_eq!(frame.to_json(), json);
        assert_eq!(ServerFrame::parse(json).expect(json), frame);
    }
}

#[test]
fn golden_events() {
    let cases = [
        (
            ServerFrame::Edited {
                room: "r".into(),
                seq: 57,
                id: 12,
                msg: "new text @bob".into(),
                formatted: None,
                edited_at: 1_764_100_000_001,
                mentions: vec!["bob".into()],
            },
            r#"{"type":"edited","room":"r","seq":57,"id":12,"msg":"new text @bob","editedAt":1764100000001,"mentions":["bob"]}"#,
        ),
        (
            ServerFrame::Deleted {
                room: "r".into(),
                seq: 58,
                id: 12,
            },
            r#"{"type":"deleted","room":"r","seq":58,"id":12}"#,
        ),
        (
            ServerFrame::Reaction {
                room: "r".into(),
                seq: 59,
                id: 12,
                emoji: "👍".into(),
                user: "bob".into(),
                on: true,
            },
            r#"{"type":"reaction","room":"r","seq":59,"id":12,"emoji":"👍","user":"bob","on":true}"#,
        ),
    ];
    for (frame, json) in cases {
        assert_eq!(frame.to_json(), json);
        assert_eq!(ServerFrame::parse(json).expect("parses"), frame);
    }
}

#[test]
fn golden_message_state() {
    let mut posted = posted_value();
    posted.message.id = 13;
    posted.message.reply_to = Some(ReplyQuote {
        id: 12,
        user: "bob".into(),
        excerpt: "first line…".into(),
        deleted: false,
        claimed: true,
    });
    posted.message.mentions = vec!["bob".into()];
    posted.message.formatted = Some(vec![Block::Paragraph(vec![
        Inline::Strong(vec![Inline::Text("hi".into())]),
        Inline::Break,
        Inline::Link {
            href: "https://e.example/".into(),
            text: vec![Inline::Code("x".into())],
        },
    ])]);
    posted.message.edited_at = Some(1_764_100_000_500);
    posted.message.reactions = vec![Reactions {
        emoji: "👍".into(),
        users: vec!["bob".into()],
        count: 1,
    }];
    let frame = ServerFrame::Message {
        room: "r".into(),
        posted,
    };
    let json = r#"{"type":"message","room":"r","id":13,"user":"alice","msg":"hi","formatted":[{"p":[{"strong":[{"t":"hi"}]},"br",{"a":{"href":"https://e.example/","text":[{"code":"x"}]}}]}],"dateTime":1764100000000,"replyTo":{"id":12,"user":"bob","excerpt":"first line…","claimed":true},"mentions":["bob"],"editedAt":1764100000500,"reactions":[{"emoji":"👍","users":["bob"],"count":1}],"clientId":"c-1"}"#;
    assert_eq!(frame.to_json(), json);
    assert_eq!(ServerFrame::parse(json).expect("parses"), frame);

    let tombstone = ChatMessage {
        id: 12,
        user: "bob".into(),
        date_time: 1,
        deleted: true,
        ..ChatMessage::default()
    };
    assert_eq!(
        serde_json::to_string(&tombstone).expect("json"),
        r#"{"id":12,"user":"bob","msg":"","dateTime":1,"deleted":true}"#
    );
}

#[test]
fn every_kind_of_formatted_text_reads_back_on_both_sides() {
    let tree = vec![
        Block::Paragraph(vec![
            Inline::Text("a".into()),
            Inline::Emphasis(vec![Inline::Text("b".into())]),
            Inline::Strikethrough(vec![Inline::Code("c".into())]),
            Inline::Break,
        ]),
        Block::Code("let x;".into()),
        Block::Quote(vec![Block::List {
            start: Some(3),
            items: vec![vec![Block::Paragraph(vec![Inline::Strong(vec![])])]],
        }]),
        Block::List {
            start: None,
            items: vec![],
        },
    ];
    let json = serde_json::to_string(&tree).expect("serializes");
    assert_eq!(
        json,
        r#"[{"p":[{"t":"a"},{"em":[{"t":"b"}]},{"del":[{"code":"c"}]},"br"]},{"code":"let x;"},{"quote":[{"list":{"start":3,"items":[[{"p":[{"strong":[]}]}]]}}]},{"list":{"items":[]}}]"#
    );
    // The server's stores read it with serde.
    assert_eq!(
        serde_json::from_str::<Vec<Block>>(&json).expect("parses"),
        tree
    );
    // Clients, in an `edited` frame.
    let edited = ServerFrame::Edited {
        room: "r".into(),
        seq: 2,
        id: 1,
        msg: "a".into(),
        formatted: Some(tree),
        edited_at: 5,
        mentions: vec![],
    };
    assert_eq!(
        ServerFrame::parse(&edited.to_json()).expect("parses"),
        edited
    );
    for unknown in [
        r#"[{"h1":"x"}]"#,
        r#"["p"]"#,
        r#"[{"p":[],"code":"x"}]"#,
        r#"[{"p":[{"t":1}]}]"#,
    ] {
        assert!(
            serde_json::from_str::<Vec<Block>>(unknown).is_err(),
            "{unknown}"
        );
    }
}

#[test]
fn reactions_are_sets_that_name_a_bounded_number_of_people_and_count_them_all() {
    let mut reactions = Vec::new();
    apply_reaction(&mut reactions, "👍", "bob", true);
    apply_reaction(&mut reactions, "👍", "bob", true);
    apply_reaction(&mut reactions, "🎉", "amy", true);
    apply_reaction(&mut reactions, "👍", "amy", true);
    let summary: Vec<(&str, usize)> = reactions
        .iter()
        .map(|given| (given.emoji.as_str(), given.count))
        .collect();
    assert_eq!(summary, [("👍", 2), ("🎉", 1)], "twice is once, in order");
    assert_eq!(reactions[0].users, ["bob", "amy"]);
    for n in 0..REACTION_NAMES_MAX + 5 {
        apply_reaction(&mut reactions, "🎉", &format!("u{n}"), true);
    }
    let party = &reactions[1];
    assert_eq!(party.users.len(), REACTION_NAMES_MAX, "names stop");
    assert_eq!(party.count, REACTION_NAMES_MAX + 6, "counts go on");
    // One not named leaves: one fewer all the same.
    apply_reaction(&mut reactions, "🎉", "u24", false);
    assert_eq!(reactions[1].count, REACTION_NAMES_MAX + 5);
    apply_reaction(&mut reactions, "👍", "bob", false);
    apply_reaction(&mut reactions, "👍", "amy", false);
    assert_eq!(reactions.len(), 1, "an emoji nobody gives goes");
    apply_reaction(&mut reactions, "🚀", "amy", false);
    assert_eq!(reactions.len(), 1);
}

#[test]
fn edits_and_reactions_are_checked_like_sends() {
    assert_eq!(
        ClientFrame::parse(r#"{"type":"edit","id":1,"msg":"  "}"#).map_err(|e| e.code()),
        Err(ErrorCode::EmptyMessage)
    );
    assert_eq!(
        ClientFrame::parse(r#"{"type":"edit","id":1,"msg":" x "}"#),
        Ok(ClientFrame::Edit {
            room: None,
            id: 1,
            msg: "x".into()
        })
    );
    for emoji in [r#""""#, r#""ok""#, r#""👍 ""#] {
        let frame = format!(r#"{{"type":"react","id":1,"emoji":{emoji},"on":true}}"#);
        assert_eq!(
            ClientFrame::parse(&frame).map_err(|e| e.code()),
            Err(ErrorCode::InvalidEmoji),
            "{frame}"
        );
    }
    assert_eq!(
        ClientFrame::parse(r#"{"type":"react","id":1,"emoji":"👍"}"#).map_err(|e| e.code()),
        Err(ErrorCode::InvalidFields)
    );
}

#[test]
fn a_server_frame_without_a_field_its_type_needs_is_refused_by_name() {
    let cases = [
        (
            r#"{"type":"welcome"}"#,
            "missing field `user` in a `welcome` frame",
        ),
        (
            r#"{"type":"message","room":"r","id":1,"user":"a","msg":"hi","dateTime":5}"#,
            "missing field `clientId` in a `message` frame",
        ),
        (
            r#"{"type":"message","id":1,"user":"a","msg":"hi","dateTime":5,"clientId":"c"}"#,
            "missing field `room` in a `message` frame",
        ),
        (
            r#"{"type":"history","room":"r","messages":[],"reset":true}"#,
            "missing field `hasOlder` in a `history` frame",
        ),
        (
            r#"{"type":"message","room":"r","id":1,"user":"a","msg":"hi","clientId":"c"}"#,
            "missing field `dateTime`",
        ),
        (
            r#"{"type":"presence","room":"r","joined":[],"count":1}"#,
            "missing field `left`",
        ),
        (r#"{"type":"error","message":"no"}"#, "missing field `code`"),
        (
            r#"{"type":"shout","user":"a"}"#,
            "unknown frame type `shout`",
        ),
        (r#"{"user":"a"}"#, "with a string field `type`"),
        (r#"[1]"#, "with a string field `type`"),
        (
            r#"{"type":"welcome","user":7}"#,
            "field `user` must be a string in a `welcome` frame",
        ),
        (
            r#"{"type":"online","room":"r","users":"a","count":1}"#,
            "field `users` must be an array in a `online` frame",
        ),
        (
            r#"{"type":"moderated","room":"r","seq":1,"action":"smite","by":"a","dateTime":1}"#,
            "field `action` must be a known name in a `moderated` frame",
        ),
        (
            r#"{"type":"older","room":"r","hasOlder":true,"messages":{"id":1}}"#,
            "field `messages` must be an array in a `older` frame",
        ),
        (
            r#"{"type":"message","room":"r","id":1,"user":"a","msg":"m","dateTime":1,"clientId":"c","replyTo":{"id":"9","user":"b","excerpt":""}}"#,
            "field `id` must be a whole number, 0 or more in a `message` frame",
        ),
        (
            r#"{"type":"edited","room":"r","seq":2,"id":1,"msg":"m","editedAt":"3"}"#,
            "field `editedAt` must be a whole number in a `edited` frame",
        ),
    ];
    for (json, reason) in cases {
        let error = ServerFrame::parse(json).expect_err(json).to_string();
        assert!(error.contains(reason), "{json}: {error}");
    }
    // Every type with fields is named in the error as it is on the wire.
    for kind in ServerFrameKind::ALL.iter().map(|kind| kind.as_str()) {
        let json = format!(r#"{{"type":"{kind}"}}"#);
        if kind == "pong" {
            assert_eq!(
                ServerFrame::parse(&json).expect("a pong"),
                ServerFrame::Pong
            );
            continue;
        }
        let error = ServerFrame::parse(&json).expect_err(&json).to_string();
        assert!(
            error.contains(&format!("in a `{kind}` frame")),
            "{json}: {error}"
        );
    }
}

#[test]
fn a_server_frame_ignores_fields_its_type_does_not_have() {
    assert_eq!(
        ServerFrame::parse(r#"{"type":"welcome","user":"alice","reset":true,"extra":[1]}"#)
            .expect("a welcome"),
        ServerFrame::Welcome {
            user: "alice".into(),
            claimed: false,
            admin: false,
            rooms: vec![],
            retain_days: None,
        }
    );
    assert_eq!(
        ServerFrame::parse(r#"{"type":"pong","clientId":"c-1"}"#).expect("a pong"),
        ServerFrame::Pong
    );
}

#[test]
fn a_posted_message_serializes_as_its_frame() {
    assert_eq!(posted_value().to_frame_json("lobby"), posted().to_json());
}

#[test]
fn golden_chat_message() {
    let message = ChatMessage {
        id: 7,
        user: "bob".into(),
        msg: "yo".into(),
        date_time: -1,
        ..ChatMessage::default()
    };
    let json = r#"{"id":7,"user":"bob","msg":"yo","dateTime":-1}"#;
    assert_eq!(serde_json::to_string(&message).expect("serializes"), json);
    let older = r#"{"type":"older","room":"r","hasOlder":false,
        "messages":[{"id":7,"user":"bob","msg":"yo","dateTime":-1,"clientId":"c"}]}"#;
    assert_eq!(
        ServerFrame::parse(older).expect("parses"),
        ServerFrame::Older {
            room: "r".into(),
            messages: vec![Posted {
                message,
                client_id: "c".into()
            }],
            has_older: false,
        }
    );
}

/// A refusal with a code this build does not know (a newer server's)
/// still arrives, with its message, on both decoders.
#[test]
fn an_unknown_error_code_is_read_as_unknown() {
    let text = r#"{"type":"error","code":"brand_new_code","message":"Something new."}"#;
    let frame = ServerFrame::parse(text).expect("a refusal");
    let ServerFrame::Error { code, message, .. } = frame else {
        panic!("an error frame: {frame:?}");
    };
    assert_eq!(
        (code, message.as_str()),
        (ErrorCode::Unknown, "Something new.")
    );
}

#[test]
fn every_error_code_has_its_wire_name() {
    for &code in ErrorCode::ALL {
        assert!(
            code.as_str()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_'),
            "{code:?}"
        );
        let json = serde_json::to_string(&code).expect("serializes");
        assert_eq!(json, format!("\"{}\"", code.as_str()));
        assert_eq!(
            serde_json::from_str::<ErrorCode>(&json).expect("parses"),
            code
        );
    }
}

#[test]
fn client_fields_the_server_decides_are_ignored() {
    let forged =
        r#"{"type":"send","clientId":"c","msg":"hi","user":"mallory","id":99,"dateTime":0}"#;
    assert_eq!(
        ClientFrame::parse(forged),
        Ok(ClientFrame::Send {
            client_id: "c".into(),
            msg: "hi".into(),
            room: None,
            reply_to: None,
        })
    );
}

#[test]
fn message_text_is_trimmed_on_parse() {
    let frame = ClientFrame::parse(r#"{"type":"send","clientId":"c","msg":"  hi \n"}"#);
    assert_eq!(
        frame,
        Ok(ClientFrame::Send {
            client_id: "c".into(),
            msg: "hi".into(),
            room: None,
            reply_to: None,
        })
    );
}

#[test]
fn malformed_client_frames_get_a_precise_code() {
    let long_msg = format!(
        r#"{{"type":"send","clientId":"c","msg":"{}"}}"#,
        "x".repeat(MESSAGE_MAX_CHARS + 1)
    );
    let long_id = format!(
        r#"{{"type":"send","clientId":"{}","msg":"hi"}}"#,
        "c".repeat(CLIENT_ID_MAX_CHARS + 1)
    );
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    let cases: Vec<(&str, ErrorCode)> = vec![
        ("", ErrorCode::InvalidJson),
        ("hello", ErrorCode::InvalidJson),
        ("{\"type\":\"send\"", ErrorCode::InvalidJson),
        (
            r#"{"type":"send","clientId":"c","msg":1e999}"#,
            ErrorCode::InvalidJson,
        ),
        (&deep, ErrorCode::InvalidJson),
        ("[]", ErrorCode::InvalidFrame),
        (r#"["send","c","hi"]"#, ErrorCode::InvalidFrame),
        ("42", ErrorCode::InvalidFrame),
        ("null", ErrorCode::InvalidFrame),
        (r#"{"type":7}"#, ErrorCode::InvalidFrame),
        (r#"{"msg":"hi"}"#, ErrorCode::MissingType),
        (r#"{"type":"shout","msg":"hi"}"#, ErrorCode::UnknownType),
        (
            r#"{"type":"Send","clientId":"c","msg":"hi"}"#,
            ErrorCode::UnknownType,
        ),
        (
            r#"{"type":"send","clientId":"c"}"#,
            ErrorCode::InvalidFields,
        ),
        (r#"{"type":"send","msg":"hi"}"#, ErrorCode::InvalidFields),
        (
            r#"{"type":"send","clientId":"c","msg":5}"#,
            ErrorCode::InvalidFields,
        ),
        (
            r#"{"type":"send","clientId":"c","msg":{"a":{"b":1}}}"#,
            ErrorCode::InvalidFields,
        ),
        (
            r#"{"type":"send","clientId":1,"msg":"hi"}"#,
            ErrorCode::InvalidFields,
        ),
        (
            r#"{"type":"send","clientId":"c","msg":"   "}"#,
            ErrorCode::EmptyMessage,
        ),
        (
            r#"{"type":"send","clientId":"c","msg":"a\u0000b"}"#,
            ErrorCode::InvalidMessage,
        ),
        (&long_msg, ErrorCode::MessageTooLong),
        (
            r#"{"type":"send","clientId":"","msg":"hi"}"#,
            ErrorCode::InvalidClientId,
        ),
        (&long_id, ErrorCode::InvalidClientId),
        (
            r#"{"type":"loadOlder","before":10}"#,
            ErrorCode::InvalidFields,
        ),
        (
            r#"{"type":"loadOlder","before":-1,"limit":5}"#,
            ErrorCode::InvalidFields,
        ),
        (
            r#"{"type":"loadOlder","before":10,"limit":0}"#,
            ErrorCode::InvalidLimit,
        ),
        (
            r#"{"type":"loadOlder","before":10,"limit":201}"#,
            ErrorCode::InvalidLimit,
        ),
        (r#"{"type":"join"}"#, ErrorCode::InvalidFields),
        (r#"{"type":"join","room":5}"#, ErrorCode::InvalidFields),
        (
            r#"{"type":"join","room":"a","after":-2}"#,
            ErrorCode::InvalidFields,
        ),
        (r#"{"type":"leave","room":"x y"}"#, ErrorCode::InvalidRoom),
        (
            r#"{"type":"loadOlder","before":10,"limit":5,"room":"a/b"}"#,
            ErrorCode::InvalidRoom,
        ),
    ];
    for (text, code) in cases {
        let err = ClientFrame::parse(text).expect_err(text);
        assert_eq!(err.code(), code, "{text:.80}: {err}");
        assert!(!err.to_string().is_empty());
    }
    assert_eq!(
        ClientFrame::parse(r#"{"type":"send","clientId":"c","msg":""}"#),
        Err(FrameError::Message {
            error: MessageError::Empty,
            client_id: "c".into()
        })
    );
}

fn chat_message() -> impl Strategy<Value = ChatMessage> {
    (any::<u64>(), ".{1,24}", ".{1,200}", any::<i64>()).prop_map(|(id, user, msg, date_time)| {
        ChatMessage {
            id,
            user,
            msg,
            date_time,
            ..ChatMessage::default()
        }
    })
}

fn server_frame() -> impl Strategy<Value = ServerFrame> {
    prop_oneof![
        (".{1,24}", proptest::collection::vec("[a-z]{1,8}", 0..3)).prop_map(|(user, rooms)| {
            ServerFrame::Welcome {
                user,
                claimed: !rooms.is_empty(),
                retain_days: None,
                admin: false,
                rooms,
            }
        }),
        (chat_message(), ".{1,64}", ".{1,32}").prop_map(|(message, client_id, room)| {
            ServerFrame::Message {
                room,
                posted: Posted { message, client_id },
            }
        }),
        (
            prop::sample::select(vec![
                ErrorCode::InvalidJson,
                ErrorCode::UnknownType,
                ErrorCode::MessageTooLong
            ]),
            ".*",
            proptest::option::of("[a-z0-9]{1,64}"),
            proptest::option::of(".{1,32}"),
        )
            .prop_map(|(code, message, client_id, room)| ServerFrame::Error {
                code,
                message,
                client_id,
                retry_after_ms: None,
                room,
            }),
        (
            prop::collection::vec((chat_message(), ".{1,64}"), 0..5),
            any::<bool>(),
            any::<bool>()
        )
            .prop_map(|(messages, reset, has_older)| ServerFrame::History {
                room: "lobby".into(),
                messages: messages
                    .into_iter()
                    .map(|(message, client_id)| Posted { message, client_id })
                    .collect(),
                reset,
                has_older,
                seq: None,
                rules: ShownRules::default(),
                moderator: false,
            }),
    ]
}

proptest! {
    #[test]
    fn server_frames_round_trip(frame in server_frame()) {
        prop_assert_eq!(ServerFrame::parse(&frame.to_json()).expect("round trip"), frame);
    }

    #[test]
    fn valid_send_frames_round_trip(
        client_id in "[a-zA-Z0-9-]{1,64}",
        msg in "[^\\p{Cc}\\s][^\\p{Cc}]{0,1998}[^\\p{Cc}\\s]",
    ) {
        let frame = ClientFrame::Send { client_id, msg, room: None, reply_to: None };
        prop_assert_eq!(ClientFrame::parse(&frame.to_json()), Ok(frame));
    }

    #[test]
    fn arbitrary_text_never_panics(text in ".*") {
        let _ = ClientFrame::parse(&text);
        let _ = ServerFrame::parse(&text);
    }

    #[test]
    fn arbitrary_send_fields_never_panic(client_id in ".*", msg in ".*") {
        let json = serde_json::json!({"type": "send", "clientId": client_id, "msg": msg});
        if let Err(err) = ClientFrame::parse(&json.to_string()) {
            prop_assert!(!err.to_string().is_empty());
        }
    }
}

#[test]
fn a_moderate_frame_reads_as_documented_and_needs_what_it_acts_on() {
    let frame = ClientFrame::parse(
        r#"{"type":"moderate","room":"r","action":"ban","target":"bob","durationS":600,"reason":"spam"}"#,
    )
    .expect("a ban");
    assert_eq!(
        frame,
        ClientFrame::Moderate {
            room: Some("r".into()),
            action: ModAction::Ban,
            target: Some("bob".into()),
            id: None,
            duration_s: Some(600),
            reason: Some("spam".into()),
            all_rooms: false,
        }
    );
    assert_eq!(
        frame.to_json(),
        r#"{"type":"moderate","room":"r","action":"ban","target":"bob","durationS":600,"reason":"spam"}"#
    );
    let grant = ClientFrame::parse(
        r#"{"type":"moderate","action":"grant","target":"carol","allRooms":true}"#,
    )
    .expect("a grant");
    assert!(matches!(
        grant,
        ClientFrame::Moderate {
            all_rooms: true,
            ..
        }
    ));
    for bad in [
        r#"{"type":"moderate","action":"mute"}"#,
        r#"{"type":"moderate","action":"delete"}"#,
        r#"{"type":"moderate","action":"shout","target":"bob"}"#,
        r#"{"type":"moderate","action":"ban","target":"bob","durationS":0}"#,
        r#"{"type":"moderate","action":"kick","target":""}"#,
    ] {
        let error = ClientFrame::parse(bad).expect_err(bad);
        assert_eq!(error.code(), ErrorCode::InvalidFields, "{bad}");
    }
    let long = format!(
        r#"{{"type":"moderate","action":"lock","reason":"{}"}}"#,
        "x".repeat(201)
    );
    assert!(ClientFrame::parse(&long).is_err());
}

/// One message the client cannot read never hides the page around it:
/// it is left out, and formatted text it cannot read shows as plain text.
#[test]
fn an_unreadable_message_is_left_out_of_its_page() {
    let page = r#"{"type":"history","room":"lobby","reset":true,"hasOlder":false,"seq":3,"messages":[
        {"id":1,"user":"amy","msg":"first","dateTime":1,"clientId":"a"},
        {"id":"two","user":"eve","msg":"broken","dateTime":2,"clientId":"b"},
        {"id":3,"user":"bob","msg":"*odd*","formatted":[{"what":1}],"dateTime":3,"clientId":"c"}
    ]}"#;
    let Ok(ServerFrame::History { messages, .. }) = ServerFrame::parse(page) else {
        panic!("the page reads");
    };
    let read: Vec<(u64, &str, bool)> = messages
        .iter()
        .map(|p| {
            (
                p.message.id,
                p.message.msg.as_str(),
                p.message.formatted.is_some(),
            )
        })
        .collect();
    assert_eq!(read, [(1, "first", false), (3, "*odd*", false)]);
    let older = page
        .replace(r#""type":"history""#, r#""type":"older""#)
        .replace(r#""messages":["#, r#""messages":[{"nope":true},"#);
    let Ok(ServerFrame::Older { messages, .. }) = ServerFrame::parse(&older) else {
        panic!("the older page reads");
    };
    assert_eq!(messages.len(), 2);
    let edited = r#"{"type":"edited","room":"r","seq":2,"id":1,"msg":"m","editedAt":3,"formatted":[{"h1":"x"}]}"#;
    let Ok(ServerFrame::Edited { formatted, .. }) = ServerFrame::parse(edited) else {
        panic!("an edit with formatted text it cannot read still reads");
    };
    assert_eq!(formatted, None);
}
