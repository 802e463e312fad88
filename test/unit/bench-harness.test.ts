// The benchmark's own machinery (issue 18): the bound server (bench/servers/bound.mjs) and the load client
// (bench/client.mjs) in both its HTTP and bare-socket modes. A bench whose bound drops frames, or whose client
// counts warm-up events as measured ones, would report ratios that mean nothing.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const benchFile = (p: string) => fileURLToPath(new URL(`../../bench/${p}`, import.meta.url));
const procs: ChildProcess[] = [];
afterEach(() => {
  for (const p of procs.splice(0)) p.kill('SIGKILL');
});

function start(file: string): ChildProcess {
  const child = fork(benchFile(file), [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  procs.push(child);
  return child;
}

function reply<T = Record<string, unknown>>(child: ChildProcess, cmd: string, send?: object): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMsg = (m: { cmd: string }) => {
      if (m.cmd !== cmd) return;
      child.off('message', onMsg);
      resolve(m as T);
    };
    child.on('message', onMsg);
    child.once('exit', (code) => reject(new Error(`${cmd}: process exited (${code})`)));
    if (send) child.send(send);
  });
}

/** Asks every client until `done` holds for its progress answer; each answer is a fresh count. */
async function until(clients: ChildProcess[], ask: object, done: (complete: number) => boolean): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const rs = await Promise.all(clients.map((c) => reply<{ complete: number }>(c, 'progress', { cmd: 'progress', ...ask })));
    const complete = rs.reduce((a, r) => a + r.complete, 0);
    if (done(complete)) return;
    if (Date.now() > deadline) throw new Error(`only ${complete} streams complete for ${JSON.stringify(ask)}`);
    await new Promise((r) => setImmediate(r));
  }
}

const frame = (id: number, text: string) => `id: ${id}\nevent: delta\ndata: ${JSON.stringify({ text })}\n\n`;

describe('bench harness', () => {
  it('the bound delivers every batched frame once, in order, to HTTP and raw-socket clients; warm-ups stay out of the samples', async () => {
    const bound = start('servers/bound.mjs');
    const { port } = await reply<{ port: number }>(bound, 'listening');
    const url = `http://127.0.0.1:${port}/`;
    const http = start('client.mjs');
    const raw = start('client.mjs');
    const opened = await Promise.all([
      reply<{ statuses: Record<string, number> }>(http, 'opened', { cmd: 'open', url, n: 30 }),
      reply<{ statuses: Record<string, number> }>(raw, 'opened', { cmd: 'open', url, n: 30, raw: true, localAddress: '127.0.0.2' }),
    ]);
    expect(opened.map((o) => o.statuses)).toEqual([{ 200: 30 }, { 200: 30 }]);

    bound.send({ cmd: 'publish', frames: [frame(0, `w${Date.now()}`)] });
    await until([http, raw], { expect: 1, warm: true }, (c) => c === 60);
    await Promise.all([http, raw].map((c) => reply(c, 'resetSamples', { cmd: 'resetSamples' })));

    // Two IPC messages of ten frames each: the bound writes each tick's frames as one buffer per socket.
    for (const base of [0, 10]) bound.send({ cmd: 'publish', frames: Array.from({ length: 10 }, (_, i) => frame(base + i + 1, `${Date.now()}`)) });
    await until([http, raw], { expect: 20 }, (c) => c === 60);
    const reports = await Promise.all([http, raw].map((c) => reply<{ lost: number; duplicated: number; nonContiguous: number; deltasSinceReset: number; latencies: number[] }>(c, 'report', { cmd: 'report', expect: 20, withLatencies: true })));
    for (const r of reports) {
      expect({ lost: r.lost, duplicated: r.duplicated, nonContiguous: r.nonContiguous, deltas: r.deltasSinceReset }).toEqual({ lost: 0, duplicated: 0, nonContiguous: 0, deltas: 600 });
      expect(r.latencies).toHaveLength(600);
    }
  });
});
