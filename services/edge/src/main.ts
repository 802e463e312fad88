import { ConfigError, createLogger, loadConfigOrExit } from '@relaycast/shared';
import { startEdge, type Edge } from './edge.js';

const cfg = loadConfigOrExit('edge');
const log = createLogger('edge', cfg.LOG_LEVEL);
let edge: Edge;
try {
  edge = await startEdge(cfg, log);
} catch (e) {
  // Same contract as loadConfigOrExit: a configuration problem exits 2 naming the variable.
  if (!(e instanceof ConfigError)) throw e;
  console.error(`edge: invalid configuration: ${e.message}`);
  process.exit(2);
}
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
