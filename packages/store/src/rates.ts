import type { RedisClient } from './redis.js';
import { commandsOf, RateCode } from './scripts.js';

/** The one command the rate limiter runs: rate-1.lua. */
export interface RateCommands {
  rcRate(key: string, intervalMs: string, burst: number): Promise<[number, number]>;
}

export type RateDecision = { ok: true } | { ok: false; retryAfterMs: number };

/**
 * A request rate per subject shared by every edge, in Redis (rate-1.lua): one script call per request,
 * one short key per active subject, nothing held for a subject that went quiet. Each call touches one key,
 * so it works unchanged on Redis Cluster.
 */
export class RateLimiter {
  private readonly redis: RateCommands;

  constructor(redis: RedisClient | RateCommands) {
    this.redis = commandsOf<RateCommands>(redis);
  }

  /** Counts one request of `key` against `perMinute`, allowing bursts of {@link rateBurst}. */
  async take(key: string, perMinute: number): Promise<RateDecision> {
    const [code, retryAfterMs] = await this.redis.rcRate(key, String(60_000 / perMinute), rateBurst(perMinute));
    return code === RateCode.Allowed ? { ok: true } : { ok: false, retryAfterMs: Number(retryAfterMs) };
  }
}

/** Ten seconds' worth at once: a page that polls in a burst is served, a loop is held to the rate. */
export function rateBurst(perMinute: number): number {
  return Math.max(1, Math.ceil(perMinute / 6));
}
