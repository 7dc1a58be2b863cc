// Script-heavy npm libraries through strata-proxy (tests/e2e/test_client_libs.py).
// Usage: node libs_check.js PORT SCENARIO KEYS_JSON
// KEYS_JSON: {"a": [keys of group 1], "b": [keys of group 2]}.
// Prints "ok SCENARIO" and exits 0 when every check held; else throws.
'use strict';
const assert = require('assert');

const port = Number(process.argv[2]);
const scenario = process.argv[3];
const keys = JSON.parse(process.argv[4]);
const allKeys = [...keys.a, ...keys.b];

function ioredis(opts) {
  const Redis = require('ioredis');
  return new Redis(Object.assign({ port, host: '127.0.0.1', maxRetriesPerRequest: 2,
    enableOfflineQueue: true }, opts || {}));
}

const SETGET = "redis.call('set', KEYS[1], ARGV[1]) return redis.call('get', KEYS[1])";

// ioredis defineCommand: EVALSHA first, EVAL on NOSCRIPT; two proxy
// connections, so each sees the script through its own first use.
async function checkIoredis() {
  const a = ioredis(), b = ioredis();
  for (const c of [a, b]) c.defineCommand('setget', { numberOfKeys: 1, lua: SETGET });
  for (const k of allKeys) {
    assert.strictEqual(await a.setget(k, 'a:' + k), 'a:' + k);
    assert.strictEqual(await b.setget(k, 'b:' + k), 'b:' + k);
  }
  // a pipeline of script calls over both groups
  const p = a.pipeline();
  for (const k of allKeys) p.setget(k, 'p:' + k);
  const res = await p.exec();
  assert.deepStrictEqual(res.map((r) => r[1]), allKeys.map((k) => 'p:' + k));
  // the script was loaded everywhere through the proxy: EVALSHA works on a
  // brand-new connection for keys of every group
  const sha = await a.script('LOAD', SETGET);
  const c = ioredis();
  for (const k of allKeys) assert.strictEqual(await c.evalsha(sha, 1, k, 'c'), 'c');
  assert.deepStrictEqual(await c.script('EXISTS', sha), [1]);
  // keys of two slots in one script: Redis Cluster's error
  await assert.rejects(c.eval('return 1', 2, keys.a[0], keys.b[0]), /CROSSSLOT/);
  await Promise.all([a.quit(), b.quit(), c.quit()]);
}

// redlock 4: lock, a second lock refused, extend, unlock, lock again.
async function checkRedlock() {
  const Redlock = require('redlock');
  const client = ioredis();
  const redlock = new Redlock([client], { retryCount: 0, driftFactor: 0.01 });
  for (const k of allKeys) {
    const res = 'locks:' + k;
    const lock = await redlock.lock(res, 2000);
    await assert.rejects(redlock.lock(res, 2000), (e) => e.name === 'LockError');
    const ttl1 = await client.pttl(res);
    const ext = await lock.extend(10000);
    assert.ok((await client.pttl(res)) > ttl1, 'extend raised the TTL');
    await ext.unlock();
    assert.strictEqual(await client.exists(res), 0);
    const again = await redlock.lock(res, 1000);
    await again.unlock();
  }
  // several resources in one lock need one slot
  const multi = ['{res}:1', '{res}:2', '{res}:3'];
  const lock = await redlock.lock(multi, 2000);
  assert.strictEqual(await client.exists(...multi), 3);
  await lock.unlock();
  assert.strictEqual(await client.exists(...multi), 0);
  await client.quit();
}

