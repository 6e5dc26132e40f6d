//! Unpredictable identifiers, from the browser's cryptographic generator.
//!
//! `Math.random` is not: a few of its outputs (message ids are visible to
//! everyone) are enough to compute the others, the browser token included.

/// `bytes` random bytes as lower-case hex.
pub fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    let filled = web_sys::window()
        .and_then(|window| window.crypto().ok())
        .is_some_and(|crypto| crypto.get_random_values_with_u8_array(&mut buffer).is_ok());
    if !filled {
        // Every browser that runs WebAssembly has `crypto`; if not, the ids
        // are still unique, only guessable.
        gloo::console::warn!("no crypto.getRandomValues: using Math.random");
        for byte in &mut buffer {
            *byte = (js_sys::Math::random() * 256.0) as u8;
        }
    }
    // By hand: `format!("{:02x}")` brings the formatter's padding code.
    const HEX: &[u8; 16] = b"0123456789abcdef";
    buffer
        .iter()
        .flat_map(|byte| [HEX[usize::from(byte >> 4)], HEX[usize::from(byte & 15)]])
        .map(char::from)
        .collect()
}
