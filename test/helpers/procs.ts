import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { keySpace, toEntry, type StoredEntry } from '@relaycast/store';
import { authEnv, bearer, makeKey, type CreatedSession } from './auth.js';
import { sample, scrape } from './metrics.js';
import { freePort } from './ports.js';
import { startRedis, type TestRedis } from './redis.js';
import { waitFor } from './wait.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Every service process still running. If the test process exits without its afterAll (a hook timeout, a
 * crash), they are killed with it rather than left running.
 */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export interface ProcExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * One service as an OS process (built JS from `npm run build`), killable, pausable and restartable. Its
 * log lines (stdout) are kept, the last 2,000, so a test can wait for one.
 */
export class Proc {
  child!: ChildProcess;
  /** Resolves when the current child exits. */
  exited!: Promise<ProcExit>;
  /** Set from the moment a signal that stops it is sent (or it is paused) until it is started again. */
  stopping = false;
  paused = false;
  readonly logs: string[] = [];
  private readonly logWaiters = new Set<() => void>();

  constructor(
    readonly name: string,
    readonly script: string,
    readonly port: number,
    readonly healthPort: number,
    private readonly env: Record<string, string>,
    /** Node options, e.g. `--inspect=127.0.0.1:<port>`. */
    readonly nodeArgs: string[] = [],
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.child.pid!;
  }

  get alive(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** What a load balancer would send new work to: running, not paused, not told to stop. */
  get ready(): boolean {
    return this.alive && !this.stopping && !this.paused;
  }

  async start(): Promise<void> {
    this.stopping = false;
    this.paused = false;
    const child = spawn(process.execPath, [...this.nodeArgs, this.script], { cwd: root, env: { ...process.env, ...this.env }, stdio: ['ignore', 'pipe', process.env.TEST_PROC_LOGS ? 'inherit' : 'ignore'] });
    this.child = child;
    running.add(child);
    child.once('exit', () => running.delete(child));
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (process.env.TEST_PROC_LOGS) process.stderr.write(`[${this.name}] ${line}\n`);
      this.logs.push(line);
      if (this.logs.length > 2_000) this.logs.splice(0, this.logs.length - 2_000);
      for (const wake of this.logWaiters) wake();
    });
    await waitHealthy(this.healthPort, child);
  }

  /** Sends `signal` and waits for the process to exit. */
  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<ProcExit> {
    return this.signal(signal);
  }

  /** Sends `signal` without waiting; the returned promise resolves when the process has exited. */
  signal(signal: NodeJS.Signals): Promise<ProcExit> {
    if (!this.alive) return this.exited;
    this.stopping = true;
    // A stopped process cannot act on SIGTERM; let it run so it can.
    if (this.paused && signal !== 'SIGKILL') this.resume();
    this.child.kill(signal);
    return this.exited;
  }

  pause(): void {
    this.paused = true;
    this.child.kill('SIGSTOP');
  }

  resume(): void {
    this.paused = false;
    this.child.kill('SIGCONT');
  }

  /** Waits until a log line of the current or an earlier child matches `re`. */
  async waitForLog(re: RegExp, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.logs.find((l) => re.test(l));
      if (hit) return hit;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.name}: no log line matching ${re} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.logWaiters.delete(wake);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.logWaiters.add(wake);
      });
    }
  }
}

/**
 * Polls /healthz until it answers 200; fails fast if the process dies first. Generous: on a shared 2-core
 * machine a cold Node start can take many seconds.
 */
