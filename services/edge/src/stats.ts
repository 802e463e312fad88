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
}
