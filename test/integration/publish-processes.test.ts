import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer } from '../helpers/auth.js';
import { startProcCluster, type ProcCluster } from '../helpers/procs.js';
import { readSse, type ReceivedEvent } from '../helpers/sse.js';

/**
 * The publish API when a process dies: the edge a producer streams to (SIGKILL), or the producer itself.
 * Every service is its own OS process; Redis is real.
 */
interface Producer {
  id: string;
  eventsUrl: string;
  producer: { token: string; publishUrl: string; producerUrl: string };
}

let c: ProcCluster;
beforeAll(async () => {
  c = await startProcCluster({ edges: 2, workers: 0, env: { PRODUCER_SWEEP_MS: '100' } });
}, 60_000);
afterAll(async () => {
  await c?.close();
});

async function create(base: string, extra: Record<string, unknown> = {}): Promise<Producer> {
  const res = await fetch(`${base}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json', ...c.auth }, body: JSON.stringify({ producer: true, ...extra }) });
  expect(res.status).toBe(201);
  return (await res.json()) as Producer;
}

async function until(cond: () => Promise<boolean> | boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const state = async (base: string, p: Producer) => (await (await fetch(base + p.producer.producerUrl, { headers: bearer(p.producer.token) })).json()) as { pseq: number; nextSeq: number; status: string };

describe('publish across process failures', () => {
  it('the edge under a streaming publish is killed: acknowledged lines stay, the producer resumes on the other edge, subscribers see each event once', async () => {
    const [e0, e1] = c.edges as [ProcCluster['edges'][0], ProcCluster['edges'][0]];
    const p = await create(e1.url);
    const seen: ReceivedEvent[] = [];
    const reading = readSse(e1.url, p.eventsUrl, { onEvent: (e) => seen.push(e), timeoutMs: 30_000 });
    const req = request(new URL(`${p.producer.publishUrl}?epoch=1&seq=1`, e0.url), { method: 'POST', headers: { 'content-type': 'application/x-ndjson', ...bearer(p.producer.token) } });
    const cut = new Promise<void>((resolve) => req.on('error', () => resolve()));
    for (let i = 1; i <= 3; i++) req.write(`{"type":"delta","text":"${i} "}\n`);
    await until(async () => (await state(e1.url, p)).pseq === 3, 'three lines acknowledged');
    await e0.kill('SIGKILL');
    await cut;
    const where = await state(e1.url, p);
    expect(where).toMatchObject({ pseq: 3, nextSeq: 4, status: 'running' });
    // The producer resends from its last own checkpoint (seq 2): already acknowledged lines are skipped.
    const res = await fetch(`${e1.url}${p.producer.publishUrl}?epoch=1&seq=2`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson', ...bearer(p.producer.token) },
      body: '{"type":"delta","text":"2 "}\n{"type":"delta","text":"3 "}\n{"type":"delta","text":"4 "}\n{"type":"done","finishReason":"stop"}\n',
    });
    expect(await res.json()).toMatchObject({ pseq: 5, skipped: 2, ended: true });
    const read = await reading;
    expect(read.events.map((e) => [e.id, e.event, e.data])).toEqual([
      ['1', 'delta', '{"text":"1 "}'], ['2', 'delta', '{"text":"2 "}'], ['3', 'delta', '{"text":"3 "}'], ['4', 'delta', '{"text":"4 "}'], ['5', 'done', '{"finishReason":"stop"}'],
    ]);
    await e0.start();
  }, 60_000);

  it('the producer process is killed mid-stream: its complete lines stay, and the session ends with producer_timeout', async () => {
    const e = c.edges[1]!;
    const p = await create(e.url, { idleTimeoutMs: 500 });
    // A producer of its own: writes two whole lines and half a third, then waits to be killed.
    const script = `
      const req = require('node:http').request(process.argv[1], { method: 'POST', headers: { 'content-type': 'application/x-ndjson', authorization: 'Bearer ' + process.argv[2] } });
      req.on('error', () => {});
      req.write('{"type":"delta","text":"a"}\\n{"type":"delta","text":"b"}\\n{"type":"delta","te');
      setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['-e', script, `${e.url}${p.producer.publishUrl}?epoch=1&seq=1`, p.producer.token], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    // A node process starting on a loaded 2-core machine can take longer than the 500 ms idle timeout: until its
    // lines are in, the test keeps the session alive (an empty batch is a keep-alive), then lets it go quiet.
    const keepAlive = () => fetch(e.url + p.producer.publishUrl, { method: 'POST', headers: { 'content-type': 'application/json', ...bearer(p.producer.token) }, body: JSON.stringify({ epoch: 1, seq: 1, events: [] }) });
    await until(async () => (await keepAlive()).ok && (await state(e.url, p)).pseq === 2, 'two lines acknowledged', 45_000).catch((err: Error) => {
      throw new Error(`${err.message}; producer state ${JSON.stringify(stderr)}`);
    });
    child.kill('SIGKILL');
    const read = await readSse(e.url, p.eventsUrl, { timeoutMs: 15_000 });
    expect(read.events.map((x) => x.event)).toEqual(['delta', 'delta', 'error']);
    expect(JSON.parse(read.events[2]!.data)).toMatchObject({ code: 'producer_timeout' });
  }, 90_000);
});
