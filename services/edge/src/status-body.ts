import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';
import type { Request } from 'express';

export type Encoding = 'br' | 'gzip' | 'identity';

// Below this a compressed body saves less than its encoding costs.
const MIN_COMPRESS_BYTES = 1_024;
const br = promisify(brotliCompress);
const gz = promisify(gzip);

/**
 * The content coding to answer with (RFC 9110 §12.5.3): br or gzip when the client accepts it with a
 * non-zero q (a `*` counts for either), br on a tie since it is smaller; identity otherwise.
 */
export function negotiateEncoding(header: string | undefined): Encoding {
  if (!header) return 'identity';
  const q = new Map<string, number>();
  for (const part of header.split(',')) {
    const [name = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    if (!name) continue;
    const qp = params.find((p) => p.startsWith('q='));
    const v = qp === undefined ? 1 : Number(qp.slice(2));
    q.set(name === 'x-gzip' ? 'gzip' : name, Number.isFinite(v) ? v : 0);
  }
  const of = (c: string) => q.get(c) ?? q.get('*') ?? 0;
  const b = of('br');
  const g = of('gzip');
  if (b <= 0 && g <= 0) return 'identity';
  return b >= g ? 'br' : 'gzip';
}

/**
 * Compresses in libuv's thread pool, off the event loop. Brotli at quality 5: near its best ratio on JSON
 * text at a small fraction of the default quality 11's CPU.
 */
export async function encodeBody(json: Buffer, want: Encoding): Promise<{ body: Buffer; encoding: Encoding }> {
  if (want === 'identity' || json.length < MIN_COMPRESS_BYTES) return { body: json, encoding: 'identity' };
  if (want === 'br') {
    const body = await br(json, { params: { [constants.BROTLI_PARAM_QUALITY]: 5, [constants.BROTLI_PARAM_SIZE_HINT]: json.length, [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT } });
    return { body, encoding: 'br' };
  }
  return { body: await gz(json), encoding: 'gzip' };
}

/**
 * Encoded bodies of finished sessions (they never change), least recently used first out, within a byte
 * budget; and the builds in flight, so concurrent readers of one answer share a single build.
 */
export class BodyCache {
  private readonly entries = new Map<string, { body: Buffer; encoding: Encoding }>();
  private readonly building = new Map<string, Promise<{ body: Buffer; encoding: Encoding }>>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  get(key: string, build: () => Promise<{ body: Buffer; encoding: Encoding }>): Promise<{ body: Buffer; encoding: Encoding }> {
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      return Promise.resolve(hit);
    }
    let p = this.building.get(key);
    if (!p) {
      p = build().then((v) => {
        this.put(key, v);
        return v;
      }).finally(() => this.building.delete(key));
      this.building.set(key, p);
    }
    return p;
  }

  private put(key: string, v: { body: Buffer; encoding: Encoding }): void {
    // One answer may not take more than an eighth of the budget: a single huge answer must not flush the rest.
    if (v.body.length > this.maxBytes / 8) return;
    this.entries.set(key, v);
    this.bytes += v.body.length;
    for (const [k, old] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(k);
      this.bytes -= old.body.length;
    }
  }
}

/** Whether a conditional GET may be answered 304 (weak comparison, RFC 9110 §13.1.2). */
export function notModified(req: Request, etag: string): boolean {
  const header = req.get('if-none-match');
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  const opaque = (t: string) => t.trim().replace(/^W\//, '');
  return header.split(',').some((t) => opaque(t) === opaque(etag));
}
