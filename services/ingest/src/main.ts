import { createLogger, loadConfigOrExit } from '@relaycast/shared';
import { startIngest } from './ingest.js';

const cfg = loadConfigOrExit('ingest');
const log = createLogger('ingest', cfg.LOG_LEVEL);
const ingest = await startIngest(cfg, log);
// SIGTERM (a deploy): finish running generations within INGEST_DRAIN_MS, hand the rest back.
// SIGINT (Ctrl-C): hand everything back at once.
process.once('SIGTERM', () => {
  log.info('SIGTERM: draining');
  ingest.drain().then(() => process.exit(0), () => process.exit(1));
});
process.once('SIGINT', () => {
  log.info('SIGINT: closing');
  ingest.close().then(() => process.exit(0), () => process.exit(1));
});
