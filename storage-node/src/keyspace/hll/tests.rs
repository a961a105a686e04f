//! Expected values come from redis-server 7.0.15 (PFADD/PFCOUNT/PFDEBUG DECODE/GET).

use super::*;

fn build(n: usize, max_bytes: usize) -> Vec<u8> {
    let mut h = empty();
    for i in 0..n {
        add(&mut h, format!("e{i}").as_bytes(), max_bytes).unwrap();
    }
    h
}

#[test]
fn three_elements_match_redis_bytes() {
    let mut h = empty();
    assert_eq!(h, b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\0\x7f\xff");
    for e in ["a", "b", "c"] {
        assert!(add(&mut h, e.as_bytes(), 3000).unwrap());
    }
    assert!(!add(&mut h, b"a", 3000).unwrap());
    assert_eq!(sparse::decode(&h), "Z:8436 v:1,1 Z:4274 v:2,1 Z:3068 v:1,1 Z:603");
    assert_eq!(h, b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\x80`\xf3\x80P\xb1\x84K\xfb\x80BZ");
    assert_eq!(cardinality(&mut h), Ok((3, true)));
    assert_eq!(&h[8..16], b"\x03\0\0\0\0\0\0\0");
    assert_eq!(cardinality(&mut h), Ok((3, false)));
}

#[test]
fn counts_and_encodings_match_redis() {
    let ten = build(10, 3000);
    assert_eq!(
        sparse::decode(&ten),
        "Z:1318 v:1,1 Z:1839 v:2,1 Z:4042 v:1,1 Z:1043 v:2,1 Z:2642 v:2,1 Z:782 v:2,1 Z:260 v:2,1 \
         Z:3770 v:2,1 Z:137 v:1,1 Z:107 v:2,1 Z:434"
    );
    for (n, sparse_len, card) in [
        (1, Some(21), 1),
        (10, Some(48), 10),
        (100, Some(285), 100),
        (1000, Some(1906), 1008),
        (3000, None, 2979),
        (10000, None, 9973),
        (100000, None, 100853),
    ] {
        let mut h = build(n, 3000);
        match sparse_len {
            Some(len) => assert!(is_sparse(&h) && h.len() == len, "n={n}"),
            None => assert!(!is_sparse(&h) && h.len() == DENSE_SIZE, "n={n}"),
        }
        assert_eq!(cardinality(&mut h).unwrap().0, card, "n={n}");
    }
    let mut max = [0u8; REGISTERS];
    for n in [1, 10, 100, 1000] {
        merge_into(&mut max, &build(n, 3000)).unwrap();
    }
    assert_eq!(count_registers(&max), 1008);
}

#[test]
fn sparse_and_dense_agree_register_by_register() {
    let mut s = empty();
    let mut d = empty();
    to_dense(&mut d).unwrap();
    for i in 0..2000 {
        let e = format!("x{i}");
        assert_eq!(add(&mut s, e.as_bytes(), usize::MAX).unwrap(), add(&mut d, e.as_bytes(), 0).unwrap());
    }
    let mut converted = s.clone();
    assert!(to_dense(&mut converted).unwrap());
    assert_eq!(registers(&converted), registers(&d));
    assert_eq!(histogram(&s), histogram(&d));
}

#[test]
fn promotion_on_size_and_on_large_values() {
    let h = build(300, 600);
    assert!(!is_sparse(&h), "600 bytes hold fewer than 300 registers");
    assert_eq!(h.len(), DENSE_SIZE);
    let mut s = empty();
    // A value over 32 does not fit a VAL opcode.
    assert_eq!(raise(&mut s, 5, 33, 3000), Ok(true));
    assert!(!is_sparse(&s));
    assert_eq!(registers(&s)[5], 33);
}

#[test]
fn sparse_edits_split_and_merge_opcodes() {
    let mut h = empty();
    for (i, v) in [(100, 3), (101, 3), (102, 3), (99, 3)] {
        assert_eq!(raise(&mut h, i, v, 3000), Ok(true));
    }
    assert_eq!(sparse::decode(&h), "Z:99 v:3,4 Z:16281");
    // Raising one register of a run splits it in three.
    assert_eq!(raise(&mut h, 101, 5, 3000), Ok(true));
    assert_eq!(sparse::decode(&h), "Z:99 v:3,2 v:5,1 v:3,1 Z:16281");
    assert_eq!(raise(&mut h, 101, 4, 3000), Ok(false));
    assert_eq!(raise(&mut h, 16383, 1, 3000), Ok(true));
    assert_eq!(raise(&mut h, 0, 1, 3000), Ok(true));
    assert_eq!(sparse::decode(&h), "v:1,1 Z:98 v:3,2 v:5,1 v:3,1 Z:16280 v:1,1");
}

#[test]
fn corrupt_sparse_is_detected() {
    let mut short = b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\x80\x7f\xfe".to_vec();
    assert_eq!(cardinality(&mut short), Err(Corrupt));
    assert_eq!(to_dense(&mut short.clone()), Err(Corrupt));
    let mut max = [0u8; REGISTERS];
    assert_eq!(merge_into(&mut max, &short), Err(Corrupt));
    // A run past the last register is corrupt even where the runs before it add up.
    let mut over = b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\x80\x7f\xfb\xff\x80".to_vec();
    assert_eq!(cardinality(&mut over), Err(Corrupt));
    assert_eq!(merge_into(&mut max, &over), Err(Corrupt));
    assert_eq!(to_dense(&mut over), Err(Corrupt));
    // Registers past the end of the code cannot be set.
    assert_eq!(raise(&mut short, 16383, 1, 3000), Err(Corrupt));
    assert_eq!(raise(&mut short, 0, 1, 3000), Ok(true));
    // An XZERO cut in half reads its missing byte as zero.
    let cut = b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\0\x7f".to_vec();
    assert_eq!(sparse::decode(&cut), "Z:16129");
    assert!(!is_hll(b"HYLL\x00\0\0\0\0\0\0\0\0\0\0\0\x7f"), "dense with the wrong length");
    assert!(!is_hll(b"HYLL\x02\0\0\0\0\0\0\0\0\0\0\0"));
    assert!(!is_hll(b"HYLX\x01\0\0\0\0\0\0\0\0\0\0\0"));
    assert!(is_hll(b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\0"));
}

#[test]
fn estimator_edges() {
    let mut histo = [0u64; 64];
    histo[0] = REGISTERS as u64;
    assert_eq!(estimate(&histo), 0);
    // Every register at 51: the estimate is infinite and Redis answers 2^63.
    let mut histo = [0u64; 64];
    histo[Q + 1] = REGISTERS as u64;
    assert_eq!(estimate(&histo), 1 << 63);
    assert_eq!(c_cardinality(2.5), 3);
    assert_eq!(c_cardinality(1e300), 1 << 63);
}

#[test]
fn dense_registers_round_trip() {
    let mut regs = vec![0u8; DENSE_SIZE - HDR];
    for i in 0..REGISTERS {
        dense_set(&mut regs, i, (i * 7 % 64) as u8);
    }
    for i in 0..REGISTERS {
        assert_eq!(dense_get(&regs, i), (i * 7 % 64) as u8);
    }
}
