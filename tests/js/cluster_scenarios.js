// The guide's scenarios through ioredis's Cluster client (slot map from CLUSTER SLOTS, MOVED/ASK
// handling) against a Redis-Cluster-compatible deployment of three masters: SET/GET of keys spread
// over every master, a hash-tagged session pipeline, MSET/MGET on one slot and the rate limiter
// in Lua.
// Usage: node cluster_scenarios.js <port> [<port>...] (seed nodes on 127.0.0.1). Prints "ok";
// exits non-zero with a message on any mismatch, and with 2 if the whole run exceeds 30s.
'use strict';
const Redis = require('ioredis');
const calculateSlot = require('cluster-key-slot');
const assert = require('assert/strict');

const RATE_LIMIT = `
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local increment = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
if current + increment > limit then
  return current
end
return redis.call('INCRBY', KEYS[1], increment)
`;

const OVERALL_TIMEOUT_MS = 30000;

async function main() {
  const ports = process.argv.slice(2).map(Number);
  if (ports.length === 0 || ports.some((p) => !Number.isInteger(p) || p <= 0)) {
    console.error('usage: node cluster_scenarios.js <port> [<port>...]');
    process.exit(64);
  }
  // Bounded retries everywhere so an unreachable or misbehaving cluster fails within seconds
  // instead of queueing commands forever.
  const cluster = new Redis.Cluster(
    ports.map((port) => ({ host: '127.0.0.1', port })),
    {
      lazyConnect: true,
      enableOfflineQueue: true,
      clusterRetryStrategy: (times) => (times > 3 ? null : 200),
      maxRedirections: 16,
      retryDelayOnFailover: 100,
      retryDelayOnClusterDown: 100,
      retryDelayOnTryAgain: 100,
      slotsRefreshTimeout: 2000,
      redisOptions: { connectTimeout: 5000, commandTimeout: 10000, maxRetriesPerRequest: 3 },
    },
  );
  try {
    await cluster.connect();

    // SET/GET of keys spread over all three masters' slot ranges.
    const keys = [];
    for (let i = 0; i < 200; i++) keys.push(`cs:key:${i}`);
    // Default three-master split: 0-5460, 5461-10922, 10923-16383.
    const ranges = new Set(keys.map((k) => { const s = calculateSlot(k); return s <= 5460 ? 0 : s <= 10922 ? 1 : 2; }));
    assert.equal(ranges.size, 3, 'test keys should cover every master');
    for (const k of keys) assert.equal(await cluster.set(k, `val-${k}`), 'OK', `SET ${k}`);
    for (const k of keys) assert.equal(await cluster.get(k), `val-${k}`, `GET ${k}`);

    // Scenario 3: session update in one pipeline, keys kept in one slot by a hash tag.
    const id = 1000;
    const now = Date.now();
    const session = `user:{${id}}:session`;
    const activity = `user:{${id}}:activity`;
    await cluster.del(session);
    await cluster.del(activity);
    const results = await cluster
      .pipeline()
      .hset(session, 'lastSeen', String(now), 'ip', '10.0.0.1', 'agent', 'test')
      .expire(session, 3600)
      .zadd(activity, now, 'login')
      .exec();
    assert.deepEqual(results, [[null, 3], [null, 1], [null, 1]]);
    assert.equal(await cluster.hget(session, 'ip'), '10.0.0.1');
    const ttl = await cluster.ttl(session);
    assert.ok(ttl > 3590 && ttl <= 3600, `ttl ${ttl}`);
    assert.deepEqual(await cluster.zrange(activity, 0, -1, 'WITHSCORES'), ['login', String(now)]);

    // MSET/MGET of several keys on one slot (hash tag {1000}).
    const kv = [];
    for (let i = 0; i < 10; i++) kv.push(`mk:{${id}}:${i}`, `mv${i}`);
    const mkeys = kv.filter((_, i) => i % 2 === 0);
    assert.equal(await cluster.mset(...kv), 'OK');
    assert.deepEqual(
      await cluster.mget(...mkeys, `mk:{${id}}:missing`),
      [...kv.filter((_, i) => i % 2 === 1), null],
    );

    // Scenario 4: the rate limiter, increment 1, limit 100, five calls.
    const rl = `rate_limit:{${id}}`;
    await cluster.del(rl);
    for (let i = 1; i <= 5; i++) {
      assert.equal(await cluster.eval(RATE_LIMIT, 1, rl, 1, 100), i, `EVAL call ${i}`);
    }
    assert.equal(await cluster.get(rl), '5');
    console.log('ok');
  } finally {
    cluster.disconnect();
  }
}

setTimeout(() => {
  console.error(`cluster_scenarios.js: timed out after ${OVERALL_TIMEOUT_MS / 1000}s`);
  process.exit(2);
}, OVERALL_TIMEOUT_MS).unref();

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e && e.stack ? e.stack : e);
    process.exit(1);
  },
);
