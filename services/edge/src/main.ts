import { createLogger, loadConfigOrExit } from '@relaycast/shared';
import { startEdge } from './edge.js';

const cfg = loadConfigOrExit('edge');
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
