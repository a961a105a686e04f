// The guide's job queue on a stream consumer group and its rate limiter as a Redis function,
// through ioredis against one Redis-compatible endpoint, mirroring tests/py/job_queue.py:
// XREADGROUP BLOCK woken by XADD, XACK, a worker dying with a pending job that another takes
// over with XAUTOCLAIM, and FCALL of a limiter loaded with FUNCTION LOAD.
// Prints "ok"; exits 1 on a mismatch.
const Redis = require('ioredis');

const port = Number(process.argv[2]);

const LIMITER = `#!lua name=ratelimit
redis.register_function('allow', function(keys, args)
  local n = redis.call('INCR', keys[1])
  if n == 1 then redis.call('PEXPIRE', keys[1], args[2]) end
  if n > tonumber(args[1]) then return 0 end
  return 1
end)
`;

function check(got, want, what) {
  if (JSON.stringify(got) !== JSON.stringify(want)) {
    throw new Error(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function jobQueue(r, other) {
  await r.del('jobs:js');
  check(await r.xgroup('CREATE', 'jobs:js', 'workers', '$', 'MKSTREAM'), 'OK', 'XGROUP CREATE MKSTREAM');
  setTimeout(() => other.xadd('jobs:js', '*', 'task', 'resize', 'id', '1'), 300);
  const started = Date.now();
  const got = await r.xreadgroup('GROUP', 'workers', 'alice', 'COUNT', 1, 'BLOCK', 5000, 'STREAMS', 'jobs:js', '>');
  if (Date.now() - started > 3000) throw new Error('XREADGROUP BLOCK woke late');
  check(got.length, 1, 'XREADGROUP streams');
  const [stream, entries] = got[0];
  check(stream, 'jobs:js', 'XREADGROUP stream name');
  const [jobId, fields] = entries[0];
  check(fields, ['task', 'resize', 'id', '1'], 'XREADGROUP fields');
  check(await r.xack('jobs:js', 'workers', jobId), 1, 'XACK');

  // bob takes the next job and dies before acknowledging it.
  const second = await r.xadd('jobs:js', '*', 'task', 'thumbnail', 'id', '2');
  const bobs = await r.xreadgroup('GROUP', 'workers', 'bob', 'COUNT', 1, 'STREAMS', 'jobs:js', '>');
  check(bobs[0][1][0][0], second, "bob's job");
  const summary = await r.xpending('jobs:js', 'workers');
  check([summary[0], summary[3]], [1, [['bob', '1']]], 'XPENDING summary');
  await sleep(200);
  // carol claims what has been idle for 100 ms.
  const [cursor, claimed, deleted] = await r.xautoclaim('jobs:js', 'workers', 'carol', 100, '0-0');
  check(claimed.map((e) => e[0]), [second], 'XAUTOCLAIM claimed');
  check([cursor, deleted], ['0-0', []], 'XAUTOCLAIM cursor and deleted ids');
  check(await r.xack('jobs:js', 'workers', second), 1, 'XACK by carol');
  check((await r.xpending('jobs:js', 'workers'))[0], 0, 'nothing pending');
  const none = await r.xreadgroup('GROUP', 'workers', 'alice', 'COUNT', 1, 'BLOCK', 200, 'STREAMS', 'jobs:js', '>');
  check(none, null, 'XREADGROUP timing out');
}

async function rateLimiter(r) {
  check(await r.call('FUNCTION', 'LOAD', 'REPLACE', LIMITER), 'ratelimit', 'FUNCTION LOAD');
  await r.del('rl:js:user1');
  const got = [];
  for (let i = 0; i < 5; i += 1) got.push(await r.call('FCALL', 'allow', 1, 'rl:js:user1', 3, 400));
  check(got, [1, 1, 1, 0, 0], 'FCALL allow within the window');
  await sleep(600);
  check(await r.call('FCALL', 'allow', 1, 'rl:js:user1', 3, 400), 1, 'FCALL allow after the window');
}

async function main() {
  const r = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
  const other = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
  try {
    await jobQueue(r, other);
    await rateLimiter(r);
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
