import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.js';
import { startRedis, type TestRedis } from './redis.js';
import { authEnv, createSession, makeKey, type CreatedSession } from './auth.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** One service as an OS process (built JS from `npm run build`), killable, pausable and restartable. */
export class Proc {
  child!: ChildProcess;
  constructor(readonly name: string, readonly script: string, readonly port: number, readonly healthPort: number, private readonly env: Record<string, string>) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(): Promise<void> {
    this.child = spawn(process.execPath, [this.script], { cwd: root, env: { ...process.env, ...this.env }, stdio: ['ignore', 'ignore', process.env.TEST_PROC_LOGS ? 'inherit' : 'ignore'] });
    await waitHealthy(this.healthPort, this.child);
  }

  /** Sends `signal` and waits for the process to exit. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.alive) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill(signal);
    await exited;
  }

  pause(): void {
    this.child.kill('SIGSTOP');
  }

  resume(): void {
    this.child.kill('SIGCONT');
  }
}

/** Polls /healthz until it answers 200; fails fast if the process dies first. */
// A deadline, not a wait: on a loaded 2-core machine, five Node processes starting at once can take a while.
async function waitHealthy(port: number, child: ChildProcess, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`process exited with ${child.exitCode} before it was healthy`);
    const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false);
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`port ${port} not healthy within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface ProcCluster {
  redis: TestRedis;
  prefix: string;
  mock: Proc;
  edges: Proc[];
  workers: Proc[];
  /** An edge that is alive, starting the search at `from`: what a load balancer would pick. */
  aliveEdge(from?: number): Proc;
  /** The API key (tenant `test`) every edge accepts and create() sends; `auth` is its fetch header. */
  apiKey: string;
  auth: { authorization: string };
  /** Waits for the ingest worker that reports exactly one active generation (the session a test started). */
  activeWorker(timeoutMs?: number): Promise<Proc>;
  create(body: Record<string, unknown>): Promise<CreatedSession>;
  close(): Promise<void>;
}

/**
 * Redis (append-only file on), the mock model, `edges` edges and `workers` ingest workers, each a separate
 * OS process on free loopback ports. Lock settings are short so a killed worker's job is taken over fast.
 */
export async function startProcCluster(o: { edges?: number; workers?: number; env?: Record<string, string> } = {}): Promise<ProcCluster> {
  const redis = await startRedis({ appendOnly: true });
  const prefix = redis.prefix();
  const mockPort = await freePort();
  const mock = new Proc('mock', 'services/mock-model/dist/main.js', mockPort, mockPort, { MOCK_PORT: String(mockPort) });
  try {
    await mock.start();
  } catch (e) {
    if (mock.child && mock.alive) await mock.kill('SIGKILL');
    await redis.close();
    throw e;
  }
  const main = makeKey('test', 'test');
  const env = {
    REDIS_URL: redis.url,
    REDIS_KEY_PREFIX: prefix,
    MOCK_MODEL_URL: mock.url,
    LOG_LEVEL: process.env.TEST_PROC_LOGS ? 'info' : 'warn',
    LOCK_DURATION_MS: '4000',
    STALLED_INTERVAL_MS: '1000',
    UPSTREAM_RETRY_BASE_MS: '20',
    LIVENESS_CHECK_MS: '300',
    DRAIN_WINDOW_MS: '500',
    ...authEnv([main]),
    ...o.env,
  };
  const edges: Proc[] = [];
  for (let i = 0; i < (o.edges ?? 2); i++) {
    const port = await freePort();
    edges.push(new Proc(`edge${i}`, 'services/edge/dist/main.js', port, port, { ...env, PORT: String(port) }));
  }
  const workers: Proc[] = [];
  for (let i = 0; i < (o.workers ?? 2); i++) {
    const port = await freePort();
    workers.push(new Proc(`ingest${i}`, 'services/ingest/dist/main.js', port, port, { ...env, METRICS_PORT: String(port) }));
  }
  try {
    await Promise.all([...edges, ...workers].map((p) => p.start()));
  } catch (e) {
    // The caller never gets a cluster to close: stop whatever did start, or it outlives the test run.
    await Promise.all([...edges, ...workers, mock].map((p) => (p.child && p.alive ? p.kill('SIGKILL') : undefined)));
    await redis.close();
    throw e;
  }
  const cluster: ProcCluster = {
    redis,
    prefix,
    mock,
    edges,
    workers,
    aliveEdge(from = 0) {
      for (let i = 0; i < edges.length; i++) {
        const e = edges[(from + i) % edges.length]!;
        if (e.alive) return e;
      }
      throw new Error('no edge alive');
    },
    apiKey: main.key,
    auth: main.headers,
    async activeWorker(timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        for (const w of workers) {
          const text = await fetch(`http://127.0.0.1:${w.healthPort}/metrics`).then((r) => r.text(), () => '');
          if (/^relaycast_ingest_active_generations 1$/m.test(text)) return w;
        }
        if (Date.now() > deadline) throw new Error(`no worker ran a generation within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    create: (body) => createSession(cluster.aliveEdge().url, main.key, body),
    async close() {
      await Promise.all([...edges, ...workers, mock].map((p) => (p.child && p.alive ? p.kill('SIGKILL') : undefined)));
      await redis.close();
    },
  };
  return cluster;
}
