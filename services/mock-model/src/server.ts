import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { chatCompletions, HttpError } from './openai.js';
import { sendJson } from './http.js';
import { transcriptPlayer } from './transcript.js';

export interface MockModel {
  port: number;
  url: string;
  close(): Promise<void>;
}

export const DEFAULT_TRANSCRIPT_DIR = fileURLToPath(new URL('../../../test/fixtures/transcripts/', import.meta.url));

/** A mock LLM provider on loopback: the request body chooses its timing and faults. */
export async function startMockModel(opts: { port?: number; host?: string; transcriptDir?: string } = {}): Promise<MockModel> {
  const replay = transcriptPlayer(opts.transcriptDir ?? DEFAULT_TRANSCRIPT_DIR);
  const stats = { requests: 0 };
  const sockets = new Set<Socket>();
  const server = createServer({ headersTimeout: 30_000, requestTimeout: 0, keepAliveTimeout: 5_000 }, (req, res) => {
    const fail = (e: unknown) => {
      if (e instanceof HttpError) sendJson(res, e.status, { error: { message: e.message, type: 'invalid_request_error' } });
      else sendJson(res as ServerResponse, 500, { error: { message: 'mock internal error', type: 'server_error' } });
    };
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'POST' && path === '/v1/chat/completions') {
      stats.requests++;
      chatCompletions(req, res, replay).catch(fail);
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
