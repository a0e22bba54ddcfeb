//! Text coding, receipt parsing and coding choice, in characters, receipts or plans per second.
//!
//! - `gsm7/160_septets`: [`gsm7::pack`] of 160 unpacked septets into 140 octets (no fill
//!   bits), and [`gsm7::unpack`] of those 140 octets back, septet count taken from the length
//!   as SMPP gives it; throughput in septets.
//! - `gsm7_text/160_chars`: [`text::encode`] of a 160-character GSM text with five extension
//!   characters (`€ { } [ ]`, 165 septets) to unpacked septets, and [`text::decode`] back;
//!   throughput in characters.
//! - `receipt/parse`: [`DeliveryReceipt::parse`] of the canonical receipt text and of a
//!   dialect with upper-case names, 12-digit dates and a hex id; throughput in receipts.
//! - `plan`: [`text::plan`] with default options on a 300-character GSM text (GSM 7-bit, two
//!   segments) and a 100-character text with an emoji (UCS-2, two segments); throughput in
//!   plans.
//!
//! `cargo bench -p herald-benches --bench text -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use herald_smpp::receipt::{DeliveryReceipt, MessageState};
use herald_smpp::text::{self, Encoding, PlanOptions, gsm7};

/// Repeats `pattern` until the text is exactly `chars` characters long.
fn text_of(pattern: &str, chars: usize) -> String {
    pattern.chars().cycle().take(chars).collect()
}

fn gsm7_packing(c: &mut Criterion) {
    let plain = text_of("Your Herald code is 493817. It expires in 10 min. ", 160);
    let septets = text::encode(&plain, Encoding::GSM7).expect("GSM text");
    assert_eq!(septets.len(), 160);
    let packed = gsm7::pack(&septets, 0).expect("packs");
    assert_eq!(packed.len(), 140);
    assert_eq!(gsm7::unpack(&packed, 0, None).expect("unpacks"), septets);

    let mut group = c.benchmark_group("gsm7/160_septets");
    group.throughput(Throughput::Elements(160));
    group.bench_function("pack", |b| {
        b.iter(|| black_box(gsm7::pack(black_box(&septets), 0).expect("packs")))
    });
    group.bench_function("unpack", |b| {
        b.iter(|| black_box(gsm7::unpack(black_box(&packed), 0, None).expect("unpacks")))
    });
    group.finish();
}

fn gsm7_text(c: &mut Criterion) {
    // The extension characters once, at the start; only basic-table characters after them.
    let mut message = String::from("Price 12€ {code} [ok]. ");
    message.push_str(&text_of(
        "Meet at the station @ 10:30, bring £5 & your ID. ",
        137,
    ));
    assert_eq!(message.chars().count(), 160);
    assert_eq!(message.matches(['€', '{', '}', '[', ']']).count(), 5);
    let septets = text::encode(&message, Encoding::GSM7).expect("GSM text");
    assert_eq!(
        septets.len(),
        165,
        "five extension characters take two septets"
    );
    assert_eq!(
        text::decode(&septets, Encoding::GSM7).expect("decodes"),
        message
    );

    let mut group = c.benchmark_group("gsm7_text/160_chars");
    group.throughput(Throughput::Elements(160));
    group.bench_function("encode", |b| {
        b.iter(|| black_box(text::encode(black_box(&message), Encoding::GSM7).expect("encodes")))
    });
    group.bench_function("decode", |b| {
        b.iter(|| black_box(text::decode(black_box(&septets), Encoding::GSM7).expect("decodes")))
    });
    group.finish();
}

fn receipt_parse(c: &mut Criterion) {
    let canonical: &[u8] = b"id:0123456789 sub:001 dlvrd:001 submit date:2611251200 \
        done date:2611251201 stat:DELIVRD err:000 text:Hello from Herald";
    let dialect: &[u8] = b"ID:7A3F9C21B4E0 SUB:001 DLVRD:001 SUBMIT DATE:261125120000 \
        DONE DATE:261125120105 STAT:DELIVRD ERR:000 TEXT:Hello from Herald";
    for (bytes, id) in [(canonical, "0123456789"), (dialect, "7A3F9C21B4E0")] {
        let receipt = DeliveryReceipt::parse(bytes).expect("parses");
        assert_eq!(receipt.id, id);
        assert_eq!(receipt.state, Some(MessageState::Delivered));
        assert!(receipt.submit_date.is_some() && receipt.done_date.is_some());
        assert_eq!(receipt.text.as_deref(), Some("Hello from Herald"));
        assert!(receipt.extra.is_empty(), "every field recognised");
    }

    let mut group = c.benchmark_group("receipt/parse");
    group.throughput(Throughput::Elements(1));
    group.bench_function("canonical", |b| {
        b.iter(|| black_box(DeliveryReceipt::parse(black_box(canonical)).expect("parses")))
    });
    group.bench_function("dialect_upper_12digit_hex", |b| {
        b.iter(|| black_box(DeliveryReceipt::parse(black_box(dialect)).expect("parses")))
    });
    group.finish();
}

fn plan(c: &mut Criterion) {
    let options = PlanOptions::default();
    let gsm = text_of(
        "Your parcel 4471 arrives today between 14:00 and 16:00. ",
        300,
    );
    let gsm_plan = text::plan(&gsm, &options);
    assert_eq!(gsm_plan.encoding, Encoding::GSM7);
    assert_eq!((gsm_plan.units, gsm_plan.segments), (300, 2));
    let emoji = format!(
        "{}🎉",
        text_of("Happy birthday from all of us at Herald! ", 99)
    );
    assert_eq!(emoji.chars().count(), 100);
    let emoji_plan = text::plan(&emoji, &options);
    assert_eq!(emoji_plan.encoding, Encoding::Ucs2);
    assert_eq!((emoji_plan.units, emoji_plan.segments), (101, 2));

    let mut group = c.benchmark_group("plan");
    group.throughput(Throughput::Elements(1));
    group.bench_function("gsm_300_chars", |b| {
        b.iter(|| black_box(text::plan(black_box(&gsm), &options)))
    });
    group.bench_function("emoji_100_chars", |b| {
        b.iter(|| black_box(text::plan(black_box(&emoji), &options)))
    });
    group.finish();
}

criterion_group!(benches, gsm7_packing, gsm7_text, receipt_parse, plan);
criterion_main!(benches);
