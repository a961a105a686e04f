//! A scripted stand-in for a master on loopback, for tests of the network paths that a real
//! server cannot be made to take on demand (a sync cut short, keep-alives, an EOF-marked
//! payload). Each command gets the bytes `respond` gives, and the connection is closed after
//! them when it says so.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use protocol::Frame;

type Respond = dyn Fn(&[String]) -> (Vec<u8>, bool) + Send + Sync;

/// Listens on a free loopback port and serves up to `conns` connections; returns `host:port`.
pub fn master(conns: usize, respond: Arc<Respond>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(conns) {
            let Ok(mut s) = stream else { return };
            let respond = respond.clone();
            std::thread::spawn(move || {
                let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                // Bounded: the peer closes, or a read times out.
                loop {
                    while let Ok(Some((frame, used))) = Frame::parse(&buf) {
                        buf.drain(..used);
                        let Frame::Array(words) = frame else { return };
                        let words: Vec<String> = words
                            .iter()
                            .map(|w| match w {
                                Frame::Bulk(b) => String::from_utf8_lossy(b).to_uppercase(),
                                _ => String::new(),
                            })
                            .collect();
                        let (reply, close) = respond(&words);
                        if s.write_all(&reply).is_err() || close {
                            return;
                        }
                    }
                    match s.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
            });
        }
    });
    addr
}

/// A whole RDB file holding `n` string keys.
pub fn rdb(n: usize) -> Vec<u8> {
    let mut w = rdb::FileWriter::new(Vec::new(), &[("redis-ver", b"7.0.15")]).unwrap();
    w.select_db(0, n as u64, 0).unwrap();
    for i in 0..n {
        w.entry(format!("key:{i}").as_bytes(), &rdb::Value::String(b"v".to_vec()), None).unwrap();
    }
    w.finish().unwrap()
}
