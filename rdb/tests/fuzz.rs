//! Corrupted input: truncations and byte flips of real Redis payloads and files must give an
//! error (or, where no checksum guards the data, possibly a value) but never a panic, a hang
//! or a giant allocation.

mod common;

use common::{fixture_path, load_records, Rng};
use rdb::{decode_object, restore, FileReader};

/// Positions to mutate: all of them for small inputs, an even spread for large ones.
fn positions(len: usize, max: usize) -> impl Iterator<Item = usize> {
    let step = len.div_ceil(max).max(1);
    (0..len).step_by(step)
}

#[test]
fn truncated_payloads_are_errors() {
    for r in load_records() {
        for len in positions(r.dump.len(), 400) {
            assert!(restore(&r.dump[..len]).is_err());
            let body = &r.dump[..r.dump.len() - 10];
            if len < body.len() {
                // Every format is self-delimiting, so no strict prefix is a whole object.
                assert!(decode_object(&body[..len]).is_err(), "{} prefix {len}", String::from_utf8_lossy(&r.key));
            }
        }
    }
}

#[test]
fn flipped_bytes_never_panic() {
    for r in load_records() {
        let body_len = r.dump.len() - 10;
        // Fewer positions for the multi-megabyte (once decompressed) payloads keep this quick.
        let spots = if r.dump.len() > 16 << 10 { 40 } else { 150 };
        for pos in positions(r.dump.len(), spots) {
            for mask in [0x01u8, 0x80, 0xff, 0x3c] {
                let mut p = r.dump.clone();
                p[pos] ^= mask;
                // The checksum catches any single corrupted byte...
                assert!(restore(&p).is_err());
                // ...so also go straight to the decoder, which must cope on its own.
                if pos < body_len {
                    let _ = decode_object(&p[..body_len]);
                }
            }
        }
    }
}

#[test]
fn absurd_lengths_fail_fast() {
    let cases: [&[u8]; 8] = [
        &[0x00, 0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // 2^64-1 byte string
        &[0x00, 0x80, 0xff, 0xff, 0xff, 0xff, b'a'],                   // 4 GiB string
        &[0x00, 0xc3, 0x01, 0x81, 0x7f, 0, 0, 0, 0, 0, 0, 0, 0x00, b'a'], // LZF claiming 2^63 bytes
        &[0x01, 0x81, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // 2^63 list elements
        &[0x12, 0x80, 0xff, 0xff, 0xff, 0xff, 0x02],                   // 4G quicklist nodes
        &[0x0b, 0x0c, 8, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0], // intset of 4G x 8 bytes
        &[0x10, 0x07, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff],       // listpack claiming 2 GiB
        &[0x0f, 0x00],                                                 // stream: unsupported
    ];
    for c in cases {
        assert!(decode_object(c).is_err(), "{c:x?}");
    }
}

#[test]
fn random_garbage_never_panics() {
    let mut rng = Rng::new(99);
    for _ in 0..20_000 {
        let len = rng.below(64) as usize;
        let mut data = rng.bytes(len);
        if let Some(first) = data.first_mut() {
            // Bias towards valid type bytes so decoders get exercised, not just the dispatcher.
            *first = [0, 1, 2, 3, 4, 5, 9, 10, 11, 12, 13, 14, 16, 17, 18, 20][rng.below(16) as usize];
        }
        let _ = decode_object(&data);
    }
}

fn drain(data: &[u8]) -> Result<usize, rdb::Error> {
    let mut r = FileReader::new(data)?;
    let mut n = 0;
    while r.next_entry()?.is_some() {
        n += 1;
    }
    Ok(n)
}

#[test]
fn corrupted_rdb_files() {
    let file = std::fs::read(fixture_path("dump.rdb")).unwrap();
    let total = drain(&file).unwrap();
    for len in positions(file.len(), 120) {
        assert!(drain(&file[..len]).is_err(), "truncated at {len}");
    }
    let mut unchecked = file.clone();
    let n = unchecked.len();
    unchecked[n - 8..].fill(0); // checksum disabled: corruption reaches the decoders
    assert_eq!(drain(&unchecked).unwrap(), total);
    for pos in positions(file.len() - 9, 80) {
        for mask in [0x01u8, 0xff] {
            let mut f = file.clone();
            f[pos] ^= mask;
            assert!(drain(&f).is_err(), "flip at {pos} undetected");
            let mut f = unchecked.clone();
            f[pos] ^= mask;
            let _ = drain(&f);
        }
    }
}
