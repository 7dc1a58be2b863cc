// noderedis_check.js: node-redis (npm `redis`) against a Redis endpoint,
// run by tests/e2e/test_client_noderedis.py.
//
//   node noderedis_check.js PORT SCENARIO KEYS_JSON
//
// KEYS_JSON is {"a": [keys of group 1], "b": [keys of group 2]}.  Each
// scenario throws (exit code 1, the reason on stderr) at the first
// reply that is not what Redis 7.0 gives, and prints "ok <scenario>" at
// the end.  Clients use node-redis's defaults (it opens with HELLO 3)
// unless the scenario says otherwise.
'use strict';
const assert = require('node:assert/strict');
const { createClient } = require('redis');

const port = Number(process.argv[2]);
const scenario = process.argv[3];
const keys = JSON.parse(process.argv[4] || '{"a":[],"b":[]}');

function client(extra) {
  const c = createClient({ socket: { host: '127.0.0.1', port, reconnectStrategy: false }, ...extra });
  c.on('error', (e) => { console.error('client error:', e); process.exitCode = 1; });
  return c;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(what, fn, ms = 5000) {
  const end = Date.now() + ms;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

async function basic() {
  const c = client();
  await c.connect();
  const [a, b] = [keys.a[0], keys.b[0]];
  // strings, on both groups, and a split MGET / DEL
  assert.equal(await c.set(a, 'va'), 'OK');
  assert.equal(await c.set(b, 'vb'), 'OK');
  assert.equal(await c.get(a), 'va');
  assert.equal(await c.get('noderedis:missing'), null);
  assert.deepEqual(await c.mGet([a, 'noderedis:missing', b]), ['va', null, 'vb']);
  assert.equal(await c.incr(`${a}:n`), 1);
  assert.equal(await c.incrByFloat(`${a}:n`, 1.5), '2.5'); // a bulk string in RESP3 too
  assert.equal(await c.exists([a, b, 'noderedis:missing']), 2);
  // hashes: HGETALL is a RESP3 map
  assert.equal(await c.hSet(`${b}:h`, { f1: 'x', f2: 'y' }), 2);
  assert.deepEqual({ ...(await c.hGetAll(`${b}:h`)) }, { f1: 'x', f2: 'y' });
  assert.deepEqual({ ...(await c.hGetAll('noderedis:nohash')) }, {});
  assert.equal(await c.hGet(`${b}:h`, 'f2'), 'y');
  // sorted set scores are RESP3 doubles
  await c.zAdd(`${a}:z`, [{ score: 1.5, value: 'm' }]);
  assert.equal(await c.zScore(`${a}:z`, 'm'), 1.5);
  // MULTI on one group (a hash tag keeps the keys together)
  const tag = `{${a}}`;
  const res = await c.multi().set(`${tag}:1`, '1').incr(`${tag}:1`).hSet(`${tag}:h`, 'f', 'v')
    .hGetAll(`${tag}:h`).get(`${tag}:none`).exec();
  assert.equal(res.length, 5);
  assert.equal(res[0], 'OK');
  assert.equal(res[1], 2);
  assert.deepEqual({ ...res[3] }, { f: 'v' });
  assert.equal(res[4], null);
  // an error reply rejects the command and the connection goes on
  await assert.rejects(c.lPush(a, 'x'), /WRONGTYPE/);
  assert.equal(await c.ping(), 'PONG');
  assert.equal(await c.del([a, b, `${a}:n`, `${b}:h`, `${a}:z`, `${tag}:1`, `${tag}:h`]), 7);
  await c.quit();
  console.log('ok basic');
}

async function pubsub() {
  const sub = client();
  const pub = client();
  await sub.connect();
  await pub.connect();
  const got = [];
  await sub.subscribe('noderedis:news', (msg, ch) => got.push([ch, msg]));
  await sub.pSubscribe('noderedis:*', (msg, ch) => got.push(['p:' + ch, msg]));
  // RESP3: the subscribed connection still runs commands
  assert.equal(await sub.set(keys.b[0], 'x'), 'OK');
  assert.equal(await sub.get(keys.b[0]), 'x');
  assert.equal(await pub.publish('noderedis:news', 'hello'), 2);
  await until('messages', () => got.length >= 2);
  got.sort();
  assert.deepEqual(got, [['noderedis:news', 'hello'], ['p:noderedis:news', 'hello']]);
  await sub.unsubscribe('noderedis:news');
  await sub.pUnsubscribe('noderedis:*');
  assert.equal(await pub.publish('noderedis:news', 'late'), 0);
  assert.equal(await sub.del(keys.b[0]), 1);
  await sub.quit();
  await pub.quit();
  console.log('ok pubsub');
}

async function cache() {
  const c = client({ RESP: 3, clientSideCache: { ttl: 0, maxEntries: 0, recordStats: true } });
  const w = client();
  await c.connect();
  await w.connect();
  const [a, b] = [keys.a[0], keys.b[0]];
  await w.set(a, '1');
  await w.set(b, '1');
  // two reads per key: the second is served from the cache
  for (let i = 0; i < 2; i++) {
    assert.equal(await c.get(a), '1');
    assert.equal(await c.get(b), '1');
  }
  const stats = c.clientSideCache.stats();
  assert.equal(stats.missCount, 2);
  assert.equal(stats.hitCount, 2);
  // writes by another client invalidate the cached keys of both groups
  await w.set(a, '2');
  await w.set(b, '2');
  await until('invalidation of the key on group 1', async () => (await c.get(a)) === '2');
  await until('invalidation of the key on group 2', async () => (await c.get(b)) === '2');
  await w.del([a, b]);
  await c.quit();
  await w.quit();
  console.log('ok cache');
}

const scenarios = { basic, pubsub, cache };
const fn = scenarios[scenario];
if (!fn) {
  console.error(`unknown scenario ${scenario}`);
  process.exit(2);
}
const timer = setTimeout(() => { console.error('scenario timed out'); process.exit(1); }, 30000);
fn().then(() => clearTimeout(timer), (e) => {
  clearTimeout(timer);
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
