//! What one address and one name may spend across all their connections.
//!
//! A connection's own token bucket (`limits::RateLimiter`) starts full, so
//! on its own it is no limit for a client that reconnects, or opens fifty
//! tabs: each new connection would bring a fresh burst. These budgets
//! outlive connections: posts are counted per name and per address, typing
//! per name, WebSocket upgrades per address, and history pages per address
//! by the bytes they return. A bucket that has refilled is forgotten (it is
//! the same as a new one), so memory follows the clients active in the
//! last few seconds, not all that ever came.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::limits::{address_key, RateLimiter};

/// A rate and the burst allowed above it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rate {
    pub(crate) per_second: f64,
    pub(crate) burst: u32,
}

/// The budgets' rates, from the config.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BudgetRates {
    pub(crate) posts_per_name: Rate,
    pub(crate) posts_per_address: Rate,
    pub(crate) typing_per_name: Rate,
    pub(crate) joins_per_address: Rate,
    pub(crate) history_bytes_per_address: Rate,
    /// Wrong passwords, per name and per address: slow enough that a
    /// password cannot be guessed online.
    pub(crate) sign_ins_per_name: Rate,
    pub(crate) sign_ins_per_address: Rate,
    /// API tokens made, per name.
    pub(crate) tokens_per_name: Rate,
    /// A name's messages counted for a purge's question, per moderator:
    /// each reads the room's whole history.
    pub(crate) counts_per_name: Rate,
}

impl BudgetRates {
    pub(crate) fn from_config(config: &Config) -> Self {
        Self {
            posts_per_name: Rate {
                per_second: config.rate_limit,
                burst: config.rate_burst,
            },
            posts_per_address: Rate {
                per_second: config.address_rate_limit,
                burst: config.address_rate_burst,
            },
            // One relay per typing interval, whichever tab types.
            typing_per_name: Rate {
                per_second: 1000.0 / protocol::TYPING_INTERVAL_MS as f64,
                burst: 1,
            },
            joins_per_address: Rate {
                per_second: config.join_rate_limit,
                burst: config.join_rate_burst,
            },
            history_bytes_per_address: Rate {
                per_second: config.history_rate_bytes as f64,
                burst: config.history_burst_bytes,
            },
            sign_ins_per_name: per_minute(config.sign_ins_per_minute),
            sign_ins_per_address: per_minute(config.address_sign_ins_per_minute),
            // Ten at once, then one every six minutes.
            tokens_per_name: Rate {
                per_second: 1.0 / 360.0,
                burst: 10,
            },
            // Ten at once (a moderator clearing out a wave of spam names),
            // then one every three seconds.
            counts_per_name: Rate {
                per_second: 1.0 / 3.0,
                burst: 10,
            },
        }
    }
}

/// `count` a minute, all of them at once at most.
fn per_minute(count: u32) -> Rate {
    Rate {
        per_second: f64::from(count) / 60.0,
        burst: count,
    }
}

/// What is being spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Spending {
    Post,
    Typing,
    Join,
    HistoryBytes,
    SignIn,
    Token,
    Count,
}

/// Every address's and name's buckets.
pub(crate) struct Budgets {
    rates: BudgetRates,
    buckets: Mutex<Buckets>,
}

#[derive(Default)]
struct Buckets {
    by_address: HashMap<(IpAddr, Spending), RateLimiter>,
    by_name: HashMap<(String, Spending), RateLimiter>,
}

impl Buckets {
    /// `address`'s bucket for `spending` (its /64 for IPv6).
    fn of_address(
        &mut self,
        address: IpAddr,
        spending: Spending,
        rate: Rate,
        now: Instant,
    ) -> &mut RateLimiter {
        bucket(
            &mut self.by_address,
            (address_key(address), spending),
            rate,
            now,
        )
    }

