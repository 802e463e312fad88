import { EVENT_TYPES, TERMINAL_TYPES } from '@relaycast/protocol';
import { EventSource } from 'eventsource';
import { isRefused, type Proc, type ProcCluster } from './procs.js';
import { readSse, type ReceivedEvent } from './sse.js';
import { waitFor } from './wait.js';

export const TERMINAL: ReadonlySet<string> = TERMINAL_TYPES;

/** One connection of a following client: where it went, what it got, and when it ended. */
export interface Connection {
  edge: string;
  status: number;
  events: number;
  /** ms since the epoch when the connection ended (the server closed it, or it failed). */
  endedAt: number;
}

export interface Followed {
  events: ReceivedEvent[];
  connections: Connection[];
  /** Status of the answer that made the client stop (204 at the end, 404 once the session is gone). */
  finalStatus: number;
}

export interface FollowOptions {
  /** Where the first connection goes; later ones go where the load balancer sends them. */
  first?: Proc;
  /** Cursor of the first connection (the client already holds the events up to it). */
  lastEventId?: string;
  /** Longest a single connection may stay open; a connection open longer is a hang and fails the client. */
  connectionTimeoutMs?: number;
  maxConnections?: number;
  onEvent?: (e: ReceivedEvent) => void;
  /** Called as each connection ends. */
  onConnectionEnd?: (c: Connection) => void;
}

const lastId = (events: ReceivedEvent[]) => events.findLast((e) => e.id !== undefined)?.id;
const ended = (events: ReceivedEvent[]) => TERMINAL.has(events.at(-1)?.event ?? '');

/** Waits (bounded) until an edge is ready and returns one, as a load balancer would. */
async function readyEdge(c: ProcCluster): Promise<Proc> {
  await waitFor(() => c.edges.some((e) => e.ready), 60_000, 'an edge to be ready');
  return c.pickEdge();
}

/**
 * A load balancer in front of the edges (nginx with `proxy_next_upstream error http_503`): a ready edge
 * at random; a refused connection or a 503 goes to another one.
 */
export async function lbFetch(c: ProcCluster, path: string, init?: RequestInit): Promise<Response> {
  return (await lbRequest(c, path, init)).res;
}

async function lbRequest(c: ProcCluster, path: string, init?: RequestInit): Promise<{ res: Response; edge: Proc }> {
  let failure: unknown = new Error('no edge ready');
  for (let i = 0; i < 2 * c.edges.length; i++) {
    const edges = c.edges.filter((e) => e.ready);
    if (edges.length === 0) break;
    const edge = edges[Math.floor(Math.random() * edges.length)]!;
    try {
      const res = await fetch(edge.url + path, init);
      if (res.status !== 503) return { res, edge };
      await res.body?.cancel();
      failure = new Error(`edge ${edge.name} answered 503`);
    } catch (err) {
      if (!isRefused(err)) throw err;
      failure = err;
    }
  }
  throw failure;
}

/**
 * A raw HTTP SSE client that, whenever its connection ends before a terminal event, reconnects through the
 * load balancer with its last id as Last-Event-ID.
 */
export async function followRaw(c: ProcCluster, path: string, o: FollowOptions = {}): Promise<Followed> {
  const events: ReceivedEvent[] = [];
  const connections: Connection[] = [];
  const end = (conn: Connection) => {
    connections.push(conn);
    o.onConnectionEnd?.(conn);
  };
  for (let n = 0; n < (o.maxConnections ?? 500); n++) {
    const edge = n === 0 && o.first ? o.first : await readyEdge(c);
    const last = lastId(events) ?? o.lastEventId;
    let got = 0;
    try {
      const r = await readSse(edge.url, path, {
        ...(last ? { lastEventId: last } : {}),
        timeoutMs: o.connectionTimeoutMs ?? 60_000,
        onEvent: (e) => {
          got++;
          o.onEvent?.(e);
        },
      });
      end({ edge: edge.name, status: r.status, events: r.events.length, endedAt: Date.now() });
      events.push(...r.events);
      if (r.status === 204 || r.status === 404) return { events, connections, finalStatus: r.status };
      if (r.status !== 200 && r.status !== 503) throw new Error(`${edge.name} answered ${r.status}: ${r.raw}`);
      if (ended(events)) return { events, connections, finalStatus: r.status };
    } catch (err) {
      // A hang is a failure; a refused or cut connection (a dying edge) is what this client exists to survive.
      if (err instanceof Error && err.message.includes('did not finish within')) throw new Error(`${path}: a connection to ${edge.name} hung after ${events.length + got} events`);
      end({ edge: edge.name, status: 0, events: got, endedAt: Date.now() });
    }
  }
  throw new Error(`${path}: no terminal event after ${o.maxConnections ?? 500} connections`);
}

