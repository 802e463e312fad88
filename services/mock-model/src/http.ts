import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';

export const MAX_BODY = 1 << 20;

export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_BODY) throw new HttpError(413, 'request body too large');
    chunks.push(c);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'request body is not valid JSON');
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return void res.destroy();
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/** A writer that honours backpressure and stops as soon as the client goes away. */
export class Streamer {
  closed = false;
  constructor(readonly res: ServerResponse) {
    res.on('close', () => {
      this.closed = true;
    });
  }
  async write(s: string | Buffer): Promise<void> {
    if (this.closed) return;
    if (!this.res.write(s)) await new Promise<void>((r) => {
      const done = () => {
        this.res.off('drain', done);
        this.res.off('close', done);
        r();
      };
      this.res.on('drain', done);
      this.res.on('close', done);
    });
  }
  async wait(ms: number): Promise<void> {
    if (ms > 0 && !this.closed) await delay(ms);
  }
}
