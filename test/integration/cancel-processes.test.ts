import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { followRaw, TERMINAL, waitForSeq, wire } from '../helpers/clients.js';
import { sample, scrape } from '../helpers/metrics.js';
import { startProcCluster, workerRunning, type CreatedSession, type ProcCluster } from '../helpers/procs.js';
import type { ReceivedEvent } from '../helpers/sse.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Issue 17 item 6: a cancel lands whatever the session is doing. How fast is the bench's business
 * (bench/cancel.mjs); these tests assert that every cancel ends its session with `cancelled`, once.
 */
describe('real processes: cancels', () => {
  let c: ProcCluster;
  beforeAll(async () => {
    // A 1 s first retry backoff, so a cancel can land while the worker sleeps in it.
    c = await startProcCluster({ edges: 2, workers: 2, env: { UPSTREAM_RETRY_BASE_MS: '1000', SSE_RETRY_MS: '100' } });
  }, 90_000);
  afterAll(() => c?.close());
  beforeEach(async () => {
    for (const w of c.workers) if (w.paused) w.resume();
    await Promise.all(c.workers.filter((w) => !w.alive).map((w) => w.start()));
  });

  const running = async (status: string, s: CreatedSession) => {
    await waitFor(async () => ((await (await c.status(s)).json()) as { status: string }).status === status, 20_000, `session ${s.id} ${status}`);
  };
  /** The stream holds exactly one terminal event, `cancelled`, at its end, and the subscriber got exactly the stream. */
  const endedCancelled = async (s: CreatedSession, got: ReceivedEvent[]) => {
    const stream = await c.stream(s.id);
    expect(stream.filter((e) => TERMINAL.has(e.type)).map((e) => e.type), s.id).toEqual(['cancelled']);
    expect(stream.at(-1)!.type).toBe('cancelled');
    expect(wire(got)).toEqual(wire(stream.map((e) => ({ id: String(e.seq), event: e.type, data: e.data }))));
  };
  const idle = () =>
    waitFor(async () => {
      const active = await Promise.all(c.workers.map(async (w) => sample(await scrape(`http://127.0.0.1:${w.healthPort}/metrics`), 'relaycast_ingest_active_generations')));
      return active.every((n) => n === 0);
    }, 30_000, 'every worker idle');

  it('40 generations cancelled at different moments (just created, waiting for the first token, in retry backoff, streaming) each end with cancelled, once', async () => {
    const phases = [
      { body: { max_tokens: 400, mock: { intervalMs: 10 } }, before: async () => undefined },
      { body: { max_tokens: 400, mock: { intervalMs: 10, firstTokenMs: 10_000 } }, before: (s: CreatedSession) => running('running', s) },
      { body: { max_tokens: 400, mock: { intervalMs: 10, fault: 'status:503' } }, before: (s: CreatedSession) => running('running', s) },
      { body: { max_tokens: 3_000, mock: { intervalMs: 10 } }, before: (s: CreatedSession) => waitForSeq(c, s.id, 10) },
    ];
    const runs = await Promise.all(Array.from({ length: 40 }, async (_, i) => {
      const phase = phases[i % phases.length]!;
      const s = await c.create({ messages: [{ role: 'user', content: `cancel ${i}` }], seed: i, ...phase.body });
      const sub = followRaw(c, s.eventsUrl);
      await phase.before(s);
      expect((await c.cancel(s)).status).toBe(202);
      return { s, sub };
    }));
    for (const r of runs) {
      const got = await r.sub;
      expect(got.events.at(-1)!.event, r.s.id).toBe('cancelled');
      await endedCancelled(r.s, got.events);
    }
    await idle();
  }, 120_000);

  it('a cancel lands while every worker is frozen (SIGSTOP: still subscribed, never acting): the edge ends the session, and the workers, resumed, append nothing after it', async () => {
    const sessions: CreatedSession[] = [];
    for (let i = 0; i < 4; i++) sessions.push(await c.create({ messages: [{ role: 'user', content: `paused ${i}` }], seed: i, max_tokens: 3_000, mock: { intervalMs: 10 } }));
    const subs = sessions.map((s) => {
      const events: ReceivedEvent[] = [];
      return { events, done: followRaw(c, s.eventsUrl, { onEvent: (e) => events.push(e) }) };
    });
    for (const s of sessions) await waitForSeq(c, s.id, 10);
    for (const w of c.workers) w.pause();
    for (const s of sessions) expect((await c.cancel(s)).status).toBe(202);
    // Before any worker runs again: no worker can end these sessions now, so the cancel must not wait for one.
    await waitFor(() => subs.every((s) => s.events.at(-1)?.event === 'cancelled'), 30_000, 'every subscriber to get cancelled while the workers are paused');
    for (const w of c.workers) w.resume();
    // The resumed workers' attempts are fenced off; their jobs end without appending.
    await idle();
    for (const [i, s] of sessions.entries()) await endedCancelled(s, (await subs[i]!.done).events);
  }, 120_000);

  it('a cancel lands while its job waits to be run again (the worker running it SIGKILLed, the other frozen): the edge ends the session', async () => {
    const s = await c.create({ messages: [{ role: 'user', content: 'orphaned' }], seed: 1, max_tokens: 3_000, mock: { intervalMs: 10 } });
    const events: ReceivedEvent[] = [];
    const sub = followRaw(c, s.eventsUrl, { onEvent: (e) => events.push(e) });
    await waitForSeq(c, s.id, 10);
    const victim = await workerRunning(c);
    for (const w of c.workers) if (w !== victim) w.pause();
    await victim.kill('SIGKILL');
    expect((await c.cancel(s)).status).toBe(202);
    await waitFor(() => events.at(-1)?.event === 'cancelled', 30_000, 'the cancelled event while no worker can run the job');
    for (const w of c.workers) if (w.paused) w.resume();
    await victim.start();
    // The job, taken over once its lock expires, finds the session ended.
    await idle();
    await endedCancelled(s, (await sub).events);
  }, 120_000);
});