/**
 * The `eventsource` package, which behaves like a browser's EventSource: it reconnects by itself with
 * Last-Event-ID. Its requests go through the load balancer. Resolves at the terminal event (or once the
 * server says 204/404 and EventSource gives up); a client still open after `timeoutMs` fails.
 */
export function followEventSource(c: ProcCluster, path: string, o: Pick<FollowOptions, 'first' | 'onEvent' | 'onConnectionEnd'> & { timeoutMs?: number } = {}): Promise<Followed> {
  return new Promise((resolve, reject) => {
    const events: ReceivedEvent[] = [];
    const connections: Connection[] = [];
    let requests = 0;
    let current = '';
    let finalStatus = 200;
    const es = new EventSource(`http://relaycast.invalid${path}`, {
      fetch: async (input, init) => {
        const url = new URL(String(input));
        const first = requests++ === 0 ? o.first : undefined;
        const { res, edge } = first ? { res: await fetch(first.url + url.pathname + url.search, init), edge: first } : await lbRequest(c, url.pathname + url.search, init);
        current = edge.name;
        finalStatus = res.status;
        return res;
      },
    });
    const finish = (err?: Error) => {
      es.close();
      clearTimeout(timer);
      if (err) reject(err);
      else resolve({ events, connections, finalStatus });
    };
    const timer = setTimeout(() => finish(new Error(`${path}: eventsource client stuck after ${events.length} events`)), o.timeoutMs ?? 60_000);
    for (const type of EVENT_TYPES) {
      es.addEventListener(type, (e) => {
        // EventSource also fires a plain `error` Event whenever a connection ends or fails; only Relaycast's
        // own `event: error` frame is a MessageEvent with data.
        if (type === 'error' && typeof (e as MessageEvent).data !== 'string') {
          const conn = { edge: current, status: finalStatus, events: events.length, endedAt: Date.now() };
          connections.push(conn);
          o.onConnectionEnd?.(conn);
          // Closed for good: a 204 or 404 (or another non-200) ends EventSource's reconnects.
          if (es.readyState === EventSource.CLOSED) finish();
          return;
        }
        const me = e as MessageEvent;
        const got = { id: me.lastEventId || undefined, event: type, data: String(me.data) };
        events.push(got);
        o.onEvent?.(got);
        if (TERMINAL.has(type)) {
          const conn = { edge: current, status: finalStatus, events: events.length, endedAt: Date.now() };
          connections.push(conn);
          o.onConnectionEnd?.(conn);
          finish();
        }
      });
    }
  });
}

/** The answer's text as a client shows it: deltas after the last reset. */
export function textAfterLastReset(events: readonly { event?: string | undefined; type?: string; data: string }[]): string {
  let text = '';
  for (const e of events) {
    const type = e.event ?? e.type;
    if (type === 'reset') text = '';
    if (type === 'delta') text += (JSON.parse(e.data) as { text: string }).text;
  }
  return text;
}

/** What a client compares: id, type and data of each event, in order. */
export function wire(events: readonly ReceivedEvent[]): (string | undefined)[][] {
  return events.map((e) => [e.id, e.event, e.data]);
}

/** A fault-free read of a session's whole stream, after the fact, through any ready edge. */
export async function referenceRead(c: ProcCluster, path: string): Promise<ReceivedEvent[]> {
  return (await readSse(c.pickEdge().url, path, { timeoutMs: 30_000 })).events;
}

/** Waits until the session's stream holds at least `n` events (read from Redis). */
export function waitForSeq(c: ProcCluster, id: string, n: number, timeoutMs = 30_000): Promise<void> {
  return waitFor(async () => ((await c.seq(id)) ?? 0) >= n, timeoutMs, `${n} events appended to ${id}`);
}
