import { ConfigError, createLogger, loadConfig } from '@relaycast/shared';
import { startEdge } from './edge.js';

let cfg;
try {
  cfg = loadConfig();
} catch (e) {
  if (e instanceof ConfigError) {
    console.error(`edge: invalid configuration: ${e.message}`);
    process.exit(2);
  }
  throw e;
}
const log = createLogger('edge', cfg.LOG_LEVEL);
const edge = await startEdge(cfg, log);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    log.info({ sig }, 'edge shutting down');
    edge.close().then(() => process.exit(0), () => process.exit(1));
  });
}
