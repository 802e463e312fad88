import { loadEdgeConfig, type EdgeConfig } from '../../services/edge/src/config.js';
import { loadIngestConfig, type IngestConfig } from '../../services/ingest/src/config.js';

/** Both services' configs from one environment (as a deployment gives both the same), for tests that hand one object to each. */
export type SystemConfig = EdgeConfig & IngestConfig;

/** Parses `env` as each service does (so each validates its own variables), merged into one frozen object. */
export function loadSystemConfig(env: NodeJS.ProcessEnv): SystemConfig {
  return Object.freeze({ ...loadIngestConfig(env), ...loadEdgeConfig(env) });
}
