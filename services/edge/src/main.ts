import { ConfigError, createLogger, loadConfigOrExit } from '@relaycast/shared';
import { startEdge } from './edge.js';

const cfg = loadConfigOrExit('edge');
const log = createLogger('edge', cfg.LOG_LEVEL);
// Signals are handled from the first moment, so one that arrives during start-up still shuts down cleanly.
const starting = startEdge(cfg, log);
const stop = (how: 'drain' | 'close') =>
  starting.then((edge) => (how === 'drain' ? edge.drain() : edge.close())).then(() => process.exit(0), () => process.exit(1));
// SIGTERM (a deploy): drain across DRAIN_WINDOW_MS so clients move to other edges gradually.
// SIGINT (Ctrl-C): close at once.
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
  // Same contract as loadConfigOrExit: a configuration problem exits 2 naming the variable.
  if (!(e instanceof ConfigError)) throw e;
  console.error(`edge: invalid configuration: ${e.message}`);
  process.exit(2);
}
