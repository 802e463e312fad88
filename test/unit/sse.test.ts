import { describe, expect, it } from 'vitest';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { encodeComment, encodeFrame, encodeRetry, SseFieldError } from '../../services/edge/src/sse.js';

function parseAll(text: string): EventSourceMessage[] {
  const out: EventSourceMessage[] = [];
  const p = createParser({ onEvent: (e) => out.push(e) });
  p.feed(text);
  return out;
}

describe('SSE encoder', () => {
  it('encodes id, event and data as one Buffer ending in a blank line', () => {
    const b = encodeFrame({ id: '7', event: 'delta', data: '{"text":"hi"}' });
    expect(Buffer.isBuffer(b)).toBe(true);
    expect(b.toString()).toBe('id: 7\nevent: delta\ndata: {"text":"hi"}\n\n');
  });

  it.each(['a\nb', 'a\rb', 'a\r\nb', 'a\0b'])('rejects CR, LF and NUL in id and event (%j)', (bad) => {
    expect(() => encodeFrame({ id: bad, data: 'x' })).toThrow(SseFieldError);
    expect(() => encodeFrame({ event: bad, data: 'x' })).toThrow(SseFieldError);
  });

  it('gives every line of data its own data: line, so a payload cannot inject fields or events', () => {
    const data = 'line1\nevent: evil\r\nid: 999\rdata: x\n\nretry: 1\n: comment';
    const b = encodeFrame({ id: '1', event: 'delta', data }).toString();
    for (const line of b.split('\n').filter(Boolean)) expect(line).toMatch(/^(id|event|data): /);
    const parsed = parseAll(b);
    expect(parsed).toHaveLength(1);
    expect(parsed[0]).toMatchObject({ id: '1', event: 'delta', data: data.replace(/\r\n|\r/g, '\n') });
  });

  it('round-trips empty data and trailing newlines through a spec parser', () => {
    for (const data of ['', '\n', 'a\n', '\n\n']) {
      const parsed = parseAll(encodeFrame({ event: 'x', data }).toString());
      expect(parsed).toHaveLength(1);
      expect(parsed[0]!.data).toBe(data);
    }
  });

  it('encodes comments and retry, rejecting line breaks in comments', () => {
    expect(encodeComment('ok').toString()).toBe(':ok\n\n');
    expect(encodeRetry(1500).toString()).toBe('retry: 1500\n\n');
    expect(() => encodeComment('a\nb')).toThrow(SseFieldError);
    expect(() => encodeRetry(-1)).toThrow(SseFieldError);
  });
});
