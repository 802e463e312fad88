import type { IncomingMessage } from 'node:http';
import { InvalidCursorError, parseCursor } from '@relaycast/protocol';

const QUERY_NAME = 'lastEventId';

/**
 * The cursor an event-stream request asks to resume from: the Last-Event-ID header (the browser resends it
 * itself on reconnect), else `?lastEventId=` for clients that cannot set headers. The query form must be
 * one plain value: a repeated parameter (`?lastEventId=2&lastEventId=3`) or a bracketed one
 * (`?lastEventId[a]=3`, which the query parser files under another name) is ambiguous, so it is refused
 * like any other malformed cursor rather than read as "no cursor" and replayed from the start.
 * Throws InvalidCursorError.
 */
export function requestCursor(req: IncomingMessage): number {
  const given = req.headers['last-event-id'];
  const header = Array.isArray(given) ? given.join(', ') : given;
  const values = queryValues(req.url ?? '');
  if (values.ambiguous) throw new InvalidCursorError(`${QUERY_NAME} must be given once, as a plain decimal event id`);
  return parseCursor(header !== undefined ? header : values.value);
}

/** Reads the raw query string, not the parsed req.query, so that no parser setting can hide a duplicate. */
function queryValues(url: string): { value?: string; ambiguous: boolean } {
  const q = url.indexOf('?');
  if (q < 0) return { ambiguous: false };
  let value: string | undefined;
  let count = 0;
  for (const [name, v] of new URLSearchParams(url.slice(q + 1))) {
    if (name === QUERY_NAME) {
      count++;
      value = v;
    } else if (name.startsWith(`${QUERY_NAME}[`)) {
      return { ambiguous: true };
    }
  }
  return count > 1 ? { ambiguous: true } : { value, ambiguous: false };
}
