import { createLogger, loadConfigOrExit } from '@relaycast/shared';
import { startIngest } from './ingest.js';

const cfg = loadConfigOrExit('ingest');
const log = createLogger('ingest', cfg.LOG_LEVEL);
// Signals are handled from the first moment: BullMQ may take a job before start-up completes, and a
// SIGTERM then (a rollout replacing a pod that is still starting) must drain, not kill.
const starting = startIngest(cfg, log);
const stop = (how: 'drain' | 'close') =>
  starting.then((ingest) => (how === 'drain' ? ingest.drain() : ingest.close())).then(() => process.exit(0), () => process.exit(1));
// SIGTERM (a deploy): finish running generations within INGEST_DRAIN_MS, hand the rest back.
// SIGINT (Ctrl-C): hand everything back at once.
process.once('SIGTERM', () => {
  log.info('SIGTERM: draining');
  void stop('drain');
});
process.once('SIGINT', () => {
  log.info('SIGINT: closing');
  void stop('close');
});
await starting;
