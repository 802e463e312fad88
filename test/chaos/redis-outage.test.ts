import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokensFor } from '../../services/mock-model/src/index.js';
import { followEventSource, followRaw, referenceRead, textAfterLastReset, waitForSeq, wire } from '../helpers/clients.js';
import { sample, scrape } from '../helpers/metrics.js';
import { startProcCluster, type ProcCluster } from '../helpers/procs.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Issue 17 item 1: a Redis outage far longer than the job lock (the harness's 4 s, and the shipped 10 s),
 * mid-generation. BullMQ sees the lock gone once Redis is back and hands the job out again, often to the
 * worker still running the old attempt; before the fix that worker stopped renewing the new attempt's lock
 * and the session ended `error worker_failed`. Every subscriber must end with the complete answer.
 */
const SESSIONS = 4;
const TOKENS = 2_800;
const INTERVAL_MS = 10;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** Generations each worker is running, from its /metrics. */
function running(c: ProcCluster): Promise<number[]> {
  return Promise.all(c.workers.map(async (w) => sample(await scrape(`http://127.0.0.1:${w.healthPort}/metrics`), 'relaycast_ingest_active_generations') ?? 0));
}

async function redisPid(c: ProcCluster): Promise<number> {
  const info = await c.admin().info('server');
  const pid = Number(/process_id:(\d+)/.exec(info)?.[1]);
  if (!pid) throw new Error('no process_id in INFO server');
  return pid;
}

const outages: [string, (c: ProcCluster) => Promise<void>][] = [
  [
    'paused with SIGSTOP for 20 s',
    async (c) => {
      const pid = await redisPid(c);
      process.kill(pid, 'SIGSTOP');
      try {
        await sleep(20_000);
      } finally {
        process.kill(pid, 'SIGCONT');
      }
    },
  ],
  [
    'SIGKILLed and restarted from its append-only file after 14 s',
    async (c) => {
      await c.redis.stop();
      await sleep(14_000);
      await c.redis.restart();
    },
  ],
];

describe.each([1, 2])('a Redis outage longer than the job lock, %i worker(s)', (workers) => {
  let c: ProcCluster;
  beforeAll(async () => {
    c = await startProcCluster({ edges: 2, workers, env: { SSE_RETRY_MS: '100', COALESCE_MS: '0' } });
  }, 90_000);
  afterAll(() => c?.close());

  it.each(outages)('Redis %s mid-generation: every subscriber ends with the complete answer, no error', async (_name, outage) => {
    // One session at a time, each running before the next is created: BullMQ wakes the worker blocked
    // longest, so with two workers both run some of them, and after the outage the worker that takes the
    // jobs back is running stale attempts of some of them (the case that lost sessions).
    const runs = [];
    for (let i = 0; i < SESSIONS; i++) {
      const prompt = `outage ${workers} ${i}`;
      const s = await c.create({ messages: [{ role: 'user', content: prompt }], seed: i, max_tokens: TOKENS, mock: { intervalMs: INTERVAL_MS } });
      const clients = [followRaw(c, s.eventsUrl, { connectionTimeoutMs: 150_000 }), followEventSource(c, s.eventsUrl, { timeoutMs: 150_000 })];
      runs.push({ s, prompt, seed: i, clients });
      await waitFor(async () => sum(await running(c)) === i + 1, 20_000, `${i + 1} generations running`);
    }
    expect((await running(c)).every((n) => n > 0), 'every worker runs some of the sessions').toBe(true);
    // Every generation is under way (and far from its end) when Redis goes away.
    for (const r of runs) await waitForSeq(c, r.s.id, 20);
    await outage(c);
    for (const r of runs) {
      const got = await Promise.all(r.clients);
      const ref = await referenceRead(c, r.s.eventsUrl);
      const last = ref.at(-1)!;
      expect(last.event, `${r.s.id} ended with ${last.event} ${last.data}`).toBe('done');
      expect(ref.map((e) => Number(e.id))).toEqual(ref.map((_, i) => i + 1));
      expect(textAfterLastReset(ref)).toBe(tokensFor(r.prompt, r.seed, TOKENS).join(''));
      for (const g of got) expect(wire(g.events)).toEqual(wire(ref));
    }
  }, 180_000);
});