async function waitHealthy(port: number, child: ChildProcess, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`process exited with ${child.exitCode ?? child.signalCode} before it was healthy`);
    const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false);
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`port ${port} not healthy within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export type { CreatedSession };

export interface ProcCluster {
  redis: TestRedis;
  prefix: string;
  mock: Proc;
  edges: Proc[];
  workers: Proc[];
  /** An edge that is alive, starting the search at `from`. */
  aliveEdge(from?: number): Proc;
  /** A ready edge chosen at random: what a load balancer would pick. Throws when none is ready. */
  pickEdge(): Proc;
  /** The API key (tenant `test`) every edge accepts and create() sends; `auth` is its fetch header. */
  apiKey: string;
  auth: { authorization: string };
  /**
   * POST /v1/sessions through a ready edge. A refused connection or a 503 moves on to another edge (as
   * nginx's proxy_next_upstream does); anything else is the caller's to handle.
   */
  create(body: Record<string, unknown>, edge?: Proc): Promise<CreatedSession>;
  /** GET the session's status on `edge` (any ready edge by default), with whatever credentials it needs. */
  status(s: CreatedSession, edge?: Proc): Promise<Response>;
  /** POST the session's cancel on a ready edge, with whatever credentials it needs. */
  cancel(s: CreatedSession): Promise<Response>;
  /** The session's last appended seq, read from Redis (0 when nothing was appended, null when it is gone). */
  seq(id: string): Promise<number | null>;
  /** Every entry of the session's stream, read from Redis with XRANGE. */
  stream(id: string): Promise<StoredEntry[]>;
  /** A command connection to the cluster's Redis for tests (closed by close()). */
  admin(): Redis;
  close(): Promise<void>;
}

export interface ProcClusterOptions {
  edges?: number;
  workers?: number;
  /** Environment for every service (overrides the harness defaults; `''` means the service's own default). */
  env?: Record<string, string>;
  /** Directory the mock model replays `transcript` files from. */
  transcriptDir?: string;
  /** Start edges with the inspector on a free port (see test/helpers/inspector.ts). */
  inspectEdges?: boolean;
}

/**
 * Redis (append-only file on), the mock model, `edges` edges and `workers` ingest workers, each a separate
 * OS process on free loopback ports. Lock settings are short so a killed worker's job is taken over fast.
 */
export async function startProcCluster(o: ProcClusterOptions = {}): Promise<ProcCluster> {
  const redis = await startRedis({ appendOnly: true });
  const prefix = redis.prefix();
  const keys = keySpace(prefix);
  const main = makeKey('test', 'test');
  const mockPort = await freePort();
  const mock = new Proc('mock', 'services/mock-model/dist/main.js', mockPort, mockPort, { MOCK_PORT: String(mockPort), ...(o.transcriptDir ? { MOCK_TRANSCRIPT_DIR: o.transcriptDir } : {}) });
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
    INGEST_DRAIN_MS: '2000',
    ...authEnv([main]),
    ...o.env,
  };
  const edges: Proc[] = [];
  for (let i = 0; i < (o.edges ?? 2); i++) {
    const port = await freePort();
    const inspect = o.inspectEdges ? [`--inspect=127.0.0.1:${await freePort()}`] : [];
    edges.push(new Proc(`edge${i}`, 'services/edge/dist/main.js', port, port, { ...env, PORT: String(port) }, inspect));
  }
  const workers: Proc[] = [];
  for (let i = 0; i < (o.workers ?? 2); i++) {
    const port = await freePort();
    workers.push(new Proc(`ingest${i}`, 'services/ingest/dist/main.js', port, port, { ...env, METRICS_PORT: String(port) }));
  }
  let adminConn: Redis | undefined;
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
    pickEdge() {
      const ready = edges.filter((e) => e.ready);
      if (ready.length === 0) throw new Error('no edge ready');
      return ready[Math.floor(Math.random() * ready.length)]!;
    },
    apiKey: main.key,
    auth: main.headers,
    async create(body, edge) {
      const tried = new Set<Proc>();
      for (let target = edge ?? cluster.pickEdge(); ; ) {
        tried.add(target);
        const res = await fetch(`${target.url}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json', ...main.headers }, body: JSON.stringify(body) }).catch((err: unknown) => {
          if (!isRefused(err)) throw err;
          return undefined;
        });
        if (res?.status === 201) return (await res.json()) as CreatedSession;
        if (res && res.status !== 503) throw new Error(`create failed: ${res.status} ${await res.text()}`);
        await res?.body?.cancel();
        const next = edges.find((e) => e.ready && !tried.has(e));
        if (!next) throw new Error(`create failed: no edge took the request (${res ? res.status : 'connection refused'})`);
        target = next;
      }
    },
    status(s, edge) {
      return fetch(`${(edge ?? cluster.pickEdge()).url}${s.statusUrl}`, { headers: bearer(s.token) });
    },
    cancel(s) {
      return fetch(`${cluster.pickEdge().url}${s.cancelUrl}`, { method: 'POST', headers: bearer(s.token) });
    },
    async seq(id) {
      const v = await cluster.admin().hget(keys.session(id).meta, 'seq');
      return v === null ? null : Number(v);
    },
    async stream(id) {
      const raw = (await cluster.admin().xrange(keys.session(id).stream, '-', '+')) as [string, string[]][];
      return raw.map(toEntry);
    },
    admin() {
      if (!adminConn) {
        adminConn = new Redis(redis.url, { maxRetriesPerRequest: null });
        adminConn.on('error', () => undefined);
      }
      return adminConn;
    },
    async close() {
      adminConn?.disconnect();
      await Promise.all([...edges, ...workers, mock].map((p) => (p.alive ? p.kill('SIGKILL') : undefined)));
      await redis.close();
    },
  };
  try {
    await mock.start();
    await Promise.all([...edges, ...workers].map((p) => p.start()));
  } catch (err) {
    await cluster.close();
    throw err;
  }
  return cluster;
}

/** The connection was refused: the request reached no server, so sending it elsewhere is safe. */
export function isRefused(err: unknown): boolean {
  const cause = (err as { cause?: { code?: string } }).cause;
  return cause?.code === 'ECONNREFUSED' || (err as { code?: string }).code === 'ECONNREFUSED';
}

/** The ingest worker whose /metrics shows a running generation (for tests that run one session at a time). */
export async function workerRunning(c: ProcCluster, timeoutMs = 20_000): Promise<Proc> {
  let found: Proc | undefined;
  await waitFor(async () => {
    for (const w of c.workers.filter((p) => p.ready)) {
      const text = await scrape(`http://127.0.0.1:${w.healthPort}/metrics`).catch(() => '');
      if (sample(text, 'relaycast_ingest_active_generations') === 1) found = w;
    }
    return found !== undefined;
  }, timeoutMs, 'a worker to run the session');
  return found!;
}
