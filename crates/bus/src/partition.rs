//! Partitions: the per-message buckets (the status store and the carrier-id map) split by
//! key hash over several KV buckets (ADR 0021), and the accepted-MT, carrier-queue and
//! event streams split by account or carrier (ADR 0022), so that no one leader orders
//! every message's writes.
//!
//! Streams: partition `i` of `HERALD_MT` is `HERALD_MT_P<i>` past the first, holding the
//! subjects whose kind token carries `-p<i>` ([`crate::subject`]); the roles publish and
//! consume logical subjects and the bus places them ([`Partitions::place`],
//! [`Partitions::read_by`]).
//!
//! Partition `i` of bucket `herald_status` is the bucket `herald_status` when `i` is 0 and
//! `herald_status_p<i>` otherwise: a bucket's name depends on its index only, not on the
//! count, so one partition count's buckets are a prefix of a larger one's and a cluster
//! with one partition has the buckets it always had.
//!
//! A key's partition is `fnv1a32(key) % count`. Changing the count moves keys, so while it
//! changes every node reads a second layout too ([`Partitions::also_read`]): the count
//! goes up in two rolling steps, first teaching every reader the new layout, then writing
//! it (docs/operations.md, "Changing the partition count").

use std::borrow::Cow;

use async_nats::jetstream;

use crate::bucket::Bucket;
use crate::error::BusError;
use crate::subject;

/// The most partitions a bucket or stream may have: enough for the million messages a
/// second of docs/capacity.md (about 50 leaders of each per-message bucket at R3), few
/// enough that the chart's permissions, which name each partition, stay readable.
pub const MAX_PARTITIONS: u16 = 64;

/// How the per-message buckets are split.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Partitions {
    /// Partitions written (and read): 1 to [`MAX_PARTITIONS`].
    pub count: u16,
    /// Another count whose layout is read too, while the count changes: a key missing
    /// from its partition under `count` is looked for in its partition under this one.
    pub also_read: Option<u16>,
}

impl Default for Partitions {
    fn default() -> Self {
        Partitions::ONE
    }
}

impl Partitions {
    /// One partition: every bucket as it was before partitions.
    pub const ONE: Partitions = Partitions {
        count: 1,
        also_read: None,
    };

    /// `count` partitions, no second layout.
    pub fn new(count: u16) -> Self {
        Partitions {
            count,
            also_read: None,
        }
    }

    /// How many buckets of each partitioned kind exist: enough for both layouts.
    pub fn declared(self) -> u16 {
        self.count.max(self.also_read.unwrap_or(0)).max(1)
    }

    /// The partition `key` is written to.
    pub fn write_index(self, key: &str) -> usize {
        index(key, self.count)
    }

    /// The partition `key` is read from under the second layout, when that is another
    /// bucket than [`Partitions::write_index`].
    pub fn other_read_index(self, key: &str) -> Option<usize> {
        let other = index(key, self.also_read?);
        (other != self.write_index(key)).then_some(other)
    }
}

impl Partitions {
    /// `subject` as published under this layout: a partitioned stream's subject gets the
    /// mark of its key's partition ([`crate::subject::in_partition`]); any other, and one
    /// already marked for another count, is placed by its logical subject. Allocates only
    /// when the subject is or was marked.
    pub fn place(self, subject: &str) -> Cow<'_, str> {
        let logical = subject::logical(subject);
        let index = match subject::partition_key(&logical) {
            Some(key) if self.count > 1 => index(key, self.count),
            _ => 0,
        };
        match (logical, index) {
            (Cow::Borrowed(logical), 0) => Cow::Borrowed(logical),
            (Cow::Borrowed(logical), index) => {
                Cow::Owned(subject::in_partition(logical, index).into_owned())
            }
            (Cow::Owned(logical), index) => {
                Cow::Owned(subject::in_partition(&logical, index).into_owned())
            }
        }
    }

    /// The partitions a consumer with `filter` reads: every declared one for a filter over
    /// every key (`herald.mt.*`), else its key's partition and, while the count changes,
    /// its partition under the other count; `[0]` for a stream that is not partitioned.
    pub fn read_by(self, filter: &str) -> Vec<usize> {
        match subject::partition_key(filter) {
            None => vec![0],
            Some("*" | ">") => (0..usize::from(self.declared())).collect(),
            Some(key) => {
                let mut indices = vec![index(key, self.count)];
                indices.extend(self.also_read.map(|other| index(key, other)));
                indices.dedup();
                indices
            }
        }
    }
}

/// `key`'s partition among `count` (FNV-1a over its bytes: stable across versions and
/// platforms, which a layout shared by every node needs; keys are not chosen by anyone
/// who gains from a skew).
pub fn index(key: &str, count: u16) -> usize {
    (fnv1a(key) % u32::from(count.max(1))) as usize
}

/// FNV-1a, 32 bits, over `key`'s bytes: the bus's one stable hash (partitions here, the
/// shards of [`crate::kv`]'s memory of recent mappings).
pub(crate) fn fnv1a(key: &str) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in key.bytes() {
        hash = (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193);
    }
    hash
}

