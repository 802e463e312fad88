import { runService } from '@relaycast/shared';
import { loadEdgeConfig } from './config.js';
import { startEdge } from './edge.js';

// SIGTERM drains across DRAIN_WINDOW_MS so clients move to other edges gradually.
await runService('edge', loadEdgeConfig, startEdge);
