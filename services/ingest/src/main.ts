import { ConfigError, createLogger, loadConfig } from '@relaycast/shared';
import { startIngest } from './ingest.js';

let cfg;
try {
  cfg = loadConfig();
} catch (e) {
  if (e instanceof ConfigError) {
    console.error(`ingest: invalid configuration: ${e.message}`);
    process.exit(2);
  }
  throw e;
}
const log = createLogger('ingest', cfg.LOG_LEVEL);
const ingest = await startIngest(cfg, log);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    log.info({ sig }, 'ingest shutting down');
    ingest.close().then(() => process.exit(0), () => process.exit(1));
  });
}
