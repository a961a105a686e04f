// A legacy application's cross-slot commands through ioredis (a plain client) against one
// Redis-compatible endpoint, mirroring tests/py/cross_slot.py: SUNIONSTORE, RENAME, and a BLPOP
// over two keys woken by a push from another connection. Prints "ok"; exits 1 on a mismatch.
const Redis = require('ioredis');

const port = Number(process.argv[2]);

function check(got, want, what) {
  if (JSON.stringify(got) !== JSON.stringify(want)) {
    console.error(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
    process.exit(1);
  }
}

async function main() {
  const r = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
  const other = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
  try {
    await r.del('tags:a', 'tags:b', 'tags:all', 'cart:old', 'cart:new', 'jobs:high', 'jobs:low');
    await r.sadd('tags:a', 'x', 'y');
    await r.sadd('tags:b', 'y', 'z');
    check(await r.sunionstore('tags:all', 'tags:a', 'tags:b'), 3, 'SUNIONSTORE');
    check((await r.smembers('tags:all')).sort(), ['x', 'y', 'z'], 'SMEMBERS of the destination');
    await r.hset('cart:old', 'item', '42', 'qty', '2');
    await r.expire('cart:old', 300);
    check(await r.rename('cart:old', 'cart:new'), 'OK', 'RENAME');
    check(await r.hgetall('cart:new'), { item: '42', qty: '2' }, 'HGETALL after RENAME');
    check(await r.exists('cart:old'), 0, 'EXISTS of the old name');
    const ttl = await r.ttl('cart:new');
    if (ttl < 290 || ttl > 300) throw new Error(`RENAME lost the TTL: ${ttl}`);
    setTimeout(() => other.rpush('jobs:low', 'job-1'), 300);
    const started = Date.now();
    check(await r.blpop('jobs:high', 'jobs:low', 5), ['jobs:low', 'job-1'], 'BLPOP over two keys');
    if (Date.now() - started > 3000) throw new Error('BLPOP woke late');
    check(await r.blpop('jobs:high', 'jobs:low', 0.2), null, 'BLPOP timing out');
    console.log('ok');
  } finally {
    r.disconnect();
    other.disconnect();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
