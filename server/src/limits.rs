//! What one client may cost: how fast it may send, and how many connections
//! the server (and one address) may hold.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// A token bucket: `rate` frames per second on average, `burst` at once.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    rate: f64,
    burst: f64,
    tokens: f64,
    updated: Instant,
}

impl RateLimiter {
    pub(crate) fn new(rate: f64, burst: u32, now: Instant) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            rate: rate.max(f64::MIN_POSITIVE),
            burst,
            tokens: burst,
            updated: now,
        }
    }

    /// Takes a token if there is one; otherwise says how long until there is.
    pub(crate) fn try_take(&mut self, now: Instant) -> Result<(), Duration> {
        match self.wait(now, 1.0) {
            wait if wait.is_zero() => {
                self.spend(now, 1.0);
                Ok(())
            }
            wait => Err(wait),
        }
    }

    /// How long until the bucket holds `tokens` (zero if it does now).
    pub(crate) fn wait(&mut self, now: Instant, tokens: f64) -> Duration {
        self.refill(now);
        if self.tokens >= tokens {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((tokens - self.tokens) / self.rate)
        }
    }

    /// Takes `tokens`, into debt if there are not that many: a cost known
    /// only afterwards (the size of an answer) is still paid.
    pub(crate) fn spend(&mut self, now: Instant, tokens: f64) {
        self.refill(now);
        self.tokens -= tokens;
    }

    /// Gives one token back (never above the burst): what was taken
    /// turned out not to count.
    pub(crate) fn give_back(&mut self, now: Instant) {
        self.refill(now);
        self.tokens = (self.tokens + 1.0).min(self.burst);
    }

    /// Whether the bucket has refilled, and so is the same as a new one.
    pub(crate) fn is_full(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= self.burst
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.updated = now;
    }
}

/// Counts open connections, globally and per address.
#[derive(Debug)]
pub(crate) struct Admission {
    max_total: usize,
    max_per_ip: usize,
    open: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_address: HashMap<IpAddr, usize>,
}

/// What counts as one address for the per-address caps: an IPv4 address,
/// or an IPv6 /64, the block one subscriber is given (and can pick any
/// address of).
pub(crate) fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !u128::from(u64::MAX);
                IpAddr::V6(Ipv6Addr::from(prefix))
            }
        },
    }
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refusal {
    #[error("The server is full; try again later.")]
    ServerFull,
    #[error("Too many connections from your address.")]
    TooManyFromAddress,
}

/// One admitted connection; dropping it frees its place.
#[derive(Debug)]
pub(crate) struct Ticket {
    admission: Arc<Admission>,
    /// The address counted against its cap (none for a trusted proxy's).
    address: Option<IpAddr>,
}

impl Admission {
    pub(crate) fn new(max_total: usize, max_per_ip: usize) -> Arc<Self> {
        Arc::new(Self {
            max_total,
            max_per_ip,
            open: Mutex::default(),
        })
    }

    /// Admits a connection from `ip` if both caps allow it.
    pub(crate) fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Ticket, Refusal> {
        let address = address_key(ip);
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if open.total >= self.max_total {
            return Err(Refusal::ServerFull);
        }
        let from_address = open.per_address.entry(address).or_default();
        if *from_address >= self.max_per_ip {
            return Err(Refusal::TooManyFromAddress);
        }
        *from_address += 1;
        open.total += 1;
        Ok(Ticket {
            admission: Arc::clone(self),
            address: Some(address),
        })
    }

    /// Admits a connection from a trusted reverse proxy, under the total
    /// cap only: it carries everyone's connections, and whose each one is
    /// shows only in its request.
    pub(crate) fn admit_proxied(self: &Arc<Self>) -> Result<Ticket, Refusal> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if open.total >= self.max_total {
            return Err(Refusal::ServerFull);
        }
        open.total += 1;
        Ok(Ticket {
            admission: Arc::clone(self),
            address: None,
        })
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut open = self
            .admission
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        open.total = open.total.saturating_sub(1);
        let Some(address) = self.address else {
            return;
        };
        if let Some(count) = open.per_address.get_mut(&address) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.per_address.remove(&address);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_allows_a_burst_then_the_rate() {
        let start = Instant::now();
        let mut bucket = RateLimiter::new(5.0, 10, start);
        for _ in 0..10 {
            assert_eq!(bucket.try_take(start), Ok(()));
        }
        let wait = bucket.try_take(start).expect_err("burst spent");
        assert_eq!(wait, Duration::from_millis(200));
        // 200 ms later there is exactly one more token.
        let later = start + Duration::from_millis(200);
        assert_eq!(bucket.try_take(later), Ok(()));
        assert!(bucket.try_take(later).is_err());
        // Idle for long, it refills only up to the burst.
        let much_later = later + Duration::from_secs(60);
        for _ in 0..10 {
            assert_eq!(bucket.try_take(much_later), Ok(()));
        }
        assert!(bucket.try_take(much_later).is_err());
    }

