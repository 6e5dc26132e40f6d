//! The properties the fuzz target checks (`protocol/fuzz`), here so that a
//! normal `cargo test` replays the checked-in corpus through the same checks.

use crate::{validate_message, validate_room, validate_username, ClientFrame, ServerFrame};

/// Feeds arbitrary bytes to every parser and validator. Panics (which is
/// what the fuzzer and the corpus test look for) when a property breaks:
/// - parsing answers `Ok` or an error with a code and an explanation;
/// - whatever parses comes back the same through its own JSON;
/// - validation is idempotent: a valid value stays valid, unchanged.
pub fn check_bytes(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match ClientFrame::parse(text) {
        Ok(frame) => assert_eq!(ClientFrame::parse(&frame.to_json()), Ok(frame)),
        Err(error) => {
            assert!(!error.code().as_str().is_empty());
            assert!(!error.to_string().is_empty());
        }
    }
    if let Ok(frame) = ServerFrame::parse(text) {
        let again = ServerFrame::parse(&frame.to_json()).expect("own JSON parses");
        assert_eq!(again, frame);
    }
    if let Ok(name) = validate_username(text) {
        assert_eq!(validate_username(name), Ok(name));
    }
    if let Ok(msg) = validate_message(text) {
        assert_eq!(validate_message(msg), Ok(msg));
    }
    if let Ok(room) = validate_room(text) {
        assert_eq!(validate_room(room), Ok(room));
    }
}
