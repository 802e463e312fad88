import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { freePort } from './ports.js';

export interface TestRedis {
  url: string;
  /** A fresh key prefix, so tests sharing one server never see each other's keys. */
  prefix(): string;
  /** Stops the server (SIGKILL unless graceful), keeping its data dir, so restart() can bring it back. */
  stop(graceful?: boolean): Promise<void>;
  /**
   * Starts a stopped server again on the same port. With `discardData`, its files are deleted first: what a
   * server without persistence (or one whose disk was lost) looks like after a restart.
   */
  restart(o?: { discardData?: boolean }): Promise<void>;
  close(): Promise<void>;
  /** Only a spawned server can be stopped and restarted by the test. */
  readonly controllable: boolean;
}

const randomPrefix = () => `t${randomBytes(4).toString('hex')}`;

/** Servers still running; killed with the test process if it exits without closing them. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of running) c.kill('SIGKILL');
});

/**
 * Redis for a test, in order of preference: a local cluster when TEST_REDIS=cluster; REDIS_URL when set; a `redis-server` binary spawned on a
 * free port; a testcontainers Redis when a Docker engine is reachable.
 */
export async function startRedis(opts: { appendOnly?: boolean } = {}): Promise<TestRedis> {
  // The `cluster` vitest project runs the same suites against a local Redis Cluster.
  if (process.env.TEST_REDIS === 'cluster') return (await import('./redis-cluster.js')).startRedisCluster();
  if (process.env.REDIS_URL) {
    const url = process.env.REDIS_URL;
    const unsupported = () => Promise.reject(new Error('cannot stop a REDIS_URL server'));
    return { url, prefix: randomPrefix, stop: unsupported, restart: unsupported, close: async () => undefined, controllable: false };
  }
  if (spawnSync('redis-server', ['--version']).status === 0) return spawnRedis(opts);
  return containerRedis();
}

async function spawnRedis(opts: { appendOnly?: boolean }): Promise<TestRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'rc-redis-'));
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const start = async () => {
    const c = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', opts.appendOnly ? 'yes' : 'no', '--appendfsync', 'always', '--daemonize', 'no', '--loglevel', 'warning'], { stdio: 'ignore' });
    child = c;
    running.add(c);
    c.once('exit', () => running.delete(c));
    await waitForPing(url);
  };
  const stop = async (graceful = false) => {
    const c = child;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill(graceful ? 'SIGTERM' : 'SIGKILL');
    await exited;
  };
  await start();
  return {
    url,
    prefix: randomPrefix,
    stop,
    restart: async (o = {}) => {
      if (o.discardData) for (const f of readdirSync(dir)) rmSync(join(dir, f), { recursive: true, force: true });
      await start();
    },
    close: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
    controllable: true,
  };
}

async function containerRedis(): Promise<TestRedis> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const c = await new GenericContainer('redis:7-alpine').withExposedPorts(6379).withWaitStrategy(Wait.forLogMessage('Ready to accept connections')).start();
  const url = `redis://${c.getHost()}:${c.getMappedPort(6379)}`;
  return {
    url,
    prefix: randomPrefix,
    stop: async () => { await c.stop(); },
    restart: () => Promise.reject(new Error('restart is not supported for container Redis')),
    close: async () => { await c.stop(); },
    controllable: false,
  };
}

/** Waits for PONG by retrying the connection, not by sleeping a fixed time. */
export async function waitForPing(url: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    r.on('error', () => undefined);
    try {
      await r.connect();
      if ((await r.ping()) === 'PONG') return;
    } catch {
      if (Date.now() > deadline) throw new Error(`redis at ${url} did not answer within ${timeoutMs} ms`);
      await new Promise((res) => setTimeout(res, 25));
    } finally {
      r.disconnect();
    }
  }
}