    #[test]
    fn admission_caps_total_and_per_address() {
        let admission = Admission::new(3, 2);
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        let first = admission.admit(a).expect("first");
        let _second = admission.admit(a).expect("second");
        assert_eq!(admission.admit(a).err(), Some(Refusal::TooManyFromAddress));
        let _third = admission.admit(b).expect("other address");
        assert_eq!(admission.admit(b).err(), Some(Refusal::ServerFull));
        drop(first);
        assert!(admission.admit(a).is_ok());
    }

    #[test]
    fn an_ipv6_slash_64_is_one_address() {
        let admission = Admission::new(10, 2);
        let one: IpAddr = "2001:db8:1:2::1".parse().expect("ip");
        let same_block: IpAddr = "2001:db8:1:2:ffff:ffff:ffff:ffff".parse().expect("ip");
        let next_block: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        let _a = admission.admit(one).expect("first");
        let _b = admission.admit(same_block).expect("second");
        assert_eq!(
            admission
                .admit("2001:db8:1:2::abcd".parse().expect("ip"))
                .err(),
            Some(Refusal::TooManyFromAddress)
        );
        assert!(admission.admit(next_block).is_ok());
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().expect("ip");
        assert_eq!(address_key(mapped), IpAddr::from([10, 0, 0, 1]));
    }
}

/// Which pages may open a WebSocket: a defence against Cross-Site WebSocket
/// Hijacking, where a page on another site uses the visitor's browser to
/// talk to this server, and against DNS rebinding, where another site's
/// name is pointed at this server (so comparing `Origin` with `Host` would
/// pass: both name the attacker's site).
#[derive(Debug, Clone)]
pub(crate) struct OriginPolicy {
    /// Exact origins (`scheme://host[:port]`), lower-cased: the server's
    /// public ones and the extra allowed ones.
    allowed: Vec<String>,
    /// Whether a request without an `Origin` header (not a browser) is refused.
    require: bool,
}

impl OriginPolicy {
    /// The server's public origins (or, when none are configured, the
    /// forms a browser on this machine uses for `bound`: its address and
    /// `localhost`), and `extra` origins (a development server).
    pub(crate) fn new(
        bound: SocketAddr,
        public: &[String],
        extra: &[String],
        require: bool,
    ) -> Self {
        let defaults = || {
            let port = bound.port();
            let mut own = vec![
                format!("http://localhost:{port}"),
                format!("http://127.0.0.1:{port}"),
                format!("http://[::1]:{port}"),
            ];
            if !bound.ip().is_unspecified() {
                own.push(format!("http://{bound}"));
            }
            own
        };
        let public = if public.is_empty() {
            defaults()
        } else {
            public.to_vec()
        };
        let mut allowed: Vec<String> = public
            .iter()
            .chain(extra)
            .map(|origin| origin.trim_end_matches('/').to_ascii_lowercase())
            .collect();
        allowed.sort();
        allowed.dedup();
        Self { allowed, require }
    }

    /// Whether a page from `origin` may connect.
    pub(crate) fn allows(&self, origin: Option<&str>) -> bool {
        match origin {
            None => !self.require,
            Some(origin) => self.allowed.contains(&origin.to_ascii_lowercase()),
        }
    }

    /// The origins allowed, for the log.
    pub(crate) fn origins(&self) -> &[String] {
        &self.allowed
    }
}

#[cfg(test)]
mod origin_tests {
    use super::OriginPolicy;

    #[test]
    fn the_public_origins_and_the_extra_ones_pass() {
        let bound = "127.0.0.1:8000".parse().expect("addr");
        let policy = OriginPolicy::new(
            bound,
            &["https://chat.example/".into()],
            &["http://127.0.0.1:8080".into()],
            false,
        );
        assert!(policy.allows(Some("https://chat.example")));
        assert!(policy.allows(Some("https://CHAT.example")));
        assert!(policy.allows(Some("http://127.0.0.1:8080")));
        assert!(
            !policy.allows(Some("http://chat.example")),
            "another scheme"
        );
        assert!(!policy.allows(Some("https://evil.example")));
        assert!(!policy.allows(Some("null")));
        assert!(
            !policy.allows(Some("http://127.0.0.1:8000")),
            "configured: only those"
        );
        assert!(policy.allows(None), "non-browser clients by default");
        assert!(!OriginPolicy::new(bound, &[], &[], true).allows(None));
    }

    #[test]
    fn without_configured_origins_the_bound_address_and_localhost_pass() {
        let policy = OriginPolicy::new("127.0.0.1:8000".parse().expect("addr"), &[], &[], false);
        for own in [
            "http://127.0.0.1:8000",
            "http://localhost:8000",
            "http://[::1]:8000",
        ] {
            assert!(policy.allows(Some(own)), "{own}");
        }
        // DNS rebinding: the attacker's name, now resolving to us.
        assert!(!policy.allows(Some("http://evil.example:8000")));
        assert!(!policy.allows(Some("http://localhost:8001")));
        let any = OriginPolicy::new("0.0.0.0:9000".parse().expect("addr"), &[], &[], false);
        assert!(any.allows(Some("http://localhost:9000")));
        assert!(!any.allows(Some("http://0.0.0.0:9000")));
    }
}
