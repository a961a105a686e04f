//! Keyspace notifications through the proxy. A cluster node publishes the events of its own
//! keys on itself only, so a client that subscribes to `__keyspace@...` or `__keyevent@...`
//! channels, or to patterns that can only match them, is subscribed on every master: on its
//! global link as usual, and on a "mirror" link to each other master. Mirrors forward messages
//! and keep their confirmations to themselves, so counts stay the client's own. On the retry
//! timer the mirrors follow the topology (new masters, failovers). Patterns that could match
//! other channels too (`*`) stay on the global link: a PUBLISH reaches every node of a cluster,
//! and mirroring them would deliver it once per master.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use protocol::Frame;

use super::{notice_kind, Subscriptions};
use crate::state::{Proxy, Session};

/// How often the mirrors are checked against the masters while notifications are subscribed.
const FOLLOW: Duration = Duration::from_secs(1);

/// Whether a channel or pattern names keyspace notifications and nothing else.
pub(super) fn is_notification(name: &[u8]) -> bool {
    name.starts_with(b"__keyspace@") || name.starts_with(b"__keyevent@")
}

impl Subscriptions {
    fn notifying(&self) -> bool {
        !self.notify_channels.is_empty() || !self.notify_patterns.is_empty()
    }

    /// After a (P)(UN)SUBSCRIBE went to the global link (`name` is its lowercase name): its
    /// notification channels are subscribed, or left, on every other master too.
    pub(super) async fn mirror(&mut self, proxy: &Proxy, s: &Session, name: &str, args: &[Bytes]) {
        let leaving = name.ends_with("unsubscribe");
        let set = if name.starts_with('p') { &mut self.notify_patterns } else { &mut self.notify_channels };
        let names: Vec<Bytes> = if leaving && args.len() == 1 {
            set.drain().collect()
        } else {
            args[1..].iter().filter(|a| is_notification(a)).cloned().collect()
        };
        if names.is_empty() {
            return;
        }
        for n in &names {
            if leaving {
                set.remove(n);
            } else {
                set.insert(n.clone());
            }
        }
        let mut command = vec![args[0].clone()];
        command.extend(names);
        for link in self.mirrors.clone() {
            self.send(link, &command).await;
        }
        if leaving && !self.notifying() {
            for link in std::mem::take(&mut self.mirrors) {
                if let Some(l) = self.links.get_mut(link).and_then(Option::take) {
                    l.reader.abort();
                }
            }
        } else if !leaving {
            self.follow_masters(proxy, s).await;
        }
    }

    /// A mirror on every master but the global link's, subscribed to the notification
    /// channels; mirrors on nodes that are no longer masters are closed.
    pub(super) async fn follow_masters(&mut self, proxy: &Proxy, s: &Session) {
        if !self.notifying() {
            return;
        }
        let masters = proxy.topo.snapshot().masters.clone();
        let addr_of = |subs: &Subscriptions, link: usize| subs.links.get(link).and_then(Option::as_ref).map(|l| l.addr);
        let global = self.global.and_then(|g| addr_of(self, g));
        for link in self.mirrors.clone() {
            let stale = addr_of(self, link).is_none_or(|a| !masters.contains(&a) || Some(a) == global);
            if stale {
                self.mirrors.retain(|&m| m != link);
                if let Some(l) = self.links.get_mut(link).and_then(Option::take) {
                    l.reader.abort();
                }
            }
        }
        let covered: Vec<SocketAddr> = self.mirrors.iter().filter_map(|&m| addr_of(self, m)).collect();
        for addr in masters {
            if Some(addr) == global || covered.contains(&addr) {
                continue;
            }
            let Ok(link) = self.open(proxy, s, addr).await else { continue };
            self.mirrors.push(link);
            let commands: Vec<Vec<Bytes>> =
                [(&b"SUBSCRIBE"[..], &self.notify_channels), (b"PSUBSCRIBE", &self.notify_patterns)]
                    .into_iter()
                    .filter(|(_, set)| !set.is_empty())
                    .map(|(verb, set)| {
                        std::iter::once(Bytes::copy_from_slice(verb)).chain(set.iter().cloned()).collect()
                    })
                    .collect();
            for command in commands {
                self.send(link, &command).await;
            }
        }
        let next = Instant::now() + FOLLOW;
        self.retry_at = Some(self.retry_at.map_or(next, |at| at.min(next)));
    }

    /// A frame from a mirror: messages go to the client, confirmations do not.
    pub(super) fn mirror_frame(&mut self, frame: Bytes, out: &mut BytesMut) {
        let Ok(Some((Frame::Array(items) | Frame::Push(items), _))) = Frame::parse(&frame) else { return };
        if matches!(notice_kind(&items).as_deref(), Some("message" | "pmessage")) {
            out.extend_from_slice(&frame);
        }
    }

    /// A mirror's connection ended: it is opened again on the next check.
    pub(super) fn mirror_closed(&mut self, link: usize) {
        self.mirrors.retain(|&m| m != link);
        let soon = Instant::now() + Duration::from_millis(200);
        self.retry_at = Some(self.retry_at.map_or(soon, |at| at.min(soon)));
    }
}
