import { request, type ClientRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newSessionId } from '@relaycast/protocol';
import { createRedis, keySpace, storeFor, type KeySpace, type RedisClient } from '@relaycast/store';
import { mintToken } from '../helpers/auth.js';
import { startSystem, type TestSystem } from '../helpers/system.js';

/**
 * What a subscribe and a disconnect cost Redis, counted by Redis itself (INFO's total_reads_processed: one
 * per batch of commands it reads off a socket). A subscribe's admission (the session's script and the
 * address's slot) is one write, so one read; streams that close together give their slots back in one
 * write, summed per key. The idle rate of reads (ingest's queue, heartbeats) is measured and allowed for.
 */

/** Opens an event stream and resolves once its first bytes arrive; the request is kept to close it. */
function subscribe(url: string): Promise<ClientRequest> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { accept: 'text/event-stream' }, agent: false }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`subscribe: HTTP ${res.statusCode}`));
      res.on('error', () => undefined);
      res.once('data', () => resolve(req));
    });
    req.on('error', reject);
    req.end();
  });
}

async function waitFor(cond: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('Redis round trips per subscribe and disconnect', () => {
  let sys: TestSystem;
  let redis: RedisClient;
  let keys: KeySpace;
  let url: string;
  let sessionId: string;
  const reads = async () => Number(/^total_reads_processed:(\d+)/m.exec(await redis.info('stats'))![1]);
  const counted = async (key: string) => Object.entries(await redis.hgetall(key)).reduce((n, [f, v]) => (f.startsWith('c:') ? n + Number(v) : n), 0);

  beforeAll(async () => {
    sys = await startSystem({ edges: 1 });
    redis = createRedis(sys.cfg.redis, 'test-subscribe-cost');
    keys = keySpace(sys.cfg.REDIS_KEY_PREFIX);
    // A session made in Redis with one event, as ingest would leave it.
    const store = storeFor(sys.cfg, redis);
    sessionId = newSessionId();
    await store.create(sessionId, { model: 'test', createdAt: Date.now(), tenant: 'test' });
    const { attempt } = await store.begin(sessionId);
    await store.append(sessionId, attempt, 1, [{ type: 'delta', text: 'hello' }]);
    url = `${sys.edges[0]!.url}/v1/sessions/${sessionId}/events?token=${mintToken(sessionId)}`;
  });
  afterAll(async () => {
    redis?.disconnect();
    await sys?.close();
  });

  it('sequential subscribes: one read each; streams closed together: their releases in one read, counts back to 0', async () => {
    // The first stream loads the scripts and subscribes the session; the rest find both done.
    const held = [await subscribe(url)];
    const idle0 = await reads();
    const t0 = Date.now();
    await new Promise((r) => setTimeout(r, 500));
    // INFO's own read is counted too.
    const idlePerMs = ((await reads()) - idle0 - 1) / (Date.now() - t0);
    const n = 40;
    const before = await reads();
    const started = Date.now();
    for (let i = 0; i < n; i++) held.push(await subscribe(url));
    const perSubscribe = ((await reads()) - before - 1 - idlePerMs * (Date.now() - started)) / n;
    // Two writes per subscribe measured 1.5-1.8 reads each.
    expect(perSubscribe).toBeLessThanOrEqual(1.15);

    const beforeClose = await reads();
    const closing = Date.now();
    for (const req of held) req.destroy();
    await waitFor(async () => (await counted(keys.limits.sessionConnections(sessionId))) === 0, 'every session slot to be given back');
    expect(await counted(keys.limits.ipConnections('127.0.0.1'))).toBe(0);
    // The counting itself (HGETALL per poll, INFO) is subtracted with the idle rate; one release per key
    // per stream measured about one read per stream (41 here).
    const polls = Math.ceil((Date.now() - closing) / 25) + 2;
    const closeReads = (await reads()) - beforeClose - polls - idlePerMs * (Date.now() - closing);
    expect(closeReads).toBeLessThanOrEqual(8);
  });
});
