//! [`DigitTrie`]: a ten-way trie over decimal digit strings, the longest-prefix index of
//! route prefixes, network prefixes and price entries.
//!
//! A lookup walks the number one digit at a time (one array index per digit, no hashing),
//! so its cost depends on the number's length (≤ 23 digits), not on how many prefixes
//! the trie holds. Nodes live in one `Vec` and refer to each other by index: building is
//! a few allocations, and dropping a snapshot frees the whole trie at once.

/// One node: the child for each digit (0 = none; the root is never a child) and the index
/// + 1 of its value (0 = none).
#[derive(Clone, Copy, Debug, Default)]
struct Node {
    children: [u32; 10],
    value: u32,
}

/// A map from digit-string prefixes to values with longest-prefix lookups.
#[derive(Clone, Debug)]
pub(crate) struct DigitTrie<T> {
    nodes: Vec<Node>,
    values: Vec<T>,
}

impl<T> Default for DigitTrie<T> {
    fn default() -> Self {
        DigitTrie {
            nodes: vec![Node::default()],
            values: Vec::new(),
        }
    }
}

fn digit(b: u8) -> Option<usize> {
    b.is_ascii_digit().then(|| usize::from(b - b'0'))
}

impl<T> DigitTrie<T> {
    /// The number of prefixes held.
    pub(crate) fn len(&self) -> usize {
        self.values.len()
    }

    /// The node of `prefix`, made if missing; `None` if `prefix` is empty or holds a
    /// non-digit (the model validates prefixes, so this does not happen in practice).
    fn node_for(&mut self, prefix: &str) -> Option<usize> {
        if prefix.is_empty() {
            return None;
        }
        let mut node = 0usize;
        for b in prefix.bytes() {
            let d = digit(b)?;
            let child = self.nodes[node].children[d];
            node = if child == 0 {
                let next = u32::try_from(self.nodes.len()).ok()?;
                self.nodes.push(Node::default());
                self.nodes[node].children[d] = next;
                next as usize
            } else {
                child as usize
            };
        }
        Some(node)
    }

    /// Inserts `value` under `prefix` unless the prefix is taken; returns the current
    /// holder if it is (the first claim wins). A prefix that is not digits is ignored.
    pub(crate) fn claim(&mut self, prefix: &str, value: T) -> Option<&T> {
        let node = self.node_for(prefix)?;
        let held = self.nodes[node].value;
        if held != 0 {
            return self.values.get(held as usize - 1);
        }
        self.values.push(value);
        self.nodes[node].value = u32::try_from(self.values.len()).unwrap_or(0);
        None
    }

    /// The value under `prefix`, made with `make` if absent. `None` if `prefix` is not
    /// digits.
    pub(crate) fn get_or_insert_with(
        &mut self,
        prefix: &str,
        make: impl FnOnce() -> T,
    ) -> Option<&mut T> {
        let node = self.node_for(prefix)?;
        if self.nodes[node].value == 0 {
            self.values.push(make());
            self.nodes[node].value = u32::try_from(self.values.len()).unwrap_or(0);
        }
        let index = self.nodes[node].value as usize - 1;
        self.values.get_mut(index)
    }

    /// Every value whose prefix starts `number`, shortest prefix first, with the prefix
    /// length. Stops at the first non-digit.
    pub(crate) fn matches<'t, 'n>(&'t self, number: &'n str) -> Matches<'t, 'n, T> {
        Matches {
            trie: self,
            number: number.as_bytes(),
            depth: 0,
            node: 0,
        }
    }

    /// The value of the longest prefix of `number`, with that prefix's length.
    pub(crate) fn longest_match(&self, number: &str) -> Option<(usize, &T)> {
        let mut best = None;
        let mut node = 0usize;
        for (i, &b) in number.as_bytes().iter().enumerate() {
            let Some(d) = digit(b) else { break };
            let child = self.nodes[node].children[d];
            if child == 0 {
                break;
            }
            node = child as usize;
            let value = self.nodes[node].value;
            if value != 0 {
                best = Some((i + 1, value));
            }
        }
        best.and_then(|(len, v)| Some((len, self.values.get(v as usize - 1)?)))
    }

