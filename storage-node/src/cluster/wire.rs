//! The cluster bus wire format (ours, not Redis's): every message is
//! `magic "SGbu" | version u16 | type u16 | length u32 (whole message) | header | body`,
//! big-endian. The header carries the sender's identity, epochs, role and slot bitmap, so
//! every message also refreshes the receiver's view of the sender.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::SLOTS;

pub const MAGIC: &[u8; 4] = b"SGbu";
/// 3: the header carries the announced hostname.
pub const VERSION: u16 = 3;
const PREFIX: usize = 12;
/// Large enough for a PUBLISH of a maximal bulk string, small enough to refuse garbage lengths.
pub const MAX_MESSAGE: usize = 512 * 1024 * 1024 + 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Ping = 0,
    Pong = 1,
    Meet = 2,
    Fail = 3,
    Publish = 4,
    Update = 5,
    /// A replica asks the masters to vote for its promotion.
    AuthRequest = 6,
    /// A master's vote.
    AuthAck = 7,
    /// A replica asks its master to pause writes for a manual failover.
    MfStart = 8,
}

impl Type {
    fn from_u16(v: u16) -> Option<Type> {
        Some(match v {
            0 => Type::Ping,
            1 => Type::Pong,
            2 => Type::Meet,
            3 => Type::Fail,
            4 => Type::Publish,
            5 => Type::Update,
            6 => Type::AuthRequest,
            7 => Type::AuthAck,
            8 => Type::MfStart,
            _ => return None,
        })
    }
}

/// What the sender says about itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub sender: String,
    pub current_epoch: u64,
    pub config_epoch: u64,
    pub repl_offset: u64,
    pub flags: u16,
    pub port: u16,
    pub cport: u16,
    /// Under `tls-cluster`, `port` is the TLS port and this the plaintext one (0: none), which
    /// plaintext clients are shown (Redis's `pport`).
    pub pport: u16,
    /// The announced IP; empty means "the address you see me connect from".
    pub ip: String,
    /// `cluster-announce-hostname` (Redis 7.0 sends it as a ping extension); empty: none.
    pub hostname: String,
    pub master: Option<String>,
    /// The slots the sender serves (its master's, for a replica), one bit per slot.
    pub slots: Vec<u8>,
    pub state_ok: bool,
}

/// What the sender knows about some other node.
#[derive(Debug, Clone, PartialEq)]
pub struct Gossip {
    pub id: String,
    pub ip: String,
    pub port: u16,
    pub cport: u16,
    pub pport: u16,
    pub flags: u16,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// PING, PONG and MEET carry gossip about a few other nodes.
    Gossip(Vec<Gossip>),
    Fail {
        id: String,
    },
    Publish {
        channel: Bytes,
        message: Bytes,
    },
    Update {
        id: String,
        config_epoch: u64,
        slots: Vec<u8>,
    },
    /// `force`: vote even though the master is not failed (manual failover).
    AuthRequest {
        force: bool,
    },
    AuthAck,
    MfStart,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub kind: Type,
    pub hdr: Header,
    pub body: Body,
}

fn put_str(out: &mut BytesMut, s: &[u8]) {
    out.put_u32(s.len() as u32);
    out.put_slice(s);
}

fn put_id(out: &mut BytesMut, id: &str) {
    let mut b = [b'0'; 40];
    let n = id.len().min(40);
    b[..n].copy_from_slice(&id.as_bytes()[..n]);
    out.put_slice(&b);
}

