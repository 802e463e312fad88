import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { anthropic } from './formats/anthropic.js';
import { ollama } from './formats/ollama.js';
import { openaiChat } from './formats/openai-chat.js';
import { openaiResponses } from './formats/openai-responses.js';
import { plainSse } from './formats/sse.js';
import { HttpError, sendJson } from './http.js';
import { transcriptPlayer } from './transcript.js';
import { serve, type WireFormat } from './wire.js';

export interface MockModel {
  port: number;
  url: string;
  close(): Promise<void>;
}

export const DEFAULT_TRANSCRIPT_DIR = fileURLToPath(new URL('../../../test/fixtures/transcripts/', import.meta.url));

/** Every wire format the mock speaks, by path. */
export const FORMATS: readonly WireFormat[] = [openaiChat, openaiResponses, anthropic, ollama, plainSse];

/** A mock LLM provider on loopback: the request body chooses its timing and faults. */
export async function startMockModel(opts: { port?: number; host?: string; transcriptDir?: string } = {}): Promise<MockModel> {
  const replay = transcriptPlayer(opts.transcriptDir ?? DEFAULT_TRANSCRIPT_DIR);
  // Streaming requests served, in all and per path (tests prove which upstream was called, and how often).
  // clientAborts: streams the client closed before their end (an upstream abort, seen from the model).
  const stats = { requests: 0, clientAborts: 0, byPath: Object.fromEntries(FORMATS.map((f) => [f.path, 0])) as Record<string, number> };
  const byPath = new Map(FORMATS.map((f) => [f.path, f]));
  const sockets = new Set<Socket>();
  const server = createServer({ headersTimeout: 30_000, requestTimeout: 0, keepAliveTimeout: 5_000 }, (req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const format = byPath.get(path);
    const fail = (e: unknown) => {
      const status = e instanceof HttpError ? e.status : 500;
      const message = e instanceof HttpError ? e.message : 'mock internal error';
      sendJson(res as ServerResponse, status, format ? format.httpError(status, message) : { error: { message, type: 'invalid_request_error' } });
    };
    if (req.method === 'POST' && format) {
      stats.requests++;
      stats.byPath[path] = (stats.byPath[path] ?? 0) + 1;
      serve(format, req, res, replay, () => stats.clientAborts++).catch(fail);
    } else if (req.method === 'GET' && path === '/healthz') sendJson(res, 200, { ok: true });
    else if (req.method === 'GET' && path === '/v1/mock/stats') sendJson(res, 200, stats);
    else sendJson(res, 404, { error: { message: 'not found', type: 'invalid_request_error' } });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: `http://${opts.host && opts.host !== '0.0.0.0' ? opts.host : '127.0.0.1'}:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        // A stalled stream keeps its socket open on purpose; closing the server must not wait for it.
        for (const s of sockets) s.destroy();
      }),
  };
}
