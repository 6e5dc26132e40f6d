//! The wire format, pinned: a renamed field or tag must break these tests.

use proptest::prelude::*;
use protocol::{
    ChatMessage, ClientFrame, ErrorCode, FrameError, MessageError, Posted, ServerFrame,
    CLIENT_ID_MAX_CHARS, MESSAGE_MAX_CHARS,
};

fn posted() -> ServerFrame {
    ServerFrame::Message(Posted {
        message: ChatMessage {
            id: 1,
            user: "alice".into(),
            msg: "hi".into(),
            date_time: 1_764_100_000_000,
        },
        client_id: "c-1".into(),
    })
}

#[test]
fn golden_client_frames() {
    let send = ClientFrame::Send {
        client_id: "c-1".into(),
        msg: "hi".into(),
    };
    let json = r#"{"type":"send","clientId":"c-1","msg":"hi"}"#;
    assert_eq!(send.to_json(), json);
    assert_eq!(ClientFrame::parse(json), Ok(send));
}

#[test]
fn golden_load_older() {
    let frame = ClientFrame::LoadOlder {
        before: 101,
        limit: 50,
    };
    let json = r#"{"type":"loadOlder","before":101,"limit":50}"#;
    assert_eq!(frame.to_json(), json);
    assert_eq!(ClientFrame::parse(json), Ok(frame));
}