    /// One of `spending` from `name`'s bucket and `address`'s (at rates
    /// `(by name, by address)`), or the longer wait of the two: a refusal
    /// spends neither.
    fn take_both(
        &mut self,
        name: &str,
        address: Option<IpAddr>,
        spending: Spending,
        (name_rate, address_rate): (Rate, Rate),
        now: Instant,
    ) -> Result<(), Duration> {
        let by_name = bucket(
            &mut self.by_name,
            (name.to_owned(), spending),
            name_rate,
            now,
        );
        let mut by_address = address.map(|address| {
            bucket(
                &mut self.by_address,
                (address_key(address), spending),
                address_rate,
                now,
            )
        });
        let wait = by_name.wait(now, 1.0).max(
            by_address
                .as_mut()
                .map_or(Duration::ZERO, |b| b.wait(now, 1.0)),
        );
        if !wait.is_zero() {
            return Err(wait);
        }
        by_name.spend(now, 1.0);
        if let Some(by_address) = by_address {
            by_address.spend(now, 1.0);
        }
        Ok(())
    }
}

impl Budgets {
    pub(crate) fn new(rates: BudgetRates) -> Self {
        Self {
            rates,
            buckets: Mutex::default(),
        }
    }

    /// One message posted by `name` from `address`, or how long until one
    /// may be. Both budgets must allow it; a refusal spends neither.
    pub(crate) fn post(
        &self,
        name: &str,
        address: Option<IpAddr>,
        now: Instant,
    ) -> Result<(), Duration> {
        let mut buckets = self.lock();
        let rates = (self.rates.posts_per_name, self.rates.posts_per_address);
        buckets.take_both(name, address, Spending::Post, rates, now)?;
        // A post ends a typing spell: typing the next message is news.
        buckets.by_name.remove(&(name.to_owned(), Spending::Typing));
        Ok(())
    }

    /// One password attempt for the name keyed `name_key` from `address`,
    /// or how long until one may be. Both budgets must allow it. Taken
    /// before the password is checked, so that guesses sent at once count
    /// as many; given back by [`Budgets::sign_in_was_no_guess`].
    pub(crate) fn sign_in(
        &self,
        name_key: &str,
        address: Option<IpAddr>,
        now: Instant,
    ) -> Result<(), Duration> {
        let rates = (
            self.rates.sign_ins_per_name,
            self.rates.sign_ins_per_address,
        );
        self.lock()
            .take_both(name_key, address, Spending::SignIn, rates, now)
    }

    /// Gives back the attempt [`Budgets::sign_in`] took: the password was
    /// right, or the name is nobody's. Only wrong guesses at a claimed
    /// name count (once, five sign-ins as an unclaimed name shut out an
    /// address's members).
    pub(crate) fn sign_in_was_no_guess(
        &self,
        name_key: &str,
        address: Option<IpAddr>,
        now: Instant,
    ) {
        let mut buckets = self.lock();
        if let Some(bucket) = buckets
            .by_name
            .get_mut(&(name_key.to_owned(), Spending::SignIn))
        {
            bucket.give_back(now);
        }
        if let Some(address) = address {
            let key = (address_key(address), Spending::SignIn);
            if let Some(bucket) = buckets.by_address.get_mut(&key) {
                bucket.give_back(now);
            }
        }
    }

    /// One API token made for the name keyed `name_key`, or how long
    /// until one may be.
    pub(crate) fn mint_token(&self, name_key: &str, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.lock();
        let key = (name_key.to_owned(), Spending::Token);
        bucket(&mut buckets.by_name, key, self.rates.tokens_per_name, now).try_take(now)
    }

    /// One count of a name's messages (a full read of a room's history)
    /// asked by the moderator keyed `name_key`, or how long until one may be.
    pub(crate) fn count_messages(&self, name_key: &str, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.lock();
        let key = (name_key.to_owned(), Spending::Count);
        bucket(&mut buckets.by_name, key, self.rates.counts_per_name, now).try_take(now)
    }

    /// Whether `name`'s typing may be relayed now (one relay per interval,
    /// whichever of their connections types).
    pub(crate) fn typing(&self, name: &str, now: Instant) -> bool {
        let mut buckets = self.lock();
        let key = (name.to_owned(), Spending::Typing);
        let bucket = bucket(&mut buckets.by_name, key, self.rates.typing_per_name, now);
        bucket.try_take(now).is_ok()
    }

