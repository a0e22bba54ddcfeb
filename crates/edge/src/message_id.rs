//! Message ids: unique across the cluster without coordination, sortable by time, and
//! short enough for what ESMEs store.
//!
//! An id is 20 characters of Crockford base32 (`0-9A-Z` without `I L O U`), 100 bits:
//!
//! | bits | what |
//! | --- | --- |
//! | 44 | milliseconds since 2020-01-01 UTC (good until the year 2577) |
//! | 40 | this process's instance tag, random at start |
//! | 16 | a counter within the millisecond |
//!
//! Ids from one process are strictly increasing. Two processes can only collide if they
//! drew the same 40-bit tag (about one pair in 10^12) *and* used the same millisecond and
//! counter value. The text is plain alphanumerics, so it passes through any ESME database
//! column, receipt text (`id:`) and `receipted_message_id` TLV (up to 65 octets) as is.
//!
//! The generator is lock-free: one atomic holds the last (millisecond, counter) pair.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Length of an id in characters.
pub const ID_LEN: usize = 20;

/// 2020-01-01T00:00:00Z in Unix milliseconds.
const EPOCH_UNIX_MS: u64 = 1_577_836_800_000;
const COUNTER_BITS: u32 = 16;
const TAG_BITS: u32 = 40;
const TIME_BITS: u32 = 44;
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Makes message ids for one process. Share it (`Arc` or a static); it never locks.
#[derive(Debug)]
pub struct MessageIdGenerator {
    tag: u64,
    /// `(ms since EPOCH) << COUNTER_BITS | counter` of the last id handed out.
    last: AtomicU64,
}

impl MessageIdGenerator {
    /// A generator with a random instance tag.
    pub fn new() -> Self {
        Self::with_tag(random_tag())
    }

    /// A generator with a given tag (tests; the low 40 bits are used).
    pub fn with_tag(tag: u64) -> Self {
        MessageIdGenerator {
            tag: tag & ((1 << TAG_BITS) - 1),
            last: AtomicU64::new(0),
        }
    }

    /// The next id.
    pub fn next_id(&self) -> MessageId {
        self.next_at(SystemTime::now())
    }

    /// The next id as if the clock read `now`. The clock going backwards never produces
    /// a smaller or repeated id: the generator keeps counting from its last value.
    pub fn next_at(&self, now: SystemTime) -> MessageId {
        let ms = now
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_millis()
            .saturating_sub(u128::from(EPOCH_UNIX_MS));
        let ms = u64::try_from(ms).unwrap_or(u64::MAX) & ((1 << TIME_BITS) - 1);
        let floor = ms << COUNTER_BITS;
        let mut last = self.last.load(Ordering::Relaxed);
        loop {
            // Past the counter's end the time field simply moves on a millisecond early.
            let next = if floor > last { floor } else { last + 1 };
            match self
                .last
                .compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => {
                    let value = (u128::from(next >> COUNTER_BITS) << (TAG_BITS + COUNTER_BITS))
                        | (u128::from(self.tag) << COUNTER_BITS)
                        | u128::from(next & ((1 << COUNTER_BITS) - 1));
                    return MessageId::from_value(value);
                }
                Err(actual) => last = actual,
            }
        }
    }
}

impl Default for MessageIdGenerator {
    fn default() -> Self {
        Self::new()
    }
}

/// A message id: 20 ASCII characters.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageId([u8; ID_LEN]);

impl MessageId {
    fn from_value(mut value: u128) -> Self {
        let mut text = [0u8; ID_LEN];
        for slot in text.iter_mut().rev() {
            *slot = ALPHABET[(value & 31) as usize];
            value >>= 5;
        }
        MessageId(text)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Every byte comes from ALPHABET, which is ASCII.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// Parses an id made by [`MessageIdGenerator`]; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let bytes: [u8; ID_LEN] = text.as_bytes().try_into().ok()?;
        bytes
            .iter()
            .all(|b| ALPHABET.contains(b))
            .then_some(MessageId(bytes))
    }

    /// When the id was made.
    pub fn timestamp(&self) -> SystemTime {
        let mut value: u128 = 0;
        for b in self.0 {
            let digit = ALPHABET.iter().position(|&a| a == b).unwrap_or(0);
            value = (value << 5) | digit as u128;
        }
        let ms = u64::try_from(value >> (TAG_BITS + COUNTER_BITS)).unwrap_or(0);
        UNIX_EPOCH + Duration::from_millis(EPOCH_UNIX_MS + ms)
    }
}

impl std::fmt::Display for MessageId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for MessageId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MessageId({})", self.as_str())
    }
}

/// 40 bits that differ between processes: the OS's randomly keyed hasher, fed the pid,
/// the time and an address of this process.
fn random_tag() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_nanos(),
    );
    let local = 0u8;
    hasher.write_usize(std::ptr::addr_of!(local) as usize);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::Arc;

    use super::*;

    #[test]
    fn ids_are_twenty_base32_characters_and_parse_back() {
        let id = MessageIdGenerator::with_tag(0xAB_CDEF_0123).next_id();
        assert_eq!(id.as_str().len(), ID_LEN);
        assert_eq!(MessageId::parse(id.as_str()), Some(id));
        assert_eq!(
            MessageId::parse("0123456789ABCDEFGHJI"),
            None,
            "I is not in the alphabet"
        );
        assert_eq!(MessageId::parse("short"), None);
    }

    #[test]
    fn ids_carry_their_millisecond() {
        let at = UNIX_EPOCH + Duration::from_millis(1_764_115_200_123);
        let id = MessageIdGenerator::with_tag(1).next_at(at);
        assert_eq!(id.timestamp(), at);
    }

    #[test]
    fn ids_increase_within_a_millisecond_and_when_the_clock_steps_back() {
        let generator = MessageIdGenerator::with_tag(7);
        let t = UNIX_EPOCH + Duration::from_secs(1_764_115_200);
        let mut previous = generator.next_at(t);
        for i in 0..200_000u64 {
            // Stuck clock, then one going backwards.
            let now = if i < 100_000 {
                t
            } else {
                t - Duration::from_millis(i % 50)
            };
            let id = generator.next_at(now);
            assert!(id > previous, "{id} after {previous}");
            previous = id;
        }
    }

    #[test]
    fn threads_sharing_a_generator_never_get_the_same_id() {
        let generator = Arc::new(MessageIdGenerator::new());
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let generator = generator.clone();
                std::thread::spawn(move || {
                    (0..50_000).map(|_| generator.next_id()).collect::<Vec<_>>()
                })
            })
            .collect();
        let mut seen = HashSet::new();
        for handle in handles {
            for id in handle.join().unwrap() {
                assert!(seen.insert(id), "duplicate {id}");
            }
        }
    }

    #[test]
    fn generators_with_different_tags_never_collide_at_the_same_instant() {
        let t = UNIX_EPOCH + Duration::from_secs(1_764_115_200);
        let a = MessageIdGenerator::with_tag(1);
        let b = MessageIdGenerator::with_tag(2);
        let ids_a: HashSet<_> = (0..1000).map(|_| a.next_at(t)).collect();
        assert!((0..1000).all(|_| !ids_a.contains(&b.next_at(t))));
    }
}
