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
// SIGTERM (a deploy): drain across DRAIN_WINDOW_MS so clients move to other edges gradually.
// SIGINT (Ctrl-C): close at once.
process.once('SIGTERM', () => {
  log.info('SIGTERM: draining');
  edge.drain().then(() => process.exit(0), () => process.exit(1));
});
process.once('SIGINT', () => {
  log.info('SIGINT: closing');
  edge.close().then(() => process.exit(0), () => process.exit(1));
});
