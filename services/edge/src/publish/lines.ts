import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { isCustomEventType, PublishInputError } from './events.js';

/** One unit of a streamed publish body: an event object, or a keep-alive (blank line, SSE comment). */
export type BodyItem = { kind: 'event'; raw: unknown; where: string } | { kind: 'keepalive' } | { kind: 'bad'; error: PublishInputError };

/** Turns body chunks into items; holds at most `maxLineBytes` of an unfinished line. */
export interface BodyReader {
  push(chunk: Buffer): BodyItem[];
  /** The body ended: a last line without its newline still counts (it arrived whole). */
  end(): BodyItem[];
}

/** NDJSON (one JSON object per line, LF or CRLF): each complete line is one event. */
export function ndjsonReader(maxLineBytes: number): BodyReader {
  let held = Buffer.alloc(0);
  let line = 0;
  const parse = (buf: Buffer): BodyItem => {
    line++;
    const text = buf.toString('utf8').trim();
    if (text === '') return { kind: 'keepalive' };
    try {
      return { kind: 'event', raw: JSON.parse(text), where: `line ${line}` };
    } catch {
      // Returned in place, not thrown: the lines before it in the same chunk are still appended.
      return { kind: 'bad', error: new PublishInputError('invalid_event', `line ${line}: not valid JSON`) };
    }
  };
  return {
    push(chunk) {
      const out: BodyItem[] = [];
      let buf = held.length ? Buffer.concat([held, chunk]) : chunk;
      for (let nl = buf.indexOf(10); nl >= 0; nl = buf.indexOf(10)) {
        out.push(parse(buf.subarray(0, nl)));
        buf = buf.subarray(nl + 1);
      }
      if (buf.length > maxLineBytes) {
        out.push({ kind: 'bad', error: new PublishInputError('event_too_large', `line ${line + 1}: longer than ${maxLineBytes} bytes`) });
        buf = Buffer.alloc(0);
      }
      held = Buffer.from(buf);
      return out;
    },
    end() {
      if (held.length === 0) return [];
      const last = held;
      held = Buffer.alloc(0);
      return [parse(last)];
    },
  };
}

/**
 * A text/event-stream body (the same framing Relaycast sends): `event:` is the type (required), `data:` the
 * event's JSON fields, or for a custom type its JSON data. A comment is a keep-alive.
 */
export function sseReader(maxEventBytes: number): BodyReader {
  let items: BodyItem[] = [];
  let n = 0;
  let pending = 0;
  const decoder = new TextDecoder();
  const parser = createParser({
    onEvent(m: EventSourceMessage) {
      n++;
      const where = `event ${n}`;
      let data: unknown;
      try {
        data = JSON.parse(m.data);
      } catch {
        items.push({ kind: 'bad', error: new PublishInputError('invalid_event', `${where}: data is not valid JSON`) });
        return;
      }
      const type = m.event ?? 'message';
      const fields = typeof data === 'object' && data !== null && !Array.isArray(data);
      items.push({ kind: 'event', raw: isCustomEventType(type) || !fields ? { type, data } : { ...(data as object), type }, where });
    },
    onComment() {
      items.push({ kind: 'keepalive' });
    },
  });
  return {
    push(chunk) {
      const text = decoder.decode(chunk, { stream: true });
      pending += chunk.length;
      parser.feed(text);
      const out = items;
      items = [];
      if (out.length) pending = 0;
      if (pending > maxEventBytes * 2 + 1024) out.push({ kind: 'bad', error: new PublishInputError('event_too_large', `event ${n + 1}: longer than ${maxEventBytes} bytes`) });
      return out;
    },
    end() {
      parser.feed(decoder.decode() + '\n\n');
      const out = items;
      items = [];
      return out;
    },
  };
}
