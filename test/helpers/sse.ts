import { request } from 'node:http';
import { createParser } from 'eventsource-parser';

export interface ReceivedEvent {
  id: string | undefined;
  event: string | undefined;
  data: string;
}

export interface SseResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  events: ReceivedEvent[];
  /** Raw body bytes as received. */
  raw: string;
  /** True when the server ended the response (as opposed to us cutting it). */
  ended: boolean;
}

export interface SseOptions {
  lastEventId?: string;
  query?: Record<string, string>;
  /** Stop (destroy the connection) once this many events arrived. */
  stopAfter?: number;
  /** Called for each event as it arrives. */
  onEvent?: (e: ReceivedEvent) => void;
  /** Called with each raw chunk as it arrives (comments such as heartbeats included). */
  onChunk?: (chunk: string) => void;
  timeoutMs?: number;
}

/**
 * A raw HTTP SSE reader, parsed with a spec-compliant parser. Resolves when the server ends the response,
 * when `stopAfter` events arrived, or rejects after `timeoutMs` (a hang is a failure, never a wait).
 */
export function readSse(base: string, path: string, o: SseOptions = {}): Promise<SseResult> {
  const url = new URL(path, base);
  for (const [k, v] of Object.entries(o.query ?? {})) url.searchParams.set(k, v);
  return new Promise((resolve, reject) => {
    const events: ReceivedEvent[] = [];
    let raw = '';
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (o.lastEventId !== undefined) headers['last-event-id'] = o.lastEventId;
    const req = request(url, { headers }, (res) => {
      let done = false;
      const finish = (ended: boolean) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, events, raw, ended });
      };
      const parser = createParser({
        onEvent: (ev) => {
          if (done) return;
          const e = { id: ev.id, event: ev.event, data: ev.data };
          events.push(e);
          o.onEvent?.(e);
          if (o.stopAfter !== undefined && events.length >= o.stopAfter) {
            finish(false);
            req.destroy();
          }
        },
      });
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        raw += chunk;
        o.onChunk?.(chunk);
        parser.feed(chunk);
      });
      res.on('end', () => finish(true));
      res.on('error', () => finish(false));
      res.on('close', () => finish(res.complete));
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`SSE ${path} did not finish within ${o.timeoutMs ?? 15_000} ms (got ${events.length} events)`));
    }, o.timeoutMs ?? 15_000);
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    req.end();
  });
}
