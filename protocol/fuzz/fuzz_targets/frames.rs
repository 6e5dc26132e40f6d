//! Any bytes, as a client or server frame: parsing and validation must
//! answer (Ok or a precise Err), never panic, and what parses must survive
//! a round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    protocol::fuzzing::check_bytes(data);
});