/// The name of partition `index` of the bucket `base`.
pub fn bucket_name(base: &str, index: usize) -> String {
    if index == 0 {
        base.to_owned()
    } else {
        format!("{base}_p{index}")
    }
}

/// Every bucket of one partitioned kind, and which of them a key goes to.
#[derive(Clone, Debug)]
pub(crate) struct PartitionedBucket {
    buckets: Vec<Bucket>,
    partitions: Partitions,
}

impl PartitionedBucket {
    /// Opens every partition of `base` the layout declares; operations are counted
    /// under `base` whichever partition they go to.
    pub(crate) async fn open(
        jetstream: &jetstream::Context,
        base: &'static str,
        partitions: Partitions,
    ) -> Result<Self, BusError> {
        let mut buckets = Vec::with_capacity(usize::from(partitions.declared()));
        for index in 0..usize::from(partitions.declared()) {
            buckets.push(Bucket::open_partition(jetstream, base, index).await?);
        }
        Ok(PartitionedBucket {
            buckets,
            partitions,
        })
    }

    /// The bucket `key` is written to (and read from first).
    pub(crate) fn of(&self, key: &str) -> &Bucket {
        &self.buckets[self.partitions.write_index(key)]
    }

    /// The bucket `key` is read from under the second layout, if another.
    pub(crate) fn other(&self, key: &str) -> Option<&Bucket> {
        self.partitions
            .other_read_index(key)
            .map(|index| &self.buckets[index])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_placed_by_their_key_and_consumers_read_what_they_need() {
        let one = Partitions::ONE;
        assert!(matches!(
            one.place("herald.mt.acme"),
            Cow::Borrowed("herald.mt.acme")
        ));
        assert_eq!(one.place("herald.mt-p2.acme"), "herald.mt.acme");
        let three = Partitions::new(3);
        let marked = three.place("herald.out.tmo.urgent");
        let expected = index("tmo", 3);
        assert_eq!(
            marked,
            subject::in_partition("herald.out.tmo.urgent", expected)
        );
        // Placing is idempotent, and a retry from another count's partition moves.
        assert_eq!(three.place(&marked), marked);
        assert_eq!(
            Partitions::new(5).place(&marked),
            Partitions::new(5).place("herald.out.tmo.urgent")
        );
        assert_eq!(three.place("herald.mo.tmo"), "herald.mo.tmo");
        assert_eq!(three.place("herald.dlq.mt.acme"), "herald.dlq.mt.acme");

        assert_eq!(three.read_by("herald.mt.*"), [0, 1, 2]);
        assert_eq!(three.read_by("herald.mo.>"), [0]);
        assert_eq!(three.read_by("herald.ev.acme.>"), [index("acme", 3)]);
        let changing = Partitions {
            count: 3,
            also_read: Some(1),
        };
        let key_partition = index("acme", 3);
        let expected: Vec<usize> = if key_partition == 0 {
            vec![0]
        } else {
            vec![key_partition, 0]
        };
        assert_eq!(changing.read_by("herald.ev.acme.>"), expected);
        let learning = Partitions {
            count: 1,
            also_read: Some(4),
        };
        assert_eq!(learning.read_by("herald.mt.*.urgent"), [0, 1, 2, 3]);
    }

    #[test]
    fn one_partition_is_the_bucket_as_it_was() {
        assert_eq!(bucket_name("herald_status", 0), "herald_status");
        assert_eq!(bucket_name("herald_status", 3), "herald_status_p3");
        for key in ["", "a", "01JD4Z8Q6X2B5R0M3KTW", "tmo.=2Eid"] {
            assert_eq!(Partitions::ONE.write_index(key), 0);
            assert_eq!(Partitions::ONE.other_read_index(key), None);
        }
    }

    #[test]
    fn the_hash_is_fnv1a_and_fixed() {
        // FNV-1a 32 test vectors: a layout shared by every node must never change.
        assert_eq!(index("a", u16::MAX), (0xe40c_292c_u32 % 65_535) as usize);
        assert_eq!(
            index("foobar", u16::MAX),
            (0xbf9c_f968_u32 % 65_535) as usize
        );
    }

    #[test]
    fn keys_spread_over_the_partitions() {
        let mut counts = [0usize; 3];
        for n in 0..30_000 {
            counts[index(&format!("01JD4Z8Q6X2B5R{n:06}"), 3)] += 1;
        }
        for count in counts {
            assert!((9_000..11_000).contains(&count), "{counts:?}");
        }
    }

    #[test]
    fn a_second_layout_is_read_only_where_it_differs() {
        let changing = Partitions {
            count: 3,
            also_read: Some(1),
        };
        assert_eq!(changing.declared(), 3);
        let mut differs = 0;
        for n in 0..300 {
            let key = format!("k{n}");
            match changing.other_read_index(&key) {
                Some(other) => {
                    assert_eq!(other, 0);
                    assert_ne!(changing.write_index(&key), 0);
                    differs += 1;
                }
                None => assert_eq!(changing.write_index(&key), 0),
            }
        }
        assert!(differs > 150, "{differs}");
        let growing_readers = Partitions {
            count: 1,
            also_read: Some(4),
        };
        assert_eq!(growing_readers.declared(), 4);
    }
}