    /// Every value, in insertion order.
    pub(crate) fn values_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.values.iter_mut()
    }
}

/// See [`DigitTrie::matches`].
pub(crate) struct Matches<'t, 'n, T> {
    trie: &'t DigitTrie<T>,
    number: &'n [u8],
    depth: usize,
    node: usize,
}

impl<'t, T> Iterator for Matches<'t, '_, T> {
    type Item = (usize, &'t T);

    fn next(&mut self) -> Option<Self::Item> {
        while let Some(&b) = self.number.get(self.depth) {
            let d = digit(b)?;
            let child = self.trie.nodes[self.node].children[d];
            if child == 0 {
                self.depth = self.number.len();
                return None;
            }
            self.node = child as usize;
            self.depth += 1;
            let value = self.trie.nodes[self.node].value;
            if value != 0 {
                return Some((self.depth, self.trie.values.get(value as usize - 1)?));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn longest_prefix_wins_and_first_claim_holds() {
        let mut t = DigitTrie::default();
        assert!(t.claim("44", "uk").is_none());
        assert!(t.claim("4477", "uk-mobile").is_none());
        assert_eq!(t.claim("44", "other"), Some(&"uk"));
        assert!(t.claim("", "root").is_none(), "ignored");
        assert!(t.claim("4x", "bad").is_none(), "ignored");
        assert_eq!(t.len(), 2);
        assert_eq!(t.longest_match("447700900123"), Some((4, &"uk-mobile")));
        assert_eq!(t.longest_match("441234"), Some((2, &"uk")));
        assert_eq!(t.longest_match("4"), None);
        assert_eq!(t.longest_match("33612"), None);
        assert_eq!(t.longest_match("+44"), None, "not digits");
        assert_eq!(t.longest_match("44a77"), Some((2, &"uk")));
        let all: Vec<_> = t.matches("447712").collect();
        assert_eq!(all, vec![(2, &"uk"), (4, &"uk-mobile")]);
        assert_eq!(t.matches("4").count(), 0);
        *t.get_or_insert_with("4477", || "x").unwrap() = "changed";
        assert_eq!(t.longest_match("4477"), Some((4, &"changed")));
        assert_eq!(*t.get_or_insert_with("1", || "us").unwrap(), "us");
    }

    fn digits(max: usize) -> impl Strategy<Value = String> {
        proptest::collection::vec(0u8..4, 1..=max)
            .prop_map(|d| d.into_iter().map(|d| char::from(b'0' + d)).collect())
    }

    proptest! {
        /// The trie agrees with a linear scan over the same prefixes: the longest match,
        /// and the full list of matches in order of length.
        #[test]
        fn agrees_with_a_linear_scan(
            prefixes in proptest::collection::vec(digits(6), 0..60),
            numbers in proptest::collection::vec(digits(9), 1..20),
        ) {
            let mut trie = DigitTrie::default();
            let mut model: Vec<(String, usize)> = Vec::new();
            for (i, p) in prefixes.iter().enumerate() {
                let claimed = trie.claim(p, i).is_none();
                let first = !model.iter().any(|(q, _)| q == p);
                prop_assert_eq!(claimed, first);
                if first {
                    model.push((p.clone(), i));
                }
            }
            for n in &numbers {
                let mut expected: Vec<(usize, &usize)> = model
                    .iter()
                    .filter(|(p, _)| n.starts_with(p.as_str()))
                    .map(|(p, v)| (p.len(), v))
                    .collect();
                expected.sort();
                prop_assert_eq!(trie.matches(n).collect::<Vec<_>>(), expected.clone());
                prop_assert_eq!(trie.longest_match(n), expected.last().copied());
            }
        }
    }
}
