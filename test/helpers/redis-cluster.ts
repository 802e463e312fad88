import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { freePort } from './ports.js';
import { waitForPing, type TestRedis } from './redis.js';

export interface TestCluster extends TestRedis {
  ports: number[];
  /** SIGKILLs the master that owns `key`'s slot and resolves once a replica has taken its slots over. */
  killMasterOf(key: string): Promise<{ killedPort: number; promotedPort: number }>;
}

interface Node {
  port: number;
  child: ChildProcess;
}

/**
 * A local Redis Cluster of `masters` masters with one replica each, as separate redis-server processes on
 * free loopback ports. Node timeout is short so a failover completes in a couple of seconds.
 */
export async function startRedisCluster(masters = 3): Promise<TestCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'rc-cluster-'));
  const nodes: Node[] = [];
  for (let i = 0; i < masters * 2; i++) {
    const port = await freePort();
    const busPort = await freePort();
    // Each node needs its own dir: replicas sync through an RDB file there.
    const nodeDir = join(dir, String(port));
    mkdirSync(nodeDir);
    const child = spawn('redis-server', ['--port', String(port), '--cluster-port', String(busPort), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--cluster-node-timeout', '1000', '--cluster-replica-validity-factor', '0', '--dir', nodeDir, '--save', '', '--appendonly', 'no', '--loglevel', 'warning'], { stdio: 'ignore' });
    nodes.push({ port, child });
  }
  await Promise.all(nodes.map((n) => waitForPing(`redis://127.0.0.1:${n.port}`)));
  const create = spawnSync('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '1', '--cluster-yes'], { encoding: 'utf8' });
  if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout}${create.stderr}`);
  await waitFor(async () => (await Promise.all(nodes.map((n) => clusterOk(n.port)))).every(Boolean), 20_000, 'cluster state ok on every node');
  // cluster_state:ok comes before the replicas' first sync; a failover before it would promote an empty node.
  await waitFor(async () => (await Promise.all(nodes.map((n) => replicaSynced(n.port)))).every(Boolean), 20_000, 'every replica in sync with its master');

  const ports = nodes.map((n) => n.port);
  const alive = () => nodes.filter((n) => n.child.exitCode === null && n.child.signalCode === null);
  return {
    url: `redis+cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`,
    ports,
    prefix: () => `t${randomBytes(4).toString('hex')}`,
    controllable: false,
    stop: () => Promise.reject(new Error('stop the whole cluster with close()')),
    restart: () => Promise.reject(new Error('restart is not supported for the cluster')),
    async killMasterOf(key) {
      const probe = new Redis(alive()[0]!.port, '127.0.0.1');
      try {
        const slot = Number(await probe.call('CLUSTER', 'KEYSLOT', key));
        const owner = await slotOwner(probe, slot);
        const victim = nodes.find((n) => n.port === owner)!;
        const exited = new Promise((r) => victim.child.once('exit', r));
        victim.child.kill('SIGKILL');
        await exited;
        let promoted = 0;
        await waitFor(async () => {
          const r = new Redis(alive()[0]!.port, '127.0.0.1', { maxRetriesPerRequest: 1 });
          try {
            promoted = await slotOwner(r, slot);
            return promoted !== owner && promoted !== 0 && (await clusterOk(promoted));
          } catch {
            return false;
          } finally {
            r.disconnect();
          }
        }, 20_000, 'a replica promoted for the killed master');
        return { killedPort: owner, promotedPort: promoted };
      } finally {
        probe.disconnect();
      }
    },
    async close() {
      await Promise.all(nodes.map((n) => {
        if (n.child.exitCode !== null || n.child.signalCode !== null) return undefined;
        const exited = new Promise((r) => n.child.once('exit', r));
        n.child.kill('SIGKILL');
        return exited;
      }));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function slotOwner(r: Redis, slot: number): Promise<number> {
  const slots = (await r.call('CLUSTER', 'SLOTS')) as [number, number, [string, number, ...unknown[]], ...unknown[]][];
  const range = slots.find(([lo, hi]) => slot >= lo && slot <= hi);
  return range ? Number(range[2][1]) : 0;
}

/** True for a master, or for a replica whose link to its master is up. */
async function replicaSynced(port: number): Promise<boolean> {
  const info = await infoOf(port, 'replication');
  return /role:master/.test(info) || /master_link_status:up/.test(info);
}

async function infoOf(port: number, section: string): Promise<string> {
  const r = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1, retryStrategy: () => null, lazyConnect: true });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return await r.info(section);
  } catch {
    return '';
  } finally {
    r.disconnect();
  }
}

async function clusterOk(port: number): Promise<boolean> {
  const r = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1, retryStrategy: () => null, lazyConnect: true });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return /cluster_state:ok/.test(String(await r.call('CLUSTER', 'INFO')));
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

/** Polls a condition until it holds, failing with `what` after `timeoutMs`: a wait for an event, not a sleep. */
export async function waitFor(cond: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