/// Serializes a message, length prefix included.
pub fn encode(msg: &Message) -> Bytes {
    let mut out = BytesMut::with_capacity(2400);
    out.put_slice(MAGIC);
    out.put_u16(VERSION);
    out.put_u16(msg.kind as u16);
    out.put_u32(0);
    let h = &msg.hdr;
    put_id(&mut out, &h.sender);
    out.put_u64(h.current_epoch);
    out.put_u64(h.config_epoch);
    out.put_u64(h.repl_offset);
    out.put_u16(h.flags);
    out.put_u16(h.port);
    out.put_u16(h.cport);
    out.put_u16(h.pport);
    put_str(&mut out, h.ip.as_bytes());
    put_str(&mut out, h.hostname.as_bytes());
    out.put_u8(h.master.is_some() as u8);
    if let Some(m) = &h.master {
        put_id(&mut out, m);
    }
    out.put_slice(&h.slots);
    out.put_u8(h.state_ok as u8);
    match &msg.body {
        Body::Gossip(entries) => {
            out.put_u16(entries.len() as u16);
            for g in entries {
                put_id(&mut out, &g.id);
                put_str(&mut out, g.ip.as_bytes());
                out.put_u16(g.port);
                out.put_u16(g.cport);
                out.put_u16(g.pport);
                out.put_u16(g.flags);
            }
        }
        Body::Fail { id } => put_id(&mut out, id),
        Body::Publish { channel, message } => {
            put_str(&mut out, channel);
            put_str(&mut out, message);
        }
        Body::Update { id, config_epoch, slots } => {
            put_id(&mut out, id);
            out.put_u64(*config_epoch);
            out.put_slice(slots);
        }
        Body::AuthRequest { force } => out.put_u8(*force as u8),
        Body::AuthAck | Body::MfStart => {}
    }
    let len = out.len() as u32;
    out[8..12].copy_from_slice(&len.to_be_bytes());
    out.freeze()
}

/// A cursor over one message that refuses to read past its end.
struct Reader {
    buf: Bytes,
}

impl Reader {
    fn need(&self, n: usize) -> Result<(), String> {
        if self.buf.remaining() < n {
            Err("truncated message".into())
        } else {
            Ok(())
        }
    }
    fn u8(&mut self) -> Result<u8, String> {
        self.need(1)?;
        Ok(self.buf.get_u8())
    }
    fn u16(&mut self) -> Result<u16, String> {
        self.need(2)?;
        Ok(self.buf.get_u16())
    }
    fn u32(&mut self) -> Result<u32, String> {
        self.need(4)?;
        Ok(self.buf.get_u32())
    }
    fn u64(&mut self) -> Result<u64, String> {
        self.need(8)?;
        Ok(self.buf.get_u64())
    }
    fn bytes(&mut self, n: usize) -> Result<Bytes, String> {
        self.need(n)?;
        Ok(self.buf.split_to(n))
    }
    fn blob(&mut self) -> Result<Bytes, String> {
        let n = self.u32()? as usize;
        self.bytes(n)
    }
    fn text(&mut self, max: usize) -> Result<String, String> {
        let b = self.blob()?;
        if b.len() > max {
            return Err("oversized field".into());
        }
        String::from_utf8(b.to_vec()).map_err(|_| "non-UTF-8 address or hostname".to_string())
    }
    fn id(&mut self) -> Result<String, String> {
        let b = self.bytes(40)?;
        if !super::valid_id(&b) {
            return Err("bad node name".into());
        }
        Ok(String::from_utf8_lossy(&b).into_owned())
    }
}

