// The guide's scenarios through ioredis (its client) against one Redis-compatible endpoint:
// a session update in one pipeline, the rate limiter in Lua, and MGET/MSET over many keys.
// Usage: node guide_scenarios.js <port>. Exits non-zero with a message on any mismatch.
'use strict';
const Redis = require('ioredis');
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

async function main() {
  const port = Number(process.argv[2]);
  const redis = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 3, enableOfflineQueue: false });
  await redis.connect();
  try {
    const id = 1000;
    const now = Date.now();
    // Scenario 3: session update in one pipeline, keys kept in one slot by a hash tag.
    const results = await redis
      .pipeline()
      .hset(`user:{${id}}:session`, 'lastSeen', String(now), 'ip', '10.0.0.1', 'agent', 'test')
      .expire(`user:{${id}}:session`, 3600)
      .zadd(`user:{${id}}:activity`, now, 'login')
      .exec();
    assert.deepEqual(results, [[null, 3], [null, 1], [null, 1]]);
    assert.equal(await redis.hget(`user:{${id}}:session`, 'ip'), '10.0.0.1');
    const ttl = await redis.ttl(`user:{${id}}:session`);
    assert.ok(ttl > 3590 && ttl <= 3600, `ttl ${ttl}`);
    assert.deepEqual(await redis.zrange(`user:{${id}}:activity`, 0, -1, 'WITHSCORES'), ['login', String(now)]);

    // Scenario 4: the rate limiter, increment 1, limit 100, on rate_limit:user:1000.
    redis.defineCommand('rateLimit', { numberOfKeys: 1, lua: RATE_LIMIT });
    await redis.del('rate_limit:user:1000');
    for (let i = 1; i <= 100; i++) {
      assert.equal(await redis.rateLimit('rate_limit:user:1000', 1, 100), i);
    }
    assert.equal(await redis.rateLimit('rate_limit:user:1000', 1, 100), 100, 'over the limit returns the counter unchanged');
    assert.equal(await redis.eval(RATE_LIMIT, 1, 'rate_limit:user:1000', 1, 100), 100);
    assert.equal(await redis.get('rate_limit:user:1000'), '100');

    // MSET/MGET over keys in many slots.
    const kv = [];
    for (let i = 0; i < 50; i++) kv.push(`k:${i}`, `v${i}`);
    assert.equal(await redis.mset(...kv), 'OK');
    const keys = kv.filter((_, i) => i % 2 === 0);
    assert.deepEqual(await redis.mget(...keys, 'missing'), [...kv.filter((_, i) => i % 2 === 1), null]);
    console.log('ok');
  } finally {
    redis.disconnect();
  }
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
