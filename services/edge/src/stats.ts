import type { SocketGuardStats } from './socket-guard.js';

/**
 * Hot-path counters as plain numbers: the fan-out loop adds to a field, and /metrics turns them into
 * Prometheus counters at scrape time, so delivering an event never touches the metrics library.
 */
export class EdgeStats {
  openConnections = 0;
  eventsDelivered = 0;
  bytesDelivered = 0;
  eventsReplayed = 0;
  resumes = 0;
  gaps = 0;
  slowDisconnects = 0;
  /** Streams ended because their subscribe token expired. */
  tokenExpiries = 0;
  /** Requests refused with 429, by the limit that refused them. */
  readonly limited = { rate: 0, running: 0, ip: 0, session: 0, reads_ip: 0, reads_token: 0 };
  /** Client sockets and what the socket guard closed (socket-guard.ts); maxSockets from the fd budget. */
  readonly sockets: SocketGuardStats = { open: 0, headersTimeouts: 0, evicted: 0, refused: 0 };
  maxSockets = 0;
}
