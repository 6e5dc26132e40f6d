//! When to try reconnecting.

/// First retry after about this long.
const BASE_MS: u32 = 500;
/// Never wait longer than this between attempts: a server back after a
/// restart is found within it (sooner when the browser says it is online
/// again or the tab is shown, or the user asks).
const CAP_MS: u32 = 8_000;

/// The delay before reconnect attempt number `attempt` (0 for the first),
/// given a uniform random number in `[0, 1)`.
///
/// Exponential, capped, with jitter: the delay is drawn from the upper half
/// of the window, so a server restart is not met by every client at the same
/// instant, and nobody waits much less than the backoff intends.
pub fn reconnect_delay_ms(attempt: u32, random: f64) -> u32 {
    let window = BASE_MS.saturating_mul(1 << attempt.min(16)).min(CAP_MS);
    let jitter = random.clamp(0.0, 1.0) * f64::from(window / 2);
    window / 2 + jitter as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_then_caps() {
        let lows: Vec<u32> = (0..8).map(|a| reconnect_delay_ms(a, 0.0)).collect();
        assert_eq!(lows, [250, 500, 1000, 2000, 4000, 4000, 4000, 4000]);
        assert_eq!(reconnect_delay_ms(1_000, 0.999_999), 7_999);
    }

    #[test]
    fn jitter_spreads_within_the_upper_half_of_the_window() {
        assert_eq!(reconnect_delay_ms(2, 0.0), 1000);
        assert_eq!(reconnect_delay_ms(2, 0.5), 1500);
        assert!(reconnect_delay_ms(2, 0.999) < 2000);
        assert_eq!(reconnect_delay_ms(2, 7.0), 2000);
        assert_eq!(reconnect_delay_ms(2, f64::NAN), 1000);
    }
}
