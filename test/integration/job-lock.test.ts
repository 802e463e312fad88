import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { Queue, Worker } from 'bullmq';
import { newSessionId } from '@relaycast/protocol';
import { SessionStore, keySpace } from '@relaycast/store';
import { Control } from '../../services/ingest/src/control.js';
import { JobLock } from '../../services/ingest/src/job-lock.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

let redis: TestRedis;
const conns: Redis[] = [];
const connect = () => {
  const r = new Redis(redis.url, { maxRetriesPerRequest: null });
  conns.push(r);
  return r;
};
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  for (const c of conns) c.disconnect();
  await redis?.close();
});

describe('JobLock (one attempt renews its own job lock)', () => {
  it('keeps the lock past its duration with the attempt token, and reports a lock taken by another token as lost', async () => {
    const prefix = redis.prefix();
    const admin = connect();
    const queue = new Queue('lock', { connection: connect(), prefix });
    // A worker without a processor: jobs are taken by hand, and BullMQ's own lock manager never runs.
    const worker = new Worker('lock', null, { connection: connect(), prefix, lockDuration: 3_000 });
    try {
      await queue.add('g', {});
      const job = (await worker.getNextJob('attempt-1'))!;
      const lockKey = `${prefix}:lock:${job.id}:lock`;
      let lost = 0;
      const lock = new JobLock(job, 'attempt-1', 3_000, () => lost++).start();
      // Over two lock periods (generous ones: a shared CI machine can starve a process for a second):
      // without renewals the key would have expired.
      await new Promise((r) => setTimeout(r, 7_000));
      expect(await admin.get(lockKey)).toBe('attempt-1');
      expect(lost).toBe(0);
      // What a takeover looks like from here: the lock now holds another attempt's token.
      await admin.set(lockKey, 'attempt-2', 'PX', 10_000);
      await waitFor(() => lost === 1, 5_000, 'the lost lock to be reported');
      expect(await admin.get(lockKey)).toBe('attempt-2');
      lock.stop();
    } finally {
      await worker.close(true);
      await queue.close();
    }
  }, 30_000);
});

describe('Control (cancel watchers per attempt)', () => {
  it('two attempts of one session in one process: the first one stopping leaves the second subscribed, and cancel counts it', async () => {
    const keys = keySpace(redis.prefix());
    const store = new SessionStore(connect(), keys, { maxLen: 1000, retentionSeconds: 60, openTtlSeconds: 600 });
    const control = new Control(connect(), keys);
    const id = newSessionId();
    await store.create(id, { model: 'm', createdAt: Date.now() });
    expect((await store.requestCancel(id, 'nobody'))!.watchers).toBe(0);
    const heard = { first: 0, second: 0 };
    const unwatchFirst = await control.watch(id, () => heard.first++);
    const unwatchSecond = await control.watch(id, () => heard.second++);
    unwatchFirst();
    const r = await store.requestCancel(id, 'client_request');
    expect(r!.watchers).toBe(1);
    await waitFor(() => heard.second === 1, 5_000, 'the second attempt to hear the cancel');
    expect(heard.first).toBe(0);
    unwatchSecond();
    await waitFor(async () => (await store.requestCancel(id, 'again'))!.watchers === 0, 5_000, 'the subscription to end with the last watcher');
  });
});
