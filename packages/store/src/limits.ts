import type { KeySpace } from './keys.js';
import type { RedisClient } from './redis.js';
import { AdmitCode, ConnectCode, SubscribeCode, commandsOf, type ScriptArg } from './scripts.js';

/** The Redis commands the limiter runs: its scripts (admit-2.lua, connect-1.lua, subscribe-2.lua, disconnect-1.lua, edges-1.lua), ZRANGE and ZREM. */
export interface LimitCommands extends Pick<RedisClient, 'zrange' | 'zrem'> {
  rcAdmit(...args: ScriptArg[]): Promise<[number, number, number]>;
  rcConnect(...args: ScriptArg[]): Promise<[number, number]>;
  rcSubscribe(...args: ScriptArg[]): Promise<[number, number]>;
  rcDisconnect(...args: ScriptArg[]): Promise<number>;
  rcEdges(...args: ScriptArg[]): Promise<string[]>;
}

/** subscribe-2.lua's return codes. */
const SUBSCRIBE_OUTCOMES: Record<number, SubscribeOutcome> = {
  [SubscribeCode.Admitted]: 'admitted',
  [SubscribeCode.SessionFull]: 'session_full',
  [SubscribeCode.Missing]: 'not_found',
  [SubscribeCode.Forbidden]: 'forbidden',
  [SubscribeCode.Finished]: 'finished',
};
export type SubscribeOutcome = 'admitted' | 'session_full' | 'not_found' | 'forbidden' | 'finished';
export interface SubscribeAnswer {
  outcome: SubscribeOutcome;
  /** The session's last appended seq. */
  seq: number;
}

/** The window of SESSIONS_PER_MINUTE_PER_KEY. */
export const RATE_WINDOW_MS = 60_000;

export type Admission = { ok: true } | { ok: false; limit: 'rate' | 'running'; retryAfterMs: number };

/**
 * Limits shared by every edge, kept in Redis: one script per check, run per request or per connection and
 * never per delivered event. Every script touches keys of a single hash tag, so all of this works unchanged
 * on Redis Cluster.
 */
export class Limiter {
  private readonly redis: LimitCommands;

  constructor(redis: RedisClient | LimitCommands, readonly keys: KeySpace) {
    this.redis = commandsOf<LimitCommands>(redis);
  }

  /** Charges a new session to its API key, or refuses it (see admit-2.lua). */
  async admit(keyId: string, sessionId: string, o: { perMinute: number; maxRunning: number; runningLeaseMs: number }): Promise<Admission> {
    const k = this.keys.limits;
    const [code, , retryAfterMs] = await this.redis.rcAdmit(k.created(keyId), k.running(keyId), sessionId, o.perMinute, RATE_WINDOW_MS, o.maxRunning, o.runningLeaseMs);
    if (code === AdmitCode.Admitted) return { ok: true };
    return { ok: false, limit: code === AdmitCode.OverRate ? 'rate' : 'running', retryAfterMs: Number(retryAfterMs) };
  }

  /** The key's sessions that count as running. */
  running(keyId: string): Promise<string[]> {
    return this.redis.zrange(this.keys.limits.running(keyId), '0', '-1');
  }

  /** Frees a session's running slot. Idempotent: every path that ends a session may call it. */
  async release(keyId: string, sessionId: string): Promise<void> {
    await this.redis.zrem(this.keys.limits.running(keyId), sessionId);
  }

  /** Takes a connection slot of `key` for `edgeId` (see connect-1.lua). */
  async connect(key: string, edgeId: string, limit: number, o: { leaseMs: number; ttlMs: number; liveEdges: readonly string[] }): Promise<{ ok: boolean; total: number }> {
    const [code, total] = await this.redis.rcConnect(key, edgeId, limit, o.leaseMs, o.ttlMs, ...o.liveEdges);
    return { ok: code === ConnectCode.Taken, total: Number(total) };
  }

  /**
   * Admits an event stream to a session: owner, end and the session's connection slot in one call (see
   * subscribe-2.lua). `take: false` checks only (a HEAD request holds no slot).
   */
  async subscribe(sessionId: string, edgeId: string, limit: number, o: { tenant: string; cursor: number; take: boolean; leaseMs: number; ttlMs: number; liveEdges: readonly string[] }): Promise<SubscribeAnswer> {
    const k = this.keys;
    const [code, seq] = await this.redis.rcSubscribe(k.session(sessionId).meta, k.limits.sessionConnections(sessionId), edgeId, limit, o.leaseMs, o.ttlMs, o.tenant, o.cursor, o.take ? 1 : 0, ...o.liveEdges);
    return { outcome: SUBSCRIBE_OUTCOMES[code] ?? 'not_found', seq: Number(seq) };
  }

  async disconnect(key: string, edgeId: string): Promise<void> {
    await this.redis.rcDisconnect(key, edgeId);
  }

  /** Records that `edgeId` is alive; returns every live edge. */
  heartbeat(edgeId: string, leaseMs: number): Promise<string[]> {
    return this.redis.rcEdges(this.keys.limits.edges, edgeId, leaseMs);
  }
}

/**
 * How long a session may count as running if whoever ends it never says so: every attempt running to its
 * timeout, plus a minute of queueing and retry backoff. A lost release blocks a slot no longer than this.
 */
export function runningLeaseMs(cfg: { GENERATION_TIMEOUT_MS: number; JOB_ATTEMPTS: number }): number {
  return cfg.GENERATION_TIMEOUT_MS * cfg.JOB_ATTEMPTS + 60_000;
}
