import { loadConfig, type Config } from './config.js';
import { ConfigError } from './errors.js';
import { keySpace } from './keys.js';
import type { RedisClient } from './redis.js';
import { SessionStore } from './store.js';

/** For a service's entry point: the config, or exit 2 with a message naming the bad variable. */
export function loadConfigOrExit(service: string): Config {
  try {
    return loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`${service}: invalid configuration: ${e.message}`);
      process.exit(2);
    }
    throw e;
  }
}

/** The session store every service uses, with retention and limits from config. */
export function storeFor(cfg: Config, redis: RedisClient): SessionStore {
  return new SessionStore(redis, keySpace(cfg.REDIS_KEY_PREFIX), { maxLen: cfg.STREAM_MAXLEN, retentionSeconds: cfg.RETENTION_SECONDS, openTtlSeconds: cfg.QUEUED_TTL_SECONDS });
}
