//! Codec throughput, Herald and rusmpp in the same run, in PDUs per second.
//!
//! - `decode/submit_sm_174`: one whole 174-octet submit_sm with five TLVs, from the read
//!   buffer to a typed PDU, dropped again (both codecs slice payloads out of the buffer).
//! - `encode/submit_sm_174`: the same PDU into a reused write buffer.
//! - `encode_decode/submit_sm_174`: both, one after the other (the figure FACTS.md quotes).
//! - `stream/1000_pdus`: framing and decoding a read buffer of 1000 PDUs (submit_sm with
//!   some submit_sm_resp and enquire_link), as a session's read loop does.
//!
//! `cargo bench -p herald-benches -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use bytes::{Buf, Bytes, BytesMut};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use herald_benches::{rusmpp_decode, rusmpp_encode, stream, submit_sm, submit_sm_octets};
use herald_smpp::{Framer, Pdu};
use rusmpp::decode::DecodeWithLength;

const STREAM_PDUS: usize = 1000;

/// The fixture as the framer hands it over: a `Bytes` split off a read buffer.
fn framed(octets: &Bytes) -> Bytes {
    let mut buf = BytesMut::from(&octets[..]);
    Framer::default()
        .next_frame(&mut buf)
        .expect("frames")
        .expect("whole")
}

fn single_pdu(c: &mut Criterion) {
    let octets = submit_sm_octets(261);
    assert_eq!(octets.len(), 174, "the benchmark PDU is 174 octets");
    let frame = framed(&octets);
    let ours = submit_sm(261);
    assert_eq!(Pdu::decode(frame.clone()).expect("decodes"), ours);
    let theirs = rusmpp_decode(&mut BytesMut::from(&octets[..])).expect("rusmpp decodes");
    let mut check = BytesMut::new();
    rusmpp_encode(&theirs, &mut check);
    assert_eq!(check, octets, "rusmpp re-encodes the same octets");

    let mut group = c.benchmark_group("decode/submit_sm_174");
    group.throughput(Throughput::Elements(1));
    group.bench_function("herald", |b| {
        b.iter_batched(
            || frame.clone(),
            |f| drop(black_box(Pdu::decode(f).expect("decodes"))),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("rusmpp", |b| {
        b.iter_batched(
            || BytesMut::from(&octets[..]),
            |mut f| drop(black_box(rusmpp_decode(&mut f).expect("decodes"))),
            BatchSize::SmallInput,
        )
    });
    group.finish();

    let mut group = c.benchmark_group("encode/submit_sm_174");
    group.throughput(Throughput::Elements(1));
    let mut out = BytesMut::with_capacity(4096);
    group.bench_function("herald", |b| {
        b.iter(|| {
            out.clear();
            black_box(&ours).encode(&mut out).expect("encodes");
            black_box(&out);
        })
    });
    group.bench_function("rusmpp", |b| {
        b.iter(|| {
            out.clear();
            rusmpp_encode(black_box(&theirs), &mut out);
            black_box(&out);
        })
    });
    group.finish();

    let mut group = c.benchmark_group("encode_decode/submit_sm_174");
    group.throughput(Throughput::Elements(1));
    group.bench_function("herald", |b| {
        b.iter(|| {
            let mut out = BytesMut::with_capacity(256);
            black_box(&ours).encode(&mut out).expect("encodes");
            let frame = out.freeze();
            drop(black_box(Pdu::decode(frame).expect("decodes")));
        })
    });
    group.bench_function("rusmpp", |b| {
        b.iter(|| {
            let mut out = BytesMut::with_capacity(256);
            rusmpp_encode(black_box(&theirs), &mut out);
            drop(black_box(rusmpp_decode(&mut out).expect("decodes")));
        })
    });
    group.finish();
}

fn read_loop(c: &mut Criterion) {
    let buffer = stream(STREAM_PDUS);
    let mut group = c.benchmark_group("stream/1000_pdus");
    group.throughput(Throughput::Elements(STREAM_PDUS as u64));
    group.bench_function("herald", |b| {
        let framer = Framer::default();
        b.iter_batched(
            || buffer.clone(),
            |mut buf| {
                let mut n = 0;
                while let Some(frame) = framer.next_frame(&mut buf).expect("frames") {
                    drop(black_box(Pdu::decode(frame).expect("decodes")));
                    n += 1;
                }
                assert_eq!(n, STREAM_PDUS);
            },
            BatchSize::LargeInput,
        )
    });
    group.bench_function("rusmpp", |b| {
        // What rusmpp's tokio codec does per PDU: read command_length, check it, decode the
        // rest in place.
        b.iter_batched(
            || buffer.clone(),
            |mut buf| {
                let mut n = 0;
                while buf.len() >= 16 {
                    let length = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
                    assert!((16..=70_000).contains(&length));
                    if buf.len() < length {
                        break;
                    }
                    buf.advance(4);
                    let (command, _) =
                        rusmpp::Command::decode(&mut buf, length - 4).expect("decodes");
                    drop(black_box(command));
                    n += 1;
                }
                assert_eq!(n, STREAM_PDUS);
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, single_pdu, read_loop);
criterion_main!(benches);
