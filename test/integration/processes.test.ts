import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createParser } from 'eventsource-parser';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { keySpace } from '@relaycast/store';
import { tokensFor } from '../../services/mock-model/src/index.js';
import { followEventSource, followRaw, referenceRead, textAfterLastReset, waitForSeq, wire, type Followed } from '../helpers/clients.js';
import { sample, scrape } from '../helpers/metrics.js';
import { startProcCluster, type ProcCluster } from '../helpers/procs.js';
import type { ReceivedEvent } from '../helpers/sse.js';
import { openaiTranscript } from '../helpers/transcripts.js';
import { waitFor } from '../helpers/wait.js';

const DRAIN_WINDOW_MS = 4_000;

describe('real processes: edges killed and drained mid-stream', () => {
  let c: ProcCluster;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rc-procs-'));
    c = await startProcCluster({ edges: 2, workers: 2, transcriptDir: dir, env: { SSE_RETRY_MS: '50', COALESCE_MS: '0', DRAIN_WINDOW_MS: String(DRAIN_WINDOW_MS) } });
  }, 90_000);
  afterAll(async () => {
    await c?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  // A test that failed midway may have left a process down; the next one starts from a whole cluster.
  beforeEach(async () => {
    await Promise.all([...c.edges, ...c.workers].filter((p) => !p.alive).map((p) => p.start()));
  });

  const atLeast = (id: string, n: number) => waitForSeq(c, id, n);
  const running = async (id: string) => (await c.admin().hget(keySpace(c.prefix).session(id).meta, 'status')) === 'running';
  const reference = (path: string) => referenceRead(c, path);

  it('edges SIGKILLed at 10 positions mid-stream: raw and eventsource clients and a late joiner end byte-identical to a fault-free read', async () => {
    const prompt = 'kill the edges';
    // Longer than any kill loop (restarts are slow on a loaded machine), and cancelled after the tenth kill.
    const s = await c.create({ messages: [{ role: 'user', content: prompt }], seed: 3, max_tokens: 100_000, mock: { intervalMs: 10 } });
    const clients: Promise<Followed>[] = [followRaw(c, s.eventsUrl), followRaw(c, s.eventsUrl), followEventSource(c, s.eventsUrl, { timeoutMs: 90_000 })];
    // Kills are paced by the stream's progress, not by the clock, so each lands mid-stream however slow the machine.
    for (let k = 1; k <= 10; k++) {
      await atLeast(s.id, 100 * k);
      // Halfway, a client joins from the start and replays what it missed.
      if (k === 6) clients.push(followRaw(c, s.eventsUrl));
      expect(await running(s.id)).toBe(true);
      const victim = c.edges[k % 2]!;
      await victim.kill('SIGKILL');
      await victim.start();
    }
    await atLeast(s.id, 1100);
    expect((await c.cancel(s)).status).toBe(202);
    const results = await Promise.all(clients);
    const ref = await reference(s.eventsUrl);
    expect(ref.at(-1)!.event).toBe('cancelled');
    expect(ref.map((e) => Number(e.id))).toEqual(ref.map((_, i) => i + 1));
    const text = textAfterLastReset(ref);
    expect(text.length).toBeGreaterThan(0);
    expect(tokensFor(prompt, 3, 100_000).join('').startsWith(text)).toBe(true);
    for (const r of results) {
      expect(wire(r.events)).toEqual(wire(ref));
      // Each client was on one of the two edges at every kill, so each was cut and resumed.
      expect(r.connections.length).toBeGreaterThan(1);
    }
  }, 120_000);

  it('an edge SIGKILLed while it replays history to a late joiner: the joiner resumes on the other edge exactly', async () => {
    // Big events, so history outgrows the socket buffers (a few MB on loopback) and the edge's replay has to
    // wait for the slow reader. Each delta carries its index, so the stream's last entry says how far it got.
    const deltas = Array.from({ length: 1200 }, (_, i) => `<${i}>${'x'.repeat(8_000)}`);
    writeFileSync(join(dir, 'big.sse'), openaiTranscript(deltas));
    const s = await c.create({ messages: [{ role: 'user', content: 'big' }], mock: { transcript: 'big.sse', intervalMs: 2 } });
    const [edge0, edge1] = c.edges as [(typeof c.edges)[0], (typeof c.edges)[0]];
    const live = followEventSource(c, s.eventsUrl, { first: edge1, timeoutMs: 90_000 });
    const deltasAppended = async () => {
      const [last] = (await c.admin().xrevrange(keySpace(c.prefix).session(s.id).stream, '+', '-', 'COUNT', 1)) as [string, string[]][];
      return Math.max(-1, ...[...(last?.[1].join(' ') ?? '').matchAll(/<(\d+)>/g)].map((m) => Number(m[1]))) + 1;
    };
    await waitFor(async () => (await deltasAppended()) >= 900, 60_000, '900 deltas (7 MB) appended');
    const history = (await c.seq(s.id))!;

    // The joiner reads slowly (a chunk, then a pause), as over a slow network.
    const first: ReceivedEvent[] = [];
    const parser = createParser({ onEvent: (e) => first.push({ id: e.id, event: e.event, data: e.data }) });
    const cut = new Promise<void>((resolve) => {
      const req = request(`${edge0.url}${s.eventsUrl}`, (res) => {
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          parser.feed(chunk);
          res.pause();
          setTimeout(() => res.resume(), 20);
        });
        res.on('close', () => resolve());
        res.on('error', () => resolve());
      });
      req.on('error', () => resolve());
      req.end();
    });
    // It has some of the history, and the edge reports it as still replaying: the kill lands mid-replay.
    await waitFor(() => first.length >= 50, 20_000, 'the joiner to receive 50 events');
    expect(sample(await scrape(`${edge0.url}/metrics`), 'relaycast_edge_subscribers', { state: 'replaying' })).toBe(1);
    await edge0.kill('SIGKILL');
    await cut;
    expect(first.length).toBeGreaterThan(0);
    // It had not even received the history that existed when it joined.
    expect(Number(first.at(-1)!.id)).toBeLessThan(history);
    const rest = await followRaw(c, s.eventsUrl, { lastEventId: first.at(-1)!.id! });
    await edge0.start();
    const ref = await reference(s.eventsUrl);
    expect(wire([...first, ...rest.events])).toEqual(wire(ref));
    expect(textAfterLastReset(ref)).toBe(deltas.join(''));
    expect(wire((await live).events)).toEqual(wire(ref));
  }, 120_000);

  it('an edge drained with SIGTERM: it refuses new connections, ends its streams spread over the window, exits 0, and nobody loses an event', async () => {
    const edge0 = c.edges[0]!;
    const s = await c.create({ messages: [{ role: 'user', content: 'drain me' }], seed: 4, max_tokens: 700, mock: { intervalMs: 10 } }, c.edges[1]);
    let endedOnEdge0 = 0;
    const onConnectionEnd = (conn: { edge: string }) => {
      if (conn.edge === edge0.name) endedOnEdge0++;
    };
    const clients = [
      ...Array.from({ length: 12 }, () => followRaw(c, s.eventsUrl, { first: edge0, onConnectionEnd })),
      ...Array.from({ length: 6 }, () => followEventSource(c, s.eventsUrl, { first: edge0, timeoutMs: 60_000, onConnectionEnd })),
    ];
    await waitFor(async () => sample(await scrape(`${edge0.url}/metrics`), 'relaycast_edge_subscribers', { state: 'live' }) === 18, 20_000, 'all 18 clients live on edge0');
    await atLeast(s.id, 50);
    const t0 = Date.now();
    const exited = edge0.signal('SIGTERM');
    const refused = () => new Promise<boolean>((resolve) => {
      const sock = connect(edge0.port, '127.0.0.1');
      sock.once('connect', () => { sock.destroy(); resolve(false); });
      sock.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
    });
    await waitFor(refused, 15_000, 'edge0 to refuse new connections');
    // Refused while it is still draining: the process is up and streams are still open.
    expect(edge0.alive).toBe(true);
    expect(endedOnEdge0).toBeLessThan(18);
    const exit = await exited;
    const exitedAt = Date.now();
    expect(exit).toEqual({ code: 0, signal: null });

    const results = await Promise.all(clients);
    await edge0.start();
    const ref = await reference(s.eventsUrl);
    expect(ref.at(-1)!.event).toBe('done');
    for (const r of results) expect(wire(r.events)).toEqual(wire(ref));
    // When each client's stream on edge0 ended, relative to the SIGTERM.
    const ends = results.map((r) => r.connections[0]!.endedAt - t0).sort((a, b) => a - b);
    expect(ends[0]).toBeGreaterThanOrEqual(0);
    // All before the process exited (give or take how late this busy test process noticed).
    expect(ends.at(-1)!).toBeLessThanOrEqual(exitedAt - t0 + 5_000);
    // Spread over the window, not all at once: a wide span, and no tenth of the window holds two thirds of
    // them (uniform ends put about 2 of 18 in each tenth; only a stalled test process bunches them).
    expect(ends.at(-1)! - ends[0]!).toBeGreaterThan(0.4 * DRAIN_WINDOW_MS);
    const crowd = Math.max(...ends.map((t) => ends.filter((u) => u >= t && u < t + DRAIN_WINDOW_MS / 10).length));
    expect(crowd).toBeLessThanOrEqual((2 * ends.length) / 3);
  }, 90_000);
});
