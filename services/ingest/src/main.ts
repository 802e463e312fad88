import { runService } from '@relaycast/shared';
import { loadIngestConfig } from './config.js';
import { startIngest } from './ingest.js';

// SIGTERM finishes running generations within INGEST_DRAIN_MS and hands the rest back.
await runService('ingest', loadIngestConfig, startIngest);
