import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { tokensFor } from '../../services/mock-model/src/index.js';
import { followEventSource, followRaw, referenceRead, textAfterLastReset, waitForSeq, wire } from '../helpers/clients.js';
import { sample, scrape } from '../helpers/metrics.js';
import { startProcCluster, workerRunning, type ProcCluster } from '../helpers/procs.js';
import { waitFor } from '../helpers/wait.js';

describe('real processes: ingest workers killed and paused mid-generation', () => {
  let c: ProcCluster;
  beforeAll(async () => {
    // Two attempts: one takeover is allowed, the second stall fails the job. Lock settings are the
    // harness's short ones (4 s lock, 1 s stalled check); test/chaos checks the production defaults.
    c = await startProcCluster({ edges: 2, workers: 2, env: { SSE_RETRY_MS: '50', COALESCE_MS: '0', JOB_ATTEMPTS: '2' } });
  }, 90_000);
  afterAll(() => c?.close());
  beforeEach(async () => {
    for (const w of c.workers) if (w.paused) w.resume();
    await Promise.all([...c.edges, ...c.workers].filter((p) => !p.alive).map((p) => p.start()));
  });

  it('a worker SIGKILLed mid-generation: the stalled job is taken over within 15 s, reset {attempt: 2}, the text completes', async () => {
    const prompt = 'kill the worker';
    const s = await c.create({ messages: [{ role: 'user', content: prompt }], seed: 5, max_tokens: 400, mock: { intervalMs: 10 } });
    let resetAt = 0;
    const clients = [followRaw(c, s.eventsUrl, { onEvent: (e) => { if (e.event === 'reset') resetAt ||= Date.now(); } }), followEventSource(c, s.eventsUrl)];
    const victim = await workerRunning(c);
    await waitForSeq(c, s.id, 20);
    const killedAt = Date.now();
    await victim.kill('SIGKILL');
    const [raw, es] = await Promise.all(clients);
    await victim.start();
    expect(resetAt - killedAt).toBeLessThan(15_000);
    const ref = await referenceRead(c, s.eventsUrl);
    const resets = ref.filter((e) => e.event === 'reset');
    expect(resets.map((e) => JSON.parse(e.data))).toEqual([{ reason: 'retry', attempt: 2 }]);
    expect(ref.at(-1)!.event).toBe('done');
    expect(ref.filter((e) => ['done', 'error', 'cancelled'].includes(e.event!))).toHaveLength(1);
    expect(ref.map((e) => Number(e.id))).toEqual(ref.map((_, i) => i + 1));
    expect(textAfterLastReset(ref)).toBe(tokensFor(prompt, 5, 400).join(''));
    expect(wire(raw!.events)).toEqual(wire(ref));
    expect(wire(es!.events)).toEqual(wire(ref));
  }, 60_000);

  it('the worker running the session killed on every attempt: once attempts are exhausted the session ends with error and every subscriber ends', async () => {
    const s = await c.create({ messages: [{ role: 'user', content: 'doomed' }], seed: 6, max_tokens: 3000, mock: { intervalMs: 10 } });
    const clients = [followRaw(c, s.eventsUrl), followEventSource(c, s.eventsUrl, { timeoutMs: 60_000 })];
    for (let attempt = 1; attempt <= 2; attempt++) {
      const victim = await workerRunning(c);
      await waitFor(async () => (await c.stream(s.id)).filter((e) => e.type === 'delta').length >= 10 * attempt, 20_000, `attempt ${attempt} to stream`);
      await victim.kill('SIGKILL');
      // Back at once, so a worker is always there to notice the stall and to pick the job up.
      await victim.start();
    }
    const results = await Promise.all(clients);
    const stream = await c.stream(s.id);
    const terminals = stream.filter((e) => ['done', 'error', 'cancelled'].includes(e.type));
    expect(terminals).toHaveLength(1);
    expect(stream.at(-1)!.type).toBe('error');
    expect(JSON.parse(stream.at(-1)!.data)).toMatchObject({ code: 'worker_failed', retryable: false });
    expect(stream.filter((e) => e.type === 'reset').map((e) => JSON.parse(e.data).attempt)).toEqual([2]);
    for (const r of results) {
      expect(r.events.at(-1)!.event).toBe('error');
      expect(r.events.map((e) => [e.event, e.data])).toEqual(stream.map((e) => [e.type, e.data]));
    }
  }, 90_000);

  it('a paused worker that lost its job is fenced: after SIGCONT none of its appends lands after the reset', async () => {
    const prompt = 'pause the worker';
    const s = await c.create({ messages: [{ role: 'user', content: prompt }], seed: 7, max_tokens: 800, mock: { intervalMs: 10 } });
    const clients = [followRaw(c, s.eventsUrl), followEventSource(c, s.eventsUrl, { timeoutMs: 60_000 })];
    const paused = await workerRunning(c);
    await waitForSeq(c, s.id, 30);
    paused.pause();
    // The other worker notices the stalled job, takes the session as attempt 2 and appends its reset.
    await waitFor(async () => (await c.stream(s.id)).some((e) => e.type === 'reset'), 20_000, 'the takeover and its reset');
    const resetSeq = (await c.stream(s.id)).find((e) => e.type === 'reset')!.seq;
    await waitForSeq(c, s.id, resetSeq + 20);
    paused.resume();
    // The old attempt wakes mid-stream, tries to append, is refused and stops.
    await waitFor(async () => sample(await scrape(`http://127.0.0.1:${paused.healthPort}/metrics`).catch(() => ''), 'relaycast_ingest_fenced_total') === 1, 20_000, 'the paused worker to be fenced');
    const results = await Promise.all(clients);
    const stream = await c.stream(s.id);
    const reset = stream.findIndex((e) => e.type === 'reset');
    expect(stream.map((e) => e.seq)).toEqual(stream.map((_, i) => i + 1));
    expect(stream.filter((e) => e.type === 'reset').map((e) => JSON.parse(e.data))).toEqual([{ reason: 'retry', attempt: 2 }]);
    // After the reset, exactly attempt 2's answer: any append of attempt 1 would add text to it.
    expect(textAfterLastReset(stream.slice(reset))).toBe(tokensFor(prompt, 7, 800).join(''));
    expect(stream.at(-1)!.type).toBe('done');
    expect(stream.filter((e) => ['done', 'error', 'cancelled'].includes(e.type))).toHaveLength(1);
    for (const r of results) expect(r.events.map((e) => [e.id, e.event, e.data])).toEqual(stream.map((e) => [String(e.seq), e.type, e.data]));
  }, 90_000);
  it('a SIGTERM that arrives while a worker or an edge is still starting drains it: exit code 0, not death by signal', async () => {
    for (const p of [c.workers[0]!, c.edges[0]!]) {
      for (let i = 0; i < 3; i++) {
        await p.kill('SIGKILL');
        // start() returns as soon as /healthz answers, before start-up has finished.
        await p.start();
        expect(await p.kill('SIGTERM'), p.name).toEqual({ code: 0, signal: null });
      }
      await p.start();
    }
  }, 90_000);
});