    /// One WebSocket upgrade from `address`, or how long until one may be.
    pub(crate) fn join(&self, address: IpAddr, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.lock();
        let key = (address_key(address), Spending::Join);
        bucket(
            &mut buckets.by_address,
            key,
            self.rates.joins_per_address,
            now,
        )
        .try_take(now)
    }

    /// Whether `address` may read a history page now: it may while it is
    /// not in debt for the bytes its earlier pages returned.
    pub(crate) fn may_read_history(&self, address: IpAddr, now: Instant) -> Result<(), Duration> {
        let rate = self.rates.history_bytes_per_address;
        let mut buckets = self.lock();
        let bucket = buckets.of_address(address, Spending::HistoryBytes, rate, now);
        match bucket.wait(now, 1.0) {
            wait if wait.is_zero() => Ok(()),
            wait => Err(wait),
        }
    }

    /// Charges `address` for a history page of `bytes`, once its size is
    /// known (the bucket may go into debt).
    pub(crate) fn read_history(&self, address: IpAddr, bytes: usize, now: Instant) {
        let rate = self.rates.history_bytes_per_address;
        self.lock()
            .of_address(address, Spending::HistoryBytes, rate, now)
            .spend(now, bytes as f64);
    }

    /// Forgets the buckets that have refilled. Called on the room's clock.
    pub(crate) fn forget_refilled(&self, now: Instant) {
        let mut buckets = self.lock();
        buckets.by_address.retain(|_, bucket| !bucket.is_full(now));
        buckets.by_name.retain(|_, bucket| !bucket.is_full(now));
    }

