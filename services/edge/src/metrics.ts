import type { NextFunction, Request, Response } from 'express';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Hub } from './hub.js';
import type { EdgeStats } from './stats.js';

/** A counter fed at scrape time from a plain number that only grows. */
function counterFrom(registry: Registry, name: string, help: string, read: () => number): void {
  let reported = 0;
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      const now = read();
      if (now > reported) this.inc(now - reported);
      reported = now;
    },
  });
}

export interface EdgeMetrics {
  registry: Registry;
  /** Express middleware counting responses by route and status class. */
  httpCounter(req: Request, res: Response, next: NextFunction): void;
  /** Counts one response (for routes answered outside Express). */
  count(method: string, route: string, status: number): void;
}

export function createEdgeMetrics(stats: EdgeStats, hub: Hub, draining: () => boolean, listeners: () => number = () => 0): EdgeMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'relaycast_edge_' });
  new Gauge({ name: 'relaycast_edge_open_connections', help: 'Open SSE connections', registers: [registry], collect() { this.set(stats.openConnections); } });
  new Gauge({ name: 'relaycast_edge_sessions', help: 'Sessions with at least one subscriber on this edge', registers: [registry], collect() { this.set(hub.sessionCount); } });
  new Gauge({
    name: 'relaycast_edge_subscribers_per_session',
    help: 'Subscribers per session on this edge (max and mean)',
    labelNames: ['stat'],
    registers: [registry],
    collect() {
      const sizes = hub.sessionSizes();
      this.set({ stat: 'max' }, sizes.length ? Math.max(...sizes) : 0);
      this.set({ stat: 'mean' }, sizes.length ? sizes.reduce((a, b) => a + b, 0) / sizes.length : 0);
    },
  });
  new Gauge({
    name: 'relaycast_edge_subscribers',
    help: 'Subscribers held by this edge, live or still replaying history',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const { live, replaying } = hub.subscriberCounts();
      this.set({ state: 'live' }, live);
      this.set({ state: 'replaying' }, replaying);
    },
  });
  processGauges(registry, listeners, draining);
  counterFrom(registry, 'relaycast_edge_events_delivered_total', 'Events written to subscribers (live and replay)', () => stats.eventsDelivered);
  counterFrom(registry, 'relaycast_edge_bytes_delivered_total', 'SSE bytes written to subscribers', () => stats.bytesDelivered);
  counterFrom(registry, 'relaycast_edge_events_replayed_total', 'Events replayed from history', () => stats.eventsReplayed);
  counterFrom(registry, 'relaycast_edge_resumes_total', 'Connections that resumed with a Last-Event-ID', () => stats.resumes);
  counterFrom(registry, 'relaycast_edge_gaps_total', 'Gap events sent (entries trimmed or lost)', () => stats.gaps);
  counterFrom(registry, 'relaycast_edge_slow_consumer_disconnects_total', 'Subscribers disconnected for passing their byte bound', () => stats.slowDisconnects);
  counterFrom(registry, 'relaycast_edge_token_expiries_total', 'Streams ended because their subscribe token expired', () => stats.tokenExpiries);
  socketMetrics(registry, stats);
  let reportedLimited = { ...stats.limited };
  new Counter({
    name: 'relaycast_edge_limited_total',
    help: 'Requests refused with 429 by limit: rate and running (per API key), ip and session (SSE connections)',
    labelNames: ['limit'],
    registers: [registry],
    collect() {
      for (const [limit, n] of Object.entries(stats.limited)) {
        const before = reportedLimited[limit as keyof typeof reportedLimited];
        // Always touched, so every label shows from the first scrape (an alert can watch its rate).
        this.inc({ limit }, Math.max(0, n - before));
      }
      reportedLimited = { ...stats.limited };
    },
  });
  const responses = new Counter({ name: 'relaycast_edge_http_responses_total', help: 'HTTP responses by route and status class', labelNames: ['route', 'status'], registers: [registry] });
  const count = (method: string, route: string, status: number) => responses.inc({ route: `${method} ${route}`, status: `${Math.floor(status / 100)}xx` });
  return {
    registry,
    count,
    httpCounter(req, res, next) {
      // The matched route pattern, never the raw URL: ids and tokens stay out of label values.
      res.on('finish', () => count(req.method, (req.route?.path as string | undefined) ?? 'unmatched', res.statusCode));
      next();
    },
  };
}

/** Leak detectors and the drain flag: after load they return to their idle values (sockets and timers of a quiet edge). */
function processGauges(registry: Registry, listeners: () => number, draining: () => boolean): void {
  new Gauge({
    name: 'relaycast_edge_active_resources',
    help: 'Handles keeping the event loop alive (process.getActiveResourcesInfo), by type',
    labelNames: ['type'],
    registers: [registry],
    collect() {
      this.reset();
      const counts = new Map<string, number>();
      for (const type of process.getActiveResourcesInfo()) counts.set(type, (counts.get(type) ?? 0) + 1);
      for (const [type, n] of counts) this.set({ type }, n);
    },
  });
  new Gauge({ name: 'relaycast_edge_event_listeners', help: 'Listeners on the edge\'s long-lived emitters (HTTP server, Redis connections)', registers: [registry], collect() { this.set(listeners()); } });
  new Gauge({ name: 'relaycast_edge_draining', help: '1 while the edge drains before exit', registers: [registry], collect() { this.set(draining() ? 1 : 0); } });
}

/** Client sockets (issue 17: silent sockets): open, the cap, headers timeouts and sockets shed at the cap. */
function socketMetrics(registry: Registry, stats: EdgeStats): void {
  new Gauge({ name: 'relaycast_edge_sockets', help: 'Client TCP sockets open on this edge (streams, API calls, health checks, idle)', registers: [registry], collect() { this.set(stats.sockets.open); } });
  new Gauge({ name: 'relaycast_edge_sockets_max', help: 'Client sockets this edge holds at most (its open-file limit less a reserve)', registers: [registry], collect() { this.set(stats.maxSockets); } });
  counterFrom(registry, 'relaycast_edge_headers_timeouts_total', 'Connections closed for not sending complete request headers within HEADERS_TIMEOUT_MS', () => stats.sockets.headersTimeouts);
  let shed = { evicted: 0, refused: 0 };
  new Counter({
    name: 'relaycast_edge_sockets_shed_total',
    help: 'Connections closed at the socket cap: evicted (the oldest still without request headers) or refused (none was)',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      const { evicted, refused } = stats.sockets;
      this.inc({ reason: 'evicted' }, Math.max(0, evicted - shed.evicted));
      this.inc({ reason: 'refused' }, Math.max(0, refused - shed.refused));
      shed = { evicted, refused };
    },
  });
}
