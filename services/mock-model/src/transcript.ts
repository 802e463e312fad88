import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import { HttpError, Streamer } from './http.js';

/** Replays a recorded SSE transcript byte for byte, optionally pausing between events. */
export function transcriptPlayer(dir: string) {
  return async (name: string, intervalMs: number, res: ServerResponse): Promise<void> => {
    if (!/^[A-Za-z0-9._-]+$/.test(name) || name.includes('..')) throw new HttpError(400, 'invalid transcript name');
    let bytes: Buffer;
    try {
      bytes = await readFile(join(dir, name));
    } catch {
      throw new HttpError(404, `no transcript ${name}`);
    }
    res.writeHead(200, { 'content-type': name.endsWith('.ndjson') ? 'application/x-ndjson' : 'text/event-stream', 'cache-control': 'no-cache' });
    const out = new Streamer(res);
    // Split after each blank line (an SSE event boundary) without altering a single byte.
    let start = 0;
    const text = bytes.toString('latin1');
    const boundary = /\r\n\r\n|\n\n|\r\r/g;
    for (let m; (m = boundary.exec(text)); ) {
      await out.write(bytes.subarray(start, m.index + m[0].length));
      start = m.index + m[0].length;
      await out.wait(intervalMs);
    }
    if (start < bytes.length) await out.write(bytes.subarray(start));
    res.end();
  };
}
