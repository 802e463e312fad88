import { TERMINAL_TYPES } from '@relaycast/protocol';
import { mkdirSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { followEventSource, followRaw, wire, type Followed } from '../helpers/clients.js';
import { memoryAfterGc, type MemoryAfterGc } from '../helpers/inspector.js';
import { sample, scrape } from '../helpers/metrics.js';
import { startProcCluster, type Proc, type ProcCluster } from '../helpers/procs.js';
import { waitFor } from '../helpers/wait.js';

/** Length of the load phase. The issue asks for 10 minutes; .ci/run passes a shorter one to stay in budget. */
const SOAK_MINUTES = Number(process.env.SOAK_MINUTES ?? 10);
const LOAD_MS = SOAK_MINUTES * 60_000;
/** Sessions running at any moment. */
const CONCURRENCY = 6;
/** A session's subscribers must be done this long after the load phase ends (takeovers included). */
const SETTLE_MS = 180_000;
/** How much more heap (after a forced GC) the witness edge may hold after the load than before it. */
const HEAP_TOLERANCE_BYTES = 8 * 1024 * 1024;

const TERMINAL: ReadonlySet<string> = TERMINAL_TYPES;
const rand = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo + 1));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Kill {
  at: number;
  proc: string;
  signal: NodeJS.Signals;
  exit: { code: number | null; signal: string | null };
}

