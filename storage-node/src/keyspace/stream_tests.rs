//! Unit tests of the stream value (keyspace/stream.rs).

use super::*;

fn add(s: &mut Stream, ms: u64, seq: u64, fields: &[(&[u8], &[u8])]) -> Result<StreamId, AppendError> {
    s.append(fields, Some((StreamId::new(ms, seq), true)), 0, NodeLimits::default())
}

#[test]
fn last_live_id_walks_back_over_tombstones_and_field_layouts() {
    let slow = |s: &Stream| {
        let mut last = None;
        s.visit(StreamId::MIN, StreamId::MAX, false, |(id, _)| {
            last = Some(id);
            true
        });
        last
    };
    let mut s = Stream::default();
    assert_eq!(s.last_live_id(), None);
    for i in 1..=230u64 {
        // Every third entry has its own fields (not the node's master fields).
        let long = "v".repeat((i % 7) as usize * 40);
        if i % 3 == 0 {
            add(&mut s, i, 1, &[(b"other", long.as_bytes()), (b"x", b"1"), (b"y", b"2")]).unwrap();
        } else {
            add(&mut s, i, 1, &[(b"f", long.as_bytes())]).unwrap();
        }
        assert_eq!(s.last_live_id(), slow(&s), "after adding {i}");
    }
    // Delete from the end back into the previous nodes.
    for i in (150..=230u64).rev() {
        s.delete(StreamId::new(i, 1));
        assert_eq!(s.last_live_id(), slow(&s), "after deleting {i}");
    }
    for i in 1..150u64 {
        s.delete(StreamId::new(i, 1));
    }
    assert_eq!(s.last_live_id(), None);
}

#[test]
fn append_range_and_delete() {
    let mut s = Stream::default();
    for i in 1..=250u64 {
        let v = i.to_string();
        add(&mut s, i, 0, &[(b"f", v.as_bytes()), (b"g", b"x")]).unwrap();
    }
    assert_eq!(s.length, 250);
    // 100 entries per node.
    assert_eq!(s.node_count(), 3);
    assert_eq!(add(&mut s, 250, 0, &[(b"f", b"v")]), Err(AppendError::NotGreater));
    let r = s.range(StreamId::new(99, 0), StreamId::new(102, 0), false, 0);
    assert_eq!(r.iter().map(|e| e.0.ms).collect::<Vec<_>>(), vec![99, 100, 101, 102]);
    assert_eq!(r[0].1, vec![(b"f".to_vec(), b"99".to_vec()), (b"g".to_vec(), b"x".to_vec())]);
    let r = s.range(StreamId::MIN, StreamId::MAX, true, 3);
    assert_eq!(r.iter().map(|e| e.0.ms).collect::<Vec<_>>(), vec![250, 249, 248]);
    assert!(s.delete(StreamId::new(100, 0)));
    assert!(!s.delete(StreamId::new(100, 0)));
    assert_eq!(s.length, 249);
    assert!(s.get(StreamId::new(100, 0)).is_none());
    // Different fields go in full.
    add(&mut s, 300, 5, &[(b"other", b"1")]).unwrap();
    assert_eq!(s.get(StreamId::new(300, 5)).unwrap().1, vec![(b"other".to_vec(), b"1".to_vec())]);
    for (m, lp) in s.nodes() {
        assert!(valid_node(lp, *m));
    }
}

#[test]
fn trims_like_redis() {
    let mut s = Stream::default();
    for i in 1..=250u64 {
        add(&mut s, i, 0, &[(b"f", b"v")]).unwrap();
    }
    // Approximate: whole nodes only.
    assert_eq!(s.trim(Trim::MaxLen(180), true, 0), 0);
    assert_eq!(s.trim(Trim::MaxLen(140), true, 0), 100);
    assert_eq!(s.first_id, StreamId::new(101, 0));
    assert_eq!(s.trim(Trim::MaxLen(140), false, 0), 10);
    assert_eq!(s.length, 140);
    assert_eq!(s.first_id, StreamId::new(111, 0));
    assert_eq!(s.trim(Trim::MinId(StreamId::new(205, 0)), false, 0), 94);
    assert_eq!(s.first_id, StreamId::new(205, 0));
    for (m, lp) in s.nodes() {
        assert!(valid_node(lp, *m));
    }
}

#[test]
fn rax_node_counts() {
    let mut s = Stream::default();
    assert_eq!(s.rax_nodes(), 1);
    add(&mut s, 1, 0, &[(b"f", b"v")]).unwrap();
    assert_eq!(s.rax_nodes(), 2);
}

#[test]
fn ids() {
    assert_eq!(StreamId::new(1, u64::MAX).incr(), Some(StreamId::new(2, 0)));
    assert_eq!(StreamId::MAX.incr(), None);
    assert_eq!(StreamId::new(2, 0).decr(), Some(StreamId::new(1, u64::MAX)));
    assert_eq!(StreamId::new(7, 9).encode()[7], 7);
}
