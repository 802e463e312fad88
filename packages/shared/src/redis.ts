import { Redis, type RedisOptions } from 'ioredis';

/**
 * Creates a Redis connection with the settings every Relaycast process wants: reconnect forever with a
 * capped backoff (a Redis restart must not kill a service), and commands queued while reconnecting.
 */
export function createRedis(url: string, name: string, extra: RedisOptions = {}): Redis {
  return new Redis(url, {
    connectionName: name,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2_000),
    maxRetriesPerRequest: null,
    enableAutoPipelining: false,
    ...extra,
  });
}
