import { Cluster, Redis, type ClusterNode } from 'ioredis';

/** Where Redis is: one server, or a Redis Cluster reached through any of its nodes. */
export type RedisTarget = { mode: 'single'; url: string } | { mode: 'cluster'; nodes: ClusterNode[]; password?: string | undefined };

/** Either client; Relaycast uses only commands whose keys share one slot, so both behave the same. */
export type RedisClient = Redis | Cluster;

const CLUSTER_SCHEME = 'redis+cluster://';

/**
 * `REDIS_CLUSTER_NODES` (host:port,host:port) or a `redis+cluster://[:password@]host:port,host:port` URL
 * selects a cluster; anything else is a single server.
 */
export function parseRedisTarget(url: string, clusterNodes?: string): RedisTarget {
  if (clusterNodes) return { mode: 'cluster', nodes: parseNodes(clusterNodes), ...passwordOf(url) };
  if (!url.startsWith(CLUSTER_SCHEME)) return { mode: 'single', url };
  const rest = url.slice(CLUSTER_SCHEME.length);
  const at = rest.lastIndexOf('@');
  const auth = at >= 0 ? rest.slice(0, at) : '';
  const password = auth.includes(':') ? decodeURIComponent(auth.slice(auth.indexOf(':') + 1)) : auth ? decodeURIComponent(auth) : undefined;
  return { mode: 'cluster', nodes: parseNodes(rest.slice(at + 1).replace(/\/.*$/, '')), password };
}

function passwordOf(url: string): { password?: string } {
  try {
    const p = new URL(url).password;
    return p ? { password: decodeURIComponent(p) } : {};
  } catch {
    return {};
  }
}

function parseNodes(list: string): ClusterNode[] {
  const nodes = list.split(',').map((s) => s.trim()).filter(Boolean).map((hp) => {
    const m = /^(.+):(\d{1,5})$/.exec(hp);
    if (!m) throw new Error(`invalid cluster node ${JSON.stringify(hp)} (want host:port)`);
    return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
  });
  if (nodes.length === 0) throw new Error('no cluster nodes given');
  return nodes;
}

const retry = (times: number) => Math.min(50 * 2 ** Math.min(times, 6), 2_000);

/**
 * Creates a connection with the settings every Relaycast process wants: reconnect forever with a capped
 * backoff (a Redis restart must not kill a service) and commands queued while reconnecting. `subscriber`
 * connections on a cluster use one sharded subscriber per shard, so SSUBSCRIBE reaches the owning node.
 */
export function createRedis(target: RedisTarget, name: string, o: { subscriber?: boolean } = {}): RedisClient {
  if (target.mode === 'single') {
    return new Redis(target.url, { connectionName: name, retryStrategy: retry, maxRetriesPerRequest: null, enableAutoPipelining: false });
  }
  return new Cluster(target.nodes, {
    clusterRetryStrategy: retry,
    shardedSubscribers: o.subscriber === true,
    enableOfflineQueue: true,
    // A failover takes a few seconds; keep redirecting and retrying through it rather than failing commands.
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 300,
    retryDelayOnTryAgain: 200,
    maxRedirections: 32,
    slotsRefreshTimeout: 2_000,
    redisOptions: { connectionName: name, maxRetriesPerRequest: null, ...(target.password ? { password: target.password } : {}) },
  });
}

/**
 * Closes connections politely (QUIT) but never waits more than `ms`: a Redis that is down or failing over
 * must not keep a process from exiting. Whatever has not closed by then is disconnected.
 */
export async function closeRedis(clients: RedisClient[], ms = 2_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.allSettled(clients.map((c) => c.quit())), new Promise((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
  for (const c of clients) c.disconnect();
}

/** Resolves when `p` settles or after `ms`, whichever is first; reports which. */
export async function settleWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const done = await Promise.race([p.then(() => true, () => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)))]);
  clearTimeout(timer);
  return done;
}

/** Readiness probes: true when Redis answers PING within `ms` (a stalled Redis must not hang the probe). */
export async function pingWithin(redis: Pick<RedisClient, 'ping'>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const pong = redis.ping().then((r) => r === 'PONG', () => false);
  const answer = await Promise.race([pong, new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)))]);
  clearTimeout(timer);
  return answer;
}
