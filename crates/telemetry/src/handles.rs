//! Metric handles for hot paths, cached per thread.
//!
//! `metrics::counter!(name, "account" => account.to_owned(), ...)` allocates its label
//! values and looks the series up in the recorder's registry (behind a lock) on every
//! call. Per-message code (the router's decision, receipts, deliveries) asks here instead:
//! the first call on a thread resolves the handle, later ones hash the borrowed label
//! values and clone it — no allocation, no shared lock. The caches hold one entry per
//! series, and label values come from the rules (bounded), never from traffic.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use metrics::{Counter, Histogram};

/// One cached series: its name and label values, and the handle.
struct Entry<H> {
    name: &'static str,
    values: Box<[String]>,
    handle: H,
}

/// Series by a hash of name and label values; a hash shared by two series keeps both.
type Cache<H> = HashMap<u64, Vec<Entry<H>>>;

thread_local! {
    static COUNTERS: RefCell<Cache<Counter>> = RefCell::new(HashMap::new());
    static HISTOGRAMS: RefCell<Cache<Histogram>> = RefCell::new(HashMap::new());
}

/// The counter `name` with these labels, from this thread's cache.
pub fn counter(name: &'static str, labels: &[(&'static str, &str)]) -> Counter {
    COUNTERS.with(|cache| {
        cached(&mut cache.borrow_mut(), name, labels, |owned| {
            metrics::counter!(name, owned)
        })
    })
}

/// The histogram `name` with these labels, from this thread's cache.
pub fn histogram(name: &'static str, labels: &[(&'static str, &str)]) -> Histogram {
    HISTOGRAMS.with(|cache| {
        cached(&mut cache.borrow_mut(), name, labels, |owned| {
            metrics::histogram!(name, owned)
        })
    })
}

fn cached<H: Clone>(
    cache: &mut Cache<H>,
    name: &'static str,
    labels: &[(&'static str, &str)],
    make: impl FnOnce(&[(&'static str, String)]) -> H,
) -> H {
    // Label keys are fixed per metric name: name and values identify the series.
    let mut hasher = std::hash::DefaultHasher::new();
    name.hash(&mut hasher);
    for (_, value) in labels {
        value.hash(&mut hasher);
    }
    let slot = cache.entry(hasher.finish()).or_default();
    let same = |e: &&Entry<H>| {
        e.name == name
            && e.values.len() == labels.len()
            && e.values.iter().zip(labels).all(|(v, (_, l))| v == l)
    };
    if let Some(entry) = slot.iter().find(same) {
        return entry.handle.clone();
    }
    let owned: Vec<(&'static str, String)> =
        labels.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
    let handle = make(&owned);
    slot.push(Entry {
        name,
        values: owned.into_iter().map(|(_, v)| v).collect(),
        handle: handle.clone(),
    });
    handle
}
