import { loadConfig, type Config } from './config.js';
import { createLogger, type Logger } from './logger.js';
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

interface Service {
  drain(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A service's entry point, the same for edge and ingest: config parsed once (a bad variable → a message
 * naming it and exit 2, before or during start-up), signals handled from the first moment (one arriving
 * during start-up still shuts down cleanly: BullMQ may already hold a job), SIGTERM drains (a deploy),
 * SIGINT closes at once (Ctrl-C).
 */
export async function runService(name: string, start: (cfg: Config, log: Logger) => Promise<Service>): Promise<void> {
  const cfg = loadConfigOrExit(name);
  const log = createLogger(name, cfg.LOG_LEVEL);
  const starting = start(cfg, log);
  const stop = (how: 'drain' | 'close') =>
    starting.then((s) => (how === 'drain' ? s.drain() : s.close())).then(() => process.exit(0), () => process.exit(1));
  process.once('SIGTERM', () => {
    log.info('SIGTERM: draining');
    void stop('drain');
  });
  process.once('SIGINT', () => {
    log.info('SIGINT: closing');
    void stop('close');
  });
  try {
    await starting;
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    console.error(`${name}: invalid configuration: ${e.message}`);
    process.exit(2);
  }
}
