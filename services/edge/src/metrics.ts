import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';

/**
 * Plain numbers the hot path bumps (one addition per dispatch, never a prom-client call per subscriber
 * write); the registry reads them when /metrics is scraped.
 */
export interface DeliveryCounters {
  /** Event frames written to subscribers (live dispatch, replay and the live buffer flushed after replay). */
  eventsDelivered: number;
  bytesDelivered: number;
  /** Of those, frames read back from the stream for a subscriber that joined behind live. */
  replayedEvents: number;
  /** `gap` events sent: the requested cursor was older than what the stream still holds. */
  gaps: number;
  /** Event requests that carried a Last-Event-ID cursor. */
  resumes: number;
}

export const newDeliveryCounters = (): DeliveryCounters => ({ eventsDelivered: 0, bytesDelivered: 0, replayedEvents: 0, gaps: 0, resumes: 0 });

/** What the registry samples at scrape time. */
export interface EdgeSources {
  counters: DeliveryCounters;
  connections: { open: number };
  stats: { slowDisconnects: number };
  /** Subscriber count of every session this edge serves. */
  sessionSizes(): Iterable<number>;
}

/** Buckets for "how many subscribers does a session have on this edge"; fixed, so cardinality is too. */
const FANOUT_BUCKETS: [string, number][] = [['1', 1], ['2-10', 10], ['11-100', 100], ['101-1000', 1000], ['1001+', Infinity]];

export interface EdgeMetrics {
  registry: Registry;
  /** Counts one HTTP response by route pattern (never the raw path: ids would explode cardinality). */
  response(route: string, method: string, status: number): void;
}

/** One registry per edge, so several edges in one process (tests) never share or clash. */
export function createEdgeMetrics(src: EdgeSources): EdgeMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const sampled = (name: string, help: string, read: () => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  new Gauge({
    name: 'relaycast_edge_open_connections',
    help: 'Open SSE connections on this edge',
    registers: [registry],
    collect() {
      this.set(src.connections.open);
    },
  });
  new Gauge({
    name: 'relaycast_edge_sessions',
    help: 'Sessions with at least one subscriber on this edge',
    labelNames: ['subscribers'],
    registers: [registry],
    collect() {
      const counts = new Map<string, number>(FANOUT_BUCKETS.map(([label]) => [label, 0]));
      for (const size of src.sessionSizes()) {
        const bucket = FANOUT_BUCKETS.find(([, max]) => size <= max)![0];
        counts.set(bucket, counts.get(bucket)! + 1);
      }
      for (const [subscribers, n] of counts) this.set({ subscribers }, n);
    },
  });
  new Gauge({
    name: 'relaycast_edge_session_subscribers_max',
    help: 'Subscribers of the most-watched session on this edge',
    registers: [registry],
    collect() {
      let max = 0;
      for (const size of src.sessionSizes()) if (size > max) max = size;
      this.set(max);
    },
  });
  sampled('relaycast_edge_events_delivered_total', 'Event frames written to subscribers (live and replay)', () => src.counters.eventsDelivered);
  sampled('relaycast_edge_bytes_delivered_total', 'Bytes of event frames written to subscribers', () => src.counters.bytesDelivered);
  sampled('relaycast_edge_replayed_events_total', 'Event frames read from history for subscribers behind live', () => src.counters.replayedEvents);
  sampled('relaycast_edge_resumes_total', 'Event requests that carried a Last-Event-ID cursor', () => src.counters.resumes);
  sampled('relaycast_edge_gaps_total', 'gap events sent (cursor older than retention or MAXLEN)', () => src.counters.gaps);
  sampled('relaycast_edge_slow_consumer_disconnects_total', 'Subscribers disconnected because their unsent bytes passed SUBSCRIBER_MAX_QUEUE_BYTES', () => src.stats.slowDisconnects);
  const responses = new Counter({
    name: 'relaycast_edge_http_responses_total',
    help: 'HTTP responses by route pattern, method and status code',
    labelNames: ['route', 'method', 'status'],
    registers: [registry],
  });
  return {
    registry,
    response(route, method, status) {
      responses.inc({ route, method, status: String(status) });
    },
  };
}