// rate-limiter-flexible: RateLimiterRedis on ioredis (its defineCommand).
async function checkRateLimiter() {
  const { RateLimiterRedis } = require('rate-limiter-flexible');
  const client = ioredis();
  const limiter = new RateLimiterRedis({ storeClient: client, points: 5, duration: 30,
    keyPrefix: 'rlf' });
  for (const k of allKeys) {
    for (let i = 1; i <= 5; i++) {
      const r = await limiter.consume(k);
      assert.strictEqual(r.remainingPoints, 5 - i);
    }
    const rej = await limiter.consume(k).then(() => null, (e) => e);
    assert.ok(rej && rej.remainingPoints === 0 && rej.msBeforeNext > 0, 'sixth is refused');
    const got = await limiter.get(k);
    assert.strictEqual(got.consumedPoints, 6);
    await limiter.delete(k);
    assert.strictEqual((await limiter.consume(k)).remainingPoints, 4);
  }
  await client.quit();
}

// bull 4: add / process / complete on a {q}-prefixed queue (cmsgpack, bit,
// cjson, PUBLISH in its scripts; BRPOPLPUSH on its blocking client).
async function checkBull() {
  const Queue = require('bull');
  const q = new Queue('jobs', { prefix: '{q}', redis: { port, host: '127.0.0.1' } });
  const done = [];
  q.process(2, async (job) => {
    if (job.data.fail) throw new Error('boom');
    return job.data.x * 2;
  });
  const completed = new Promise((resolve) => {
    q.on('completed', (job, result) => {
      done.push(result);
      if (done.length === 5) resolve();
    });
  });
  const failed = new Promise((resolve) => q.on('failed', (job, err) => resolve(err.message)));
  for (let i = 1; i <= 5; i++) await q.add({ x: i }, { removeOnComplete: false });
  await q.add({ fail: true }, { attempts: 1 });
  const delayed = await q.add({ x: 100 }, { delay: 300 });
  await completed;
  assert.deepStrictEqual(done.sort((x, y) => x - y), [2, 4, 6, 8, 10]);
  assert.strictEqual(await failed, 'boom');
  assert.strictEqual(await delayed.finished(), 200);
  const counts = await q.getJobCounts();
  assert.strictEqual(counts.completed, 6);
  assert.strictEqual(counts.failed, 1);
  assert.strictEqual(counts.waiting, 0);
  await q.close();
}

// node-redis (RESP3 by default): defineScript, EVALSHA(_RO) first, EVAL(_RO)
// on NOSCRIPT; IS_READ_ONLY runs the _RO variants; scripts in MULTI.
async function checkNodeRedis() {
  const { createClient, defineScript } = require('redis');
  const scripts = {
    setget: defineScript({ SCRIPT: SETGET, NUMBER_OF_KEYS: 1,
      parseCommand(parser, key, v) { parser.pushKey(key); parser.push(v); } }),
    getro: defineScript({ SCRIPT: "return redis.call('get', KEYS[1])", NUMBER_OF_KEYS: 1,
      IS_READ_ONLY: true, parseCommand(parser, key) { parser.pushKey(key); } }),
    badro: defineScript({ SCRIPT: "return redis.call('set', KEYS[1], 'x')", NUMBER_OF_KEYS: 1,
      IS_READ_ONLY: true, parseCommand(parser, key) { parser.pushKey(key); } }),
  };
  const c = createClient({ socket: { host: '127.0.0.1', port, reconnectStrategy: false }, scripts });
  await c.connect();
  for (const k of allKeys) {
    assert.strictEqual(await c.setget(k, 'nr:' + k), 'nr:' + k);
    assert.strictEqual(await c.getro(k), 'nr:' + k);
    await assert.rejects(c.badro(k), /Write commands are not allowed from read-only scripts/);
  }
  for (const group of [keys.a, keys.b]) {
    const res = await c.multi().setget(group[0], 'tx').getro(group[0]).exec();
    assert.deepStrictEqual(res, ['tx', 'tx']);
  }
  await c.quit();
}

const scenarios = { ioredis: checkIoredis, noderedis: checkNodeRedis, redlock: checkRedlock,
  ratelimiter: checkRateLimiter, bull: checkBull };

const timer = setTimeout(() => {
  console.error(`timeout in ${scenario}`);
  process.exit(3);
}, 45000);

scenarios[scenario]().then(() => {
  clearTimeout(timer);
  console.log(`ok ${scenario}`);
  process.exit(0);
}, (e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
