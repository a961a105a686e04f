//! The sub-requests of one client batch, grouped per backend connection. A pipeline of N
//! commands that lands on K nodes costs K channel messages, K reply hand-offs and K timers,
//! not N of each: at `-P 16` that per-command overhead was most of the proxy's user time.

use std::net::SocketAddr;
use std::ops::Range;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::sync::oneshot;

use crate::backend::{BackendError, Pools, Replies};

/// A new group's buffer: a `-P 16` batch's commands for one node fit without growing.
const GROUP_CAPACITY: usize = 512;

/// Where one command sits in the outbox: its group, its place in the group, its bytes.
#[derive(Debug, Clone)]
pub(crate) struct Ticket {
    group: usize,
    index: usize,
    range: Range<usize>,
}

/// What became of one command of a group.
pub(crate) enum Outcome {
    Reply(Bytes),
    Failed(BackendError),
    /// No reply within the command timeout (the node may be stalled).
    TimedOut,
    /// No reply yet within the slice asked for; the command timeout has not passed.
    Waiting,
    /// Given up on its node: the slot has a new master (decided by the session).
    Rerouted(SocketAddr),
}

enum State {
    /// Still taking commands.
    Open(BytesMut),
    /// Sent; the replies are on their way.
    Sent(Bytes, oneshot::Receiver<Replies>),
    /// Replies arrived (each taken once: a taken one is left empty, which no RESP frame is),
    /// or the reason the rest did not.
    Done(Bytes, Vec<Bytes>, Option<BackendError>),
    TimedOut(Bytes),
}

impl State {
    /// Replies arrived: each is taken once.
    fn done(bytes: Bytes, r: Replies) -> State {
        State::Done(bytes, r.frames, r.error)
    }
}

struct Group {
    addr: SocketAddr,
    resp3: bool,
    count: usize,
    state: State,
    /// When the group's command timeout runs out (set when it is first waited for).
    deadline: Option<Instant>,
}

/// The groups of the batch being planned and resolved.
#[derive(Default)]
pub(crate) struct Outbox {
    groups: Vec<Group>,
}

impl Outbox {
    /// Queues one command for `addr`, behind the batch's earlier commands for the same node.
    pub(crate) fn push<A: AsRef<[u8]>>(&mut self, addr: SocketAddr, resp3: bool, args: &[A]) -> Ticket {
        self.push_with(addr, resp3, |buf| protocol::encode::write_command(buf, args))
    }

    /// `push` for `count` arguments picked out of a larger request (a split command's part).
    pub(crate) fn push_of<'a>(
        &mut self,
        addr: SocketAddr,
        resp3: bool,
        count: usize,
        args: impl Iterator<Item = &'a [u8]>,
    ) -> Ticket {
        self.push_with(addr, resp3, |buf| protocol::encode::write_command_of(buf, count, args))
    }

    fn push_with(&mut self, addr: SocketAddr, resp3: bool, encode: impl FnOnce(&mut BytesMut)) -> Ticket {
        let pos =
            self.groups.iter().position(|g| g.addr == addr && g.resp3 == resp3 && matches!(g.state, State::Open(_)));
        let group = match pos {
            Some(i) => i,
            None => {
                // Sized for a batch's share of a pipeline, so encoding rarely reallocates.
                let buf = BytesMut::with_capacity(GROUP_CAPACITY);
                self.groups.push(Group { addr, resp3, count: 0, state: State::Open(buf), deadline: None });
                self.groups.len() - 1
            }
        };
        let g = &mut self.groups[group];
        let State::Open(buf) = &mut g.state else { unreachable!("the group was chosen open") };
        let start = buf.len();
        encode(buf);
        let ticket = Ticket { group, index: g.count, range: start..buf.len() };
        g.count += 1;
        ticket
    }

    /// Sends every open group on the client's lane of its node.
    pub(crate) fn flush(&mut self, pools: &Pools, lane: usize) {
        for g in &mut self.groups {
            if let State::Open(buf) = &mut g.state {
                let bytes = std::mem::take(buf).freeze();
                let rx = pools.send_group(g.addr, g.resp3, lane, bytes.clone(), g.count);
                g.state = State::Sent(bytes, rx);
            }
        }
    }

    /// The encoded command, for sending it again elsewhere.
    pub(crate) fn bytes(&self, t: &Ticket) -> Bytes {
        match &self.groups[t.group].state {
            State::Open(buf) => Bytes::copy_from_slice(&buf[t.range.clone()]),
            State::Sent(b, _) | State::Done(b, _, _) | State::TimedOut(b) => b.slice(t.range.clone()),
        }
    }

    /// The reply to one command, waiting up to `slice` for its group if it has not arrived
    /// (`Waiting` then), and giving up once the group waited `timeout` in all.
    pub(crate) async fn reply(&mut self, t: &Ticket, slice: Duration, timeout: Duration) -> Outcome {
        let g = &mut self.groups[t.group];
        if let State::Sent(bytes, rx) = &mut g.state {
            let bytes = bytes.clone();
            // Replies already here need no clock.
            let got = match rx.try_recv() {
                Ok(r) => Some(Ok(r)),
                Err(oneshot::error::TryRecvError::Closed) => Some(Err(())),
                Err(oneshot::error::TryRecvError::Empty) => {
                    let now = Instant::now();
                    let deadline = *g.deadline.get_or_insert(now + timeout);
                    crate::tick::until(deadline.min(now + slice), rx).await.map(|r| r.map_err(|_| ()))
                }
            };
            g.state = match got {
                None if g.deadline.is_some_and(|d| Instant::now() < d) => return Outcome::Waiting,
                None => State::TimedOut(bytes),
                Some(Err(())) => {
                    State::Done(bytes, Vec::new(), Some(BackendError::Lost("backend connection dropped".into())))
                }
                Some(Ok(r)) => State::done(bytes, r),
            };
        }
        match &mut g.state {
            State::Done(_, frames, error) => {
                match frames.get_mut(t.index).map(std::mem::take).filter(|f| !f.is_empty()) {
                    Some(frame) => Outcome::Reply(frame),
                    None => Outcome::Failed(
                        error.clone().unwrap_or_else(|| BackendError::Lost("reply already taken".into())),
                    ),
                }
            }
            State::TimedOut(_) => Outcome::TimedOut,
            State::Open(_) | State::Sent(..) => Outcome::Failed(BackendError::NotSent("request was never sent".into())),
        }
    }

    /// The reply to one command if it is already here and is not an error (errors may need a
    /// redirect or a retry, which `reply` and the session's `finish` handle); taken only then.
    pub(crate) fn take_ready(&mut self, t: &Ticket) -> Option<Bytes> {
        let g = &mut self.groups[t.group];
        if let State::Sent(bytes, rx) = &mut g.state {
            let r = rx.try_recv().ok()?;
            g.state = State::done(bytes.clone(), r);
        }
        let State::Done(_, frames, _) = &mut g.state else { return None };
        let frame = frames.get_mut(t.index)?;
        if frame.first().is_none_or(|&b| b == b'-') {
            return None;
        }
        Some(std::mem::take(frame))
    }

    /// Forgets the finished batch.
    pub(crate) fn clear(&mut self) {
        self.groups.clear();
    }
}