describe('soak: continuous sessions while edges and workers are killed at random', () => {
  let c: ProcCluster;
  beforeAll(async () => {
    c = await startProcCluster({
      edges: 3,
      workers: 2,
      // edge0 is the memory witness: the load reaches it (clients land on it and move to it), kills never do.
      inspectEdges: true,
      env: { SSE_RETRY_MS: '100', DRAIN_WINDOW_MS: '2000', INGEST_DRAIN_MS: '3000', JOB_ATTEMPTS: '5', HEARTBEAT_MS: '2000', LIVENESS_CHECK_MS: '1000' },
    });
  }, 120_000);
  afterAll(() => c?.close());

  it(`${SOAK_MINUTES} min: every subscriber ends with exactly the stream's sequence and one terminal event; the edge's memory returns to its baseline`, async () => {
    const witness = c.edges[0]!;
    const idle = async () => {
      const text = await scrape(`${witness.url}/metrics`);
      return {
        live: sample(text, 'relaycast_edge_subscribers', { state: 'live' }) ?? -1,
        replaying: sample(text, 'relaycast_edge_subscribers', { state: 'replaying' }) ?? -1,
        sessions: sample(text, 'relaycast_edge_sessions') ?? -1,
        connections: sample(text, 'relaycast_edge_open_connections') ?? -1,
        listeners: sample(text, 'relaycast_edge_event_listeners') ?? -1,
      };
    };
    const quiet = async () => {
      await waitFor(async () => {
        const s = await idle();
        return s.live === 0 && s.replaying === 0 && s.sessions === 0 && s.connections === 0;
      }, 60_000, 'the witness edge to hold no subscriber, session or connection');
      return idle();
    };

    const results = { sessions: 0, createFailures: 0, subscribers: 0, connections: 0, connectionsToWitness: 0, reconnects: 0, eventsReceived: 0, resets: 0, terminals: {} as Record<string, number>, mismatches: [] as string[] };
    /** One session with a raw subscriber, an eventsource subscriber and, half the time, a late joiner. */
    const runSession = async (n: number, viaWitness: boolean) => {
      let s;
      for (let attempt = 0; !s; attempt++) {
        try {
          s = await c.create({ messages: [{ role: 'user', content: `soak ${n}` }], seed: n, max_tokens: rand(30, 300), mock: { intervalMs: rand(5, 20) } }, viaWitness ? witness : undefined);
        } catch (err) {
          // The edge died under the request; a real client retries.
          results.createFailures++;
          if (attempt >= 20) throw err;
          await sleep(200);
        }
      }
      const opts = { connectionTimeoutMs: 120_000, ...(viaWitness ? { first: witness } : {}) };
      const subs: Promise<Followed>[] = [followRaw(c, s.eventsUrl, opts), followEventSource(c, s.eventsUrl, { ...opts, timeoutMs: SETTLE_MS })];
      if (Math.random() < 0.5) subs.push(sleep(rand(0, 2_000)).then(() => followRaw(c, s.eventsUrl, opts)));
      const got = await Promise.all(subs);
      const stream = await c.stream(s.id);
      const terminals = stream.filter((e) => TERMINAL.has(e.type));
      const expected = wire(stream.map((e) => ({ id: String(e.seq), event: e.type, data: e.data })));
      if (terminals.length !== 1 || !TERMINAL.has(stream.at(-1)?.type ?? '')) results.mismatches.push(`${s.id}: ${terminals.length} terminal events in the stream`);
      got.forEach((g, i) => {
        if (JSON.stringify(wire(g.events)) !== JSON.stringify(expected)) results.mismatches.push(`${s.id} subscriber ${i}: ${g.events.length} events, stream has ${stream.length}`);
        results.connections += g.connections.length;
        results.connectionsToWitness += g.connections.filter((conn) => conn.edge === witness.name).length;
        results.reconnects += g.connections.length - 1;
        results.eventsReceived += g.events.length;
      });
      results.sessions++;
      results.subscribers += got.length;
      results.resets += stream.filter((e) => e.type === 'reset').length;
      const t = stream.at(-1)?.type ?? 'none';
      results.terminals[t] = (results.terminals[t] ?? 0) + 1;
    };

    // Warm-up through the witness (JIT, pools, caches), then its baseline.
    await Promise.all(Array.from({ length: CONCURRENCY * 2 }, (_, i) => runSession(-1 - i, true)));
    const idleBefore = await quiet();
    const before: MemoryAfterGc = await memoryAfterGc(witness);

    // Load: CONCURRENCY sessions at all times until the end of the phase.
    const loadEnd = Date.now() + LOAD_MS;
    let n = 0;
    const load = Array.from({ length: CONCURRENCY }, async () => {
      while (Date.now() < loadEnd) await runSession(n++, false);
    });

    // Chaos: every few seconds a random edge (not the witness) or worker gets SIGKILL or SIGTERM, and is
    // started again once it has exited. One at a time, so an edge and a worker are always up.
    const kills: Kill[] = [];
    const targets: Proc[] = [c.edges[1]!, c.edges[2]!, ...c.workers];
    const chaos = (async () => {
      while (Date.now() < loadEnd - 5_000) {
        await sleep(rand(2_000, 6_000));
        const p = targets[rand(0, targets.length - 1)]!;
        const signal: NodeJS.Signals = Math.random() < 0.5 ? 'SIGKILL' : 'SIGTERM';
        const exit = await p.kill(signal);
        kills.push({ at: Date.now(), proc: p.name, signal, exit });
        await p.start();
      }
    })();

    await chaos;
    await Promise.all(load);
    const idleAfter = await quiet();
    // Idle keep-alive sockets (a client's last POST) close by themselves within the keep-alive timeout; a
    // leak never returns to the baseline, so wait (bounded) for the values to settle, keeping the last.
    const settled = (m: MemoryAfterGc) =>
      (m.resources.TCPSocketWrap ?? 0) <= (before.resources.TCPSocketWrap ?? 0) && (m.resources.Timeout ?? 0) <= (before.resources.Timeout ?? 0) && m.heapUsed < before.heapUsed + HEAP_TOLERANCE_BYTES;
    let after = await memoryAfterGc(witness);
    await waitFor(async () => settled((after = await memoryAfterGc(witness))), 60_000, 'the witness edge to return to its baseline', 2_000).catch(() => undefined);

    const summary = {
      soakMinutes: SOAK_MINUTES,
      ...results,
      mismatches: results.mismatches.length,
      kills: kills.length,
      killsBy: kills.reduce<Record<string, number>>((m, k) => ((m[`${k.proc.replace(/\d+$/, '')} ${k.signal}`] = (m[`${k.proc.replace(/\d+$/, '')} ${k.signal}`] ?? 0) + 1), m), {}),
      witness: {
        heapUsedMB: { before: +(before.heapUsed / 2 ** 20).toFixed(2), after: +(after.heapUsed / 2 ** 20).toFixed(2) },
        rssMB: { before: +(before.rss / 2 ** 20).toFixed(1), after: +(after.rss / 2 ** 20).toFixed(1) },
        resources: { before: before.resources, after: after.resources },
        listeners: { before: idleBefore.listeners, after: idleAfter.listeners },
      },
    };
    console.log(`soak summary ${JSON.stringify(summary, null, 2)}`);
    mkdirSync('test-artifacts', { recursive: true });
    writeFileSync(`test-artifacts/soak-${new Date().toISOString().replace(/[:.]/g, '-')}.json`, JSON.stringify({ ...summary, mismatchList: results.mismatches, kills }, null, 2));

    expect(results.mismatches).toEqual([]);
    expect(results.sessions).toBeGreaterThan(CONCURRENCY * SOAK_MINUTES * 5);
    expect(kills.length).toBeGreaterThan(SOAK_MINUTES * 4);
    // A SIGTERM always ends in a clean exit (drain), never in death by the signal.
    for (const k of kills.filter((k) => k.signal === 'SIGTERM')) expect(k.exit, `${k.proc} at ${k.at}`).toEqual({ code: 0, signal: null });
    // Back to the baseline: nothing held for subscribers that left, no listener or timer left behind.
    expect(idleAfter.listeners).toBe(idleBefore.listeners);
    expect(after.resources.Timeout ?? 0).toBeLessThanOrEqual(before.resources.Timeout ?? 0);
    expect(after.resources.TCPSocketWrap ?? 0).toBeLessThanOrEqual(before.resources.TCPSocketWrap ?? 0);
    expect(after.heapUsed).toBeLessThan(before.heapUsed + HEAP_TOLERANCE_BYTES);
  }, (SOAK_MINUTES * 60 + 600) * 1000);
});