#[test]
fn golden_presence_and_liveness_frames() {
    let client = [
        (ClientFrame::Typing, r#"{"type":"typing"}"#),
        (ClientFrame::Ping, r#"{"type":"ping"}"#),
    ];
    for (frame, json) in client {
        assert_eq!(frame.to_json(), json);
        assert_eq!(ClientFrame::parse(json), Ok(frame));
    }
    let server = [
        (
            ServerFrame::Online {
                users: vec!["alice".into(), "bob".into()],
                count: 2,
            },
            r#"{"type":"online","users":["alice","bob"],"count":2}"#,
        ),
        (
            ServerFrame::Presence {
                joined: vec!["carol".into()],
                left: vec!["bob".into()],
                count: 2,
            },
            r#"{"type":"presence","joined":["carol"],"left":["bob"],"count":2}"#,
        ),
        (
            ServerFrame::Typing {
                user: "alice".into(),
            },
            r#"{"type":"typing","user":"alice"}"#,
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

#[test]
fn golden_server_frames() {
    let posted_value = match posted() {
        ServerFrame::Message(posted) => posted,
        _ => unreachable!(),
    };
    let cases = [
        (
            ServerFrame::History {
                messages: vec![posted_value.clone()],
                reset: true,
                has_older: false,
            },
            r#"{"type":"history","messages":[{"id":1,"user":"alice","msg":"hi","dateTime":1764100000000,"clientId":"c-1"}],"reset":true,"hasOlder":false}"#,
        ),
        (
            ServerFrame::Older {
                messages: vec![],
                has_older: true,
            },
            r#"{"type":"older","messages":[],"hasOlder":true}"#,
        ),
        (
            ServerFrame::send_error(ErrorCode::StorageUnavailable, "disk full", "c-1".into()),
            r#"{"type":"error","code":"storage_unavailable","message":"disk full","clientId":"c-1"}"#,
        ),
        (
            posted(),
            r#"{"type":"message","id":1,"user":"alice","msg":"hi","dateTime":1764100000000,"clientId":"c-1"}"#,
        ),
        (
            ServerFrame::Welcome {
                user: "alice".into(),
            },
            r#"{"type":"welcome","user":"alice"}"#,
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
fn a_server_frame_without_a_field_its_type_needs_is_refused_by_name() {
    let cases = [
        (
            r#"{"type":"welcome"}"#,
            "missing field `user` in a `welcome` frame",
        ),
        (
            r#"{"type":"message","id":1,"user":"a","msg":"hi","dateTime":5}"#,
            "missing field `clientId` in a `message` frame",
        ),
        (
            r#"{"type":"history","messages":[],"reset":true}"#,
            "missing field `hasOlder` in a `history` frame",
        ),
        (
            r#"{"type":"history","messages":[{"id":1,"user":"a","msg":"hi"}],"reset":true,"hasOlder":false}"#,
            "missing field `dateTime`",
        ),
        (
            r#"{"type":"presence","joined":[],"count":1}"#,
            "missing field `left`",
        ),
        (r#"{"type":"error","message":"no"}"#, "missing field `code`"),
        (r#"{"type":"shout","user":"a"}"#, "unknown variant `shout`"),
        (r#"{"user":"a"}"#, "missing field `type`"),
        (
            r#"{"type":"welcome","user":7}"#,
            "invalid type: integer `7`",
        ),
    ];
    for (json, reason) in cases {
        let error = ServerFrame::parse(json).expect_err(json).to_string();
        assert!(error.contains(reason), "{json}: {error}");
    }
    // Every type with fields is named in the error as it is on the wire.
    for kind in [
        "welcome", "history", "older", "online", "presence", "typing", "message", "error",
    ] {
        let json = format!(r#"{{"type":"{kind}"}}"#);
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
            user: "alice".into()
        }
    );
    assert_eq!(
        ServerFrame::parse(r#"{"type":"pong","clientId":"c-1"}"#).expect("a pong"),
        ServerFrame::Pong
    );
}

#[test]
fn a_posted_message_serializes_as_its_frame() {
    let ServerFrame::Message(posted_value) = posted() else {
        unreachable!()
    };
    assert_eq!(posted_value.to_frame_json(), posted().to_json());
}

#[test]
fn golden_chat_message() {
    let message = ChatMessage {
        id: 7,
        user: "bob".into(),
        msg: "yo".into(),
        date_time: -1,
    };
    let json = r#"{"id":7,"user":"bob","msg":"yo","dateTime":-1}"#;
    assert_eq!(serde_json::to_string(&message).expect("serializes"), json);
    assert_eq!(
        serde_json::from_str::<ChatMessage>(json).expect("parses"),
        message
    );
}

#[test]
fn every_error_code_has_its_wire_name() {
    let codes = [
        ErrorCode::InvalidJson,
        ErrorCode::InvalidFrame,
        ErrorCode::MissingType,
        ErrorCode::UnknownType,
        ErrorCode::InvalidFields,
        ErrorCode::BinaryFrame,
        ErrorCode::EmptyMessage,
        ErrorCode::MessageTooLong,
        ErrorCode::InvalidMessage,
        ErrorCode::InvalidClientId,
        ErrorCode::EmptyUsername,
        ErrorCode::UsernameTooLong,
        ErrorCode::InvalidUsername,
        ErrorCode::InvalidLimit,
        ErrorCode::StorageUnavailable,
        ErrorCode::ShuttingDown,
        ErrorCode::UsernameTaken,
        ErrorCode::RateLimited,
    ];
    for code in codes {
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
            msg: "hi".into()
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
            msg: "hi".into()
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
        }
    })
}

fn server_frame() -> impl Strategy<Value = ServerFrame> {
    prop_oneof![
        ".{1,24}".prop_map(|user| ServerFrame::Welcome { user }),
        (chat_message(), ".{1,64}").prop_map(|(message, client_id)| {
            ServerFrame::Message(Posted { message, client_id })
        }),
        (
            prop::sample::select(vec![
                ErrorCode::InvalidJson,
                ErrorCode::UnknownType,
                ErrorCode::MessageTooLong
            ]),
            ".*",
            proptest::option::of("[a-z0-9]{1,64}"),
        )
            .prop_map(|(code, message, client_id)| ServerFrame::Error {
                code,
                message,
                client_id,
                retry_after_ms: None,
            }),
        (
            prop::collection::vec((chat_message(), ".{1,64}"), 0..5),
            any::<bool>(),
            any::<bool>()
        )
            .prop_map(|(messages, reset, has_older)| ServerFrame::History {
                messages: messages
                    .into_iter()
                    .map(|(message, client_id)| Posted { message, client_id })
                    .collect(),
                reset,
                has_older,
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
        let frame = ClientFrame::Send { client_id, msg };
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
