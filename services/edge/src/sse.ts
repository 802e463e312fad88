/**
 * Server-Sent Events encoding (WHATWG HTML §9.2 "Server-sent events").
 *
 * Each frame is built once into a single Buffer so the edge can hand the same bytes to every subscriber.
 */

export class SseFieldError extends Error {
  override name = 'SseFieldError';
}

// §9.2.6: a line ends at CR, LF or CRLF, so any of them inside `id` or `event` would start a new field;
// an `id` containing NUL is ignored by the parser, which would silently break resume.
const FORBIDDEN_IN_FIELD = /[\r\n\0]/;
// §9.2.6: lines end with CRLF, LF or a lone CR; split data on all three so each becomes its own `data:` line.
const LINE_BREAK = /\r\n|\r|\n/;

export interface SseFrame {
  id?: string;
  event?: string;
  data: string;
}

export function encodeFrame(frame: SseFrame): Buffer {
  let out = '';
  if (frame.id !== undefined) {
    if (FORBIDDEN_IN_FIELD.test(frame.id)) throw new SseFieldError('SSE id must not contain CR, LF or NUL');
    out += `id: ${frame.id}\n`;
  }
  if (frame.event !== undefined) {
    if (FORBIDDEN_IN_FIELD.test(frame.event)) throw new SseFieldError('SSE event must not contain CR, LF or NUL');
    out += `event: ${frame.event}\n`;
  }
  // §9.2.6: every `data:` line appends its value plus LF and the final LF is dropped on dispatch, so
  // splitting on line breaks and emitting one `data:` line each reproduces the payload exactly
  // (CR and CRLF come back as LF, which is all the spec can carry).
  for (const line of frame.data.split(LINE_BREAK)) out += `data: ${line}\n`;
  return Buffer.from(out + '\n', 'utf8');
}

/** A comment line: ignored by parsers, used to flush headers and keep proxies from timing out. */
export function encodeComment(text = ''): Buffer {
  if (FORBIDDEN_IN_FIELD.test(text)) throw new SseFieldError('SSE comment must not contain CR, LF or NUL');
  return Buffer.from(`:${text}\n\n`, 'utf8');
}

/** §9.2.6 `retry:` sets the client's reconnection delay in ms. */
export function encodeRetry(ms: number): Buffer {
  if (!Number.isInteger(ms) || ms < 0) throw new SseFieldError('retry must be a non-negative integer');
  return Buffer.from(`retry: ${ms}\n\n`, 'utf8');
}
