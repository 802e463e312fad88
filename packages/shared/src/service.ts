import { createLogger, type Logger } from './logger.js';
import { ConfigError } from './errors.js';

/** For a service's entry point: the config, or exit 2 with a message naming the bad variable. */
function loadConfigOrExit<C>(service: string, load: () => C): C {
  try {
    return load();
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`${service}: invalid configuration: ${e.message}`);
      process.exit(2);
    }
    throw e;
  }
}

interface Service {
  drain(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A service's entry point, the same for edge and ingest: config parsed once (a bad variable → a message
 * naming it and exit 2, before or during start-up), signals handled from the first moment (one arriving
 * during start-up still shuts down cleanly: BullMQ may already hold a job), SIGTERM drains (a deploy),
 * SIGINT closes at once (Ctrl-C). `load` is the service's own config parser (its settings, nothing more).
 */
export async function runService<C extends { LOG_LEVEL: string }>(name: string, load: () => C, start: (cfg: C, log: Logger) => Promise<Service>): Promise<void> {
  const cfg = loadConfigOrExit(name, load);
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