/// Takes one complete message off the front of `buf`: `Ok(None)` when more bytes are needed,
/// an error (the link must be dropped) for anything that is not our protocol.
pub fn decode(buf: &mut BytesMut) -> Result<Option<Message>, String> {
    if buf.len() < PREFIX {
        // Reject garbage as soon as the magic is visibly wrong.
        let n = buf.len().min(4);
        if buf[..n] != MAGIC[..n] {
            return Err("bad magic".into());
        }
        return Ok(None);
    }
    if &buf[..4] != MAGIC {
        return Err("bad magic".into());
    }
    let version = u16::from_be_bytes([buf[4], buf[5]]);
    if version != VERSION {
        return Err(format!("unsupported bus protocol version {version}"));
    }
    let kind = Type::from_u16(u16::from_be_bytes([buf[6], buf[7]])).ok_or("unknown message type")?;
    let len = u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]) as usize;
    if !(PREFIX..=MAX_MESSAGE).contains(&len) {
        return Err(format!("bad message length {len}"));
    }
    if buf.len() < len {
        // Grow as the bytes come, not by what the header claims: a peer must not make us
        // reserve half a gigabyte per link before sending anything.
        buf.reserve((len - buf.len()).min(1 << 20));
        return Ok(None);
    }
    let mut r = Reader { buf: buf.split_to(len).freeze() };
    r.buf.advance(PREFIX);
    let hdr = Header {
        sender: r.id()?,
        current_epoch: r.u64()?,
        config_epoch: r.u64()?,
        repl_offset: r.u64()?,
        flags: r.u16()?,
        port: r.u16()?,
        cport: r.u16()?,
        pport: r.u16()?,
        ip: r.text(64)?,
        hostname: r.text(255)?,
        master: if r.u8()? == 1 { Some(r.id()?) } else { None },
        slots: r.bytes(SLOTS / 8)?.to_vec(),
        state_ok: r.u8()? == 1,
    };
    let body = match kind {
        Type::Ping | Type::Pong | Type::Meet => {
            let n = r.u16()? as usize;
            let mut entries = Vec::with_capacity(n.min(64));
            for _ in 0..n {
                entries.push(Gossip {
                    id: r.id()?,
                    ip: r.text(64)?,
                    port: r.u16()?,
                    cport: r.u16()?,
                    pport: r.u16()?,
                    flags: r.u16()?,
                });
            }
            Body::Gossip(entries)
        }
        Type::Fail => Body::Fail { id: r.id()? },
        Type::Publish => Body::Publish { channel: r.blob()?, message: r.blob()? },
        Type::Update => Body::Update { id: r.id()?, config_epoch: r.u64()?, slots: r.bytes(SLOTS / 8)?.to_vec() },
        Type::AuthRequest => Body::AuthRequest { force: r.u8()? == 1 },
        Type::AuthAck => Body::AuthAck,
        Type::MfStart => Body::MfStart,
    };
    if r.buf.has_remaining() {
        return Err("trailing bytes in message".into());
    }
    Ok(Some(Message { kind, hdr, body }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Message {
        let mut slots = vec![0u8; SLOTS / 8];
        slots[3] = 0x81;
        Message {
            kind: Type::Ping,
            hdr: Header {
                sender: "a".repeat(40),
                current_epoch: 7,
                config_epoch: 3,
                repl_offset: 99,
                flags: 2,
                port: 7000,
                cport: 17000,
                pport: 6999,
                ip: "127.0.0.1".into(),
                hostname: "node-0.slotgate".into(),
                master: Some("b".repeat(40)),
                slots,
                state_ok: true,
            },
            body: Body::Gossip(vec![Gossip {
                id: "c".repeat(40),
                ip: "10.0.0.1".into(),
                port: 1,
                cport: 2,
                pport: 3,
                flags: 8,
            }]),
        }
    }

    #[test]
    fn round_trip_split_anywhere() {
        let msg = sample();
        let bytes = encode(&msg);
        for cut in 0..bytes.len() {
            let mut buf = BytesMut::from(&bytes[..cut]);
            assert_eq!(decode(&mut buf), Ok(None), "cut at {cut}");
            buf.extend_from_slice(&bytes[cut..]);
            assert_eq!(decode(&mut buf).unwrap(), Some(msg.clone()));
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn garbage_is_refused() {
        assert!(decode(&mut BytesMut::from(&b"GET / HTTP/1.1\r\n"[..])).is_err());
        assert!(decode(&mut BytesMut::from(&b"*1\r\n"[..])).is_err());
        let mut bytes = encode(&sample()).to_vec();
        bytes[8..12].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(decode(&mut BytesMut::from(&bytes[..])).is_err());
        // Every truncation that claims a shorter length must fail, never panic.
        let full = encode(&sample()).to_vec();
        for len in PREFIX..full.len() {
            let mut b = full[..len].to_vec();
            b[8..12].copy_from_slice(&(len as u32).to_be_bytes());
            assert!(decode(&mut BytesMut::from(&b[..])).is_err(), "len {len}");
        }
    }

    /// One message of every type, the header varied a little between them.
    fn every_kind() -> Vec<Message> {
        let base = sample();
        let id = "d".repeat(40);
        let bodies = [
            (Type::Ping, base.body.clone()),
            (Type::Pong, Body::Gossip(Vec::new())),
            (Type::Meet, base.body.clone()),
            (Type::Fail, Body::Fail { id: id.clone() }),
            (Type::Publish, Body::Publish { channel: Bytes::from_static(b"news"), message: Bytes::from_static(b"hi") }),
            (Type::Update, Body::Update { id, config_epoch: 9, slots: vec![0xff; SLOTS / 8] }),
            (Type::AuthRequest, Body::AuthRequest { force: true }),
            (Type::AuthAck, Body::AuthAck),
            (Type::MfStart, Body::MfStart),
        ];
        bodies
            .into_iter()
            .enumerate()
            .map(|(i, (kind, body))| {
                let mut hdr = base.hdr.clone();
                if i % 2 == 1 {
                    hdr.master = None;
                    hdr.hostname.clear();
                }
                Message { kind, hdr, body }
            })
            .collect()
    }

    /// Bounded fuzzing of the decoder (the bus reads bytes from any peer that connects): encoded
    /// messages of every type, mutated at random (bytes, edge integers over length fields, cuts,
    /// inserts), usually with the length prefix fixed up so the body is parsed. Decoding never
    /// panics, and whatever it accepts encodes back to the same message.
    #[test]
    fn mutated_messages_never_panic() {
        let samples: Vec<Vec<u8>> = every_kind().iter().map(|m| encode(m).to_vec()).collect();
        let mut state = 0x5107_6a7e_u64;
        let mut next = move || {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            state.wrapping_mul(0x2545_F491_4F6C_DD1D) as usize
        };
        const EDGES: [u32; 8] = [0, 1, 39, 40, 64, 255, 0xffff, u32::MAX];
        for i in 0..iterations() {
            let mut b = samples[i % samples.len()].clone();
            for _ in 0..1 + next() % 4 {
                let at = next() % b.len().max(1);
                match next() % 5 {
                    0 if at < b.len() => b[at] ^= 1 << (next() % 8),
                    1 if at + 4 <= b.len() => b[at..at + 4].copy_from_slice(&EDGES[next() % EDGES.len()].to_be_bytes()),
                    2 => b.truncate(at),
                    3 => b.splice(at..at, (0..1 + next() % 8).map(|_| next() as u8)).for_each(drop),
                    _ if at + 2 <= b.len() => b[at..at + 2].copy_from_slice(&(next() as u16 % 3).to_be_bytes()),
                    _ => {}
                }
            }
            if b.len() >= PREFIX && next() % 10 < 7 {
                let len = b.len() as u32;
                b[8..12].copy_from_slice(&len.to_be_bytes());
            }
            let mut buf = BytesMut::from(&b[..]);
            for _ in 0..4 {
                match decode(&mut buf) {
                    Ok(Some(msg)) => {
                        let again = encode(&msg);
                        assert_eq!(decode(&mut BytesMut::from(&again[..])), Ok(Some(msg)), "input {b:?}");
                    }
                    Ok(None) | Err(_) => break,
                }
            }
        }
    }

    /// How many inputs the randomized test tries: a bounded number by default, more for the
    /// long form (`bench/fuzz.sh` sets `SLOTGATE_FUZZ_ITERATIONS`).
    fn iterations() -> usize {
        std::env::var("SLOTGATE_FUZZ_ITERATIONS").ok().and_then(|n| n.parse().ok()).unwrap_or(50_000)
    }
}
