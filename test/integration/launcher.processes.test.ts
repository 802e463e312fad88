import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ports.js';
import { waitFor } from '../helpers/wait.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const started: Launcher[] = [];
const dirs: string[] = [];

interface Launcher {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `npm start`'s script (built services), with its own data directory and only the environment given. */
function launch(env: Record<string, string>): Launcher {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(REDIS_URL|PORT|METRICS_PORT|MOCK_PORT|API_KEYS|API_KEYS_FILE|TOKEN_SECRET|MOCK_MODEL_URL)$/.test(k)));
  const child = spawn(process.execPath, ['scripts/start.js'], { cwd: root, env: { ...clean, DRAIN_WINDOW_MS: '0', INGEST_DRAIN_MS: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  const l = { child, output: () => out, exited };
  started.push(l);
  return l;
}

function dataDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'rc-launcher-'));
  dirs.push(d);
  return d;
}

/** Processes whose parent is `pid`, with their command lines (from /proc: no extra tool needed). */
function childrenOf(pid: number): { pid: number; cmd: string }[] {
  const out: { pid: number; cmd: string }[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push({ pid: Number(name), cmd: readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' ').trim() });
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const up = (l: Launcher) => waitFor(() => l.output().includes('Relaycast is up'), 45_000, `"Relaycast is up"; output so far:\n${l.output()}`, 100);

afterEach(async () => {
  for (const l of started.splice(0)) {
    if (l.child.exitCode === null && l.child.signalCode === null) l.child.kill('SIGTERM');
    await l.exited;
  }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('npm start (scripts/start.js)', () => {
  it('a child SIGKILLed: every other child is stopped and the launcher exits non-zero within seconds', async () => {
    const dir = dataDir();
    const l = launch({ PORT: String(await freePort()), RELAYCAST_DATA_DIR: dir });
    await up(l);
    const kids = childrenOf(l.child.pid!);
    for (const service of ['services/edge/', 'services/ingest/', 'services/mock-model/', 'redis-server']) {
      expect(kids.filter((k) => k.cmd.includes(service)), service).toHaveLength(1);
    }
    const edge = kids.find((k) => k.cmd.includes('services/edge/'))!;
    const t0 = Date.now();
    process.kill(edge.pid, 'SIGKILL');
    const exit = await l.exited;
    // Stopping ingest, the mock model and Redis takes well under its 3 s grace each; 10 s is "a few seconds".
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(exit.code).toBe(1);
    expect(l.output()).toContain('[start] edge exited (SIGKILL); stopping everything');
    expect(kids.filter((k) => alive(k.pid)).map((k) => k.cmd)).toEqual([]);
    // The data directory is free again for the next npm start.
    expect(readdirSync(join(dir, 'redis'))).not.toContain('launcher.lock');
  }, 90_000);

  it('a taken METRICS_PORT is refused before anything starts, with a message naming it', async () => {
    const taken: Server = createServer();
    const port = await freePort();
    await new Promise<void>((r) => taken.listen(port, '127.0.0.1', r));
    try {
      const l = launch({ PORT: String(await freePort()), METRICS_PORT: String(port), RELAYCAST_DATA_DIR: dataDir() });
      const exit = await l.exited;
      expect(exit.code).toBe(1);
      expect(l.output()).toContain(`Port ${port} (METRICS_PORT) is already in use`);
      expect(l.output()).not.toContain('Relaycast is up');
      expect(l.output()).not.toMatch(/^\[(edge|ingest|redis|mock-model)\]/m);
    } finally {
      await new Promise((r) => taken.close(r));
    }
  }, 30_000);

  it('two launchers pick their own ports; a second one on the same data directory refuses to share its Redis', async () => {
    const shared = dataDir();
    const a = launch({ PORT: String(await freePort()), RELAYCAST_DATA_DIR: shared });
    await up(a);
    const b = launch({ PORT: String(await freePort()), RELAYCAST_DATA_DIR: shared });
    expect((await b.exited).code).toBe(1);
    expect(b.output()).toContain(`Another npm start (pid ${a.child.pid}) is using ${join(shared, 'redis')}`);
    expect(b.output()).not.toMatch(/^\[redis\]/m);

    // No METRICS_PORT or MOCK_PORT given to either: both come up side by side.
    const c = launch({ PORT: String(await freePort()), RELAYCAST_DATA_DIR: dataDir() });
    await up(c);
    const metrics = (l: Launcher) => /ingest metrics: (http:\/\/127\.0\.0\.1:\d+)\/metrics/.exec(l.output())![1]!;
    expect(metrics(a)).not.toBe(metrics(c));
    for (const l of [a, c]) expect((await fetch(`${metrics(l)}/readyz`)).status).toBe(200);
    // Redis's own start-up chatter (the overcommit warning, say) stays in its log file.
    expect(a.output()).not.toMatch(/^\[redis\]/m);
    expect(readFileSync(join(shared, 'redis', 'redis.log'), 'utf8')).toMatch(/Ready to accept connections/);
    a.child.kill('SIGTERM');
    c.child.kill('SIGTERM');
    expect((await a.exited).code).toBe(0);
    expect((await c.exited).code).toBe(0);
  }, 120_000);
});