    /// How many buckets are kept (for tests of the forgetting).
    #[cfg(test)]
    fn kept(&self) -> usize {
        let buckets = self.lock();
        buckets.by_address.len() + buckets.by_name.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Buckets> {
        self.buckets.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The bucket under `key`, a full one if there is none yet.
fn bucket<K: Eq + Hash>(
    buckets: &mut HashMap<K, RateLimiter>,
    key: K,
    rate: Rate,
    now: Instant,
) -> &mut RateLimiter {
    buckets
        .entry(key)
        .or_insert_with(|| RateLimiter::new(rate.per_second, rate.burst, now))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rates() -> BudgetRates {
        let rate = |per_second, burst| Rate { per_second, burst };
        BudgetRates {
            posts_per_name: rate(5.0, 10),
            posts_per_address: rate(20.0, 40),
            typing_per_name: rate(1.0 / 3.0, 1),
            joins_per_address: rate(2.0, 3),
            history_bytes_per_address: rate(1000.0, 5000),
            sign_ins_per_name: rate(5.0 / 60.0, 5),
            sign_ins_per_address: rate(20.0 / 60.0, 20),
            tokens_per_name: rate(1.0 / 360.0, 10),
            counts_per_name: rate(1.0 / 3.0, 10),
        }
    }

    #[test]
    fn a_moderator_counts_ten_at_once_then_one_every_three_seconds() {
        let budgets = Budgets::new(rates());
        let now = Instant::now();
        for _ in 0..10 {
            assert_eq!(budgets.count_messages("mod", now), Ok(()));
        }
        let wait = budgets.count_messages("mod", now).expect_err("held back");
        assert!(wait <= Duration::from_secs(3), "{wait:?}");
        assert_eq!(budgets.count_messages("other mod", now), Ok(()));
        assert_eq!(budgets.count_messages("mod", now + wait), Ok(()));
    }

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    #[test]
    fn a_name_has_one_budget_whatever_its_connections() {
        let budgets = Budgets::new(rates());
        let now = Instant::now();
        for n in 0..10 {
            let address = if n % 2 == 0 { A } else { B };
            assert_eq!(budgets.post("alice", Some(address), now), Ok(()));
        }
        let wait = budgets.post("alice", Some(A), now).expect_err("spent");
        assert_eq!(wait, Duration::from_millis(200));
        assert_eq!(budgets.post("bob", Some(A), now), Ok(()));
        let later = now + Duration::from_millis(200);
        assert_eq!(budgets.post("alice", Some(A), later), Ok(()));
    }

    #[test]
    fn an_address_has_one_budget_whatever_the_names() {
        let budgets = Budgets::new(rates());
        let now = Instant::now();
        for n in 0..40 {
            assert_eq!(budgets.post(&format!("user{n}"), Some(A), now), Ok(()));
        }
        assert!(budgets.post("fresh", Some(A), now).is_err());
        // The refusal spent nothing of the name's own budget.
        for _ in 0..10 {
            assert_eq!(budgets.post("fresh", Some(B), now), Ok(()));
        }
    }

    #[test]
    fn password_attempts_are_limited_per_name_and_per_address() {
        let budgets = Budgets::new(rates());
        let now = Instant::now();
        for _ in 0..5 {
            assert_eq!(budgets.sign_in("alice", Some(A), now), Ok(()));
        }
        let wait = budgets
            .sign_in("alice", Some(B), now)
            .expect_err("the name's");
        assert_eq!(wait, Duration::from_secs(12));
        // The address has room for other names: its limit is its own.
        for name in ["bob", "carol", "dave"] {
            for _ in 0..5 {
                assert_eq!(budgets.sign_in(name, Some(A), now), Ok(()));
            }
        }
        let wait = budgets
            .sign_in("erin", Some(A), now)
            .expect_err("the address's");
        assert_eq!(wait, Duration::from_secs(3));
        assert_eq!(budgets.sign_in("erin", Some(B), now), Ok(()));
        assert_eq!(
            budgets.sign_in("alice", Some(B), now + Duration::from_secs(12)),
            Ok(())
        );
    }

    #[test]
    fn attempts_that_were_no_guess_are_given_back() {
        let budgets = Budgets::new(rates());
        let now = Instant::now();
        for _ in 0..50 {
            assert_eq!(budgets.sign_in("guest", Some(A), now), Ok(()));
            budgets.sign_in_was_no_guess("guest", Some(A), now);
        }
        assert_eq!(budgets.sign_in("alice", Some(A), now), Ok(()));
    }

    #[test]
    fn history_pages_are_paid_for_by_size() {
        let budgets = Budgets::new(rates());
        let now = Instant::now();
        assert_eq!(budgets.may_read_history(A, now), Ok(()));
        budgets.read_history(A, 6000, now);
        // In debt by 1,000 bytes, and one more to read again, at 1,000 a second.
        let wait = budgets.may_read_history(A, now).expect_err("in debt");
        assert_eq!(wait, Duration::from_millis(1001));
        assert_eq!(budgets.may_read_history(A, now + wait), Ok(()));
        assert_eq!(budgets.may_read_history(B, now), Ok(()));
    }

    #[test]
    fn joins_and_typing_are_limited() {
        let budgets = Budgets::new(rates());
        let now = Instant::now();
        for _ in 0..3 {
            assert_eq!(budgets.join(A, now), Ok(()));
        }
        assert_eq!(budgets.join(A, now), Err(Duration::from_millis(500)));
        assert!(budgets.typing("alice", now));
        assert!(!budgets.typing("alice", now + Duration::from_secs(1)));
        assert!(budgets.typing("alice", now + Duration::from_secs(3)));
        // Posting ends the spell: the next message's typing is relayed.
        let later = now + Duration::from_secs(4);
        assert!(!budgets.typing("alice", later));
        assert_eq!(budgets.post("alice", None, later), Ok(()));
        assert!(budgets.typing("alice", later));
    }

    #[test]
    fn refilled_buckets_are_forgotten() {
        let budgets = Budgets::new(rates());
        let now = Instant::now();
        assert_eq!(budgets.join(A, now), Ok(()));
        assert_eq!(budgets.post("alice", Some(B), now), Ok(()));
        assert_eq!(budgets.kept(), 3);
        budgets.forget_refilled(now);
        assert_eq!(budgets.kept(), 3, "all still spent");
        // Joins refill in half a second, posts in a fifth (name) and a
        // twentieth (address).
        budgets.forget_refilled(now + Duration::from_millis(250));
        assert_eq!(budgets.kept(), 1);
        budgets.forget_refilled(now + Duration::from_millis(500));
        assert_eq!(budgets.kept(), 0);
    }
}
