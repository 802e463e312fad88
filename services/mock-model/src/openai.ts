import type { IncomingMessage, ServerResponse } from 'node:http';
import { FaultSyntaxError, parseFault } from './faults.js';
import { HttpError, readJson, sendJson, Streamer } from './http.js';
import { promptOf, tokenStream } from './text.js';

export interface MockControls {
  intervalMs?: number;
  firstTokenMs?: number;
  fault?: string;
  transcript?: string;
}

interface ChatRequest {
  model?: string;
  messages?: { role: string; content: string }[];
  stream?: boolean;
  max_tokens?: number;
  seed?: number;
  stream_options?: { include_usage?: boolean };
  mock?: MockControls;
}

const invalid = (res: ServerResponse, message: string) => sendJson(res, 400, { error: { message, type: 'invalid_request_error' } });

/** `POST /v1/chat/completions` with `stream: true`, as OpenAI streams it. */
export async function chatCompletions(req: IncomingMessage, res: ServerResponse, replay: (name: string, intervalMs: number, res: ServerResponse) => Promise<void>): Promise<void> {
  const body = (await readJson(req)) as ChatRequest;
  if (!body || typeof body !== 'object' || !Array.isArray(body.messages)) return invalid(res, 'messages is required');
  if (body.stream !== true) return invalid(res, 'this mock only streams: set stream: true');
  const mock = body.mock ?? {};
  let fault;
  try {
    fault = parseFault(mock.fault);
  } catch (e) {
    if (e instanceof FaultSyntaxError) return invalid(res, e.message);
    throw e;
  }
  if (mock.transcript !== undefined) return replay(mock.transcript, mock.intervalMs ?? 0, res);
  if (fault?.kind === 'status') {
    return sendJson(res, fault.code, { error: { message: `mock fault status ${fault.code}`, type: 'server_error', code: fault.code } }, fault.code === 429 ? { 'retry-after': '1' } : {});
  }

  const explicitMax = typeof body.max_tokens === 'number';
  const n = Math.min(Math.max(explicitMax ? body.max_tokens! : 16, 0), 100_000);
  const prompt = promptOf(body.messages);
  const model = body.model ?? 'mock';
  const id = `chatcmpl-${(prompt.length * 31 + (body.seed ?? 0)).toString(36)}`;
  const created = Math.floor(Date.now() / 1000);
  const chunk = (delta: object, finish: string | null = null) => `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;

  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  res.flushHeaders();
  const out = new Streamer(res);
  await out.write(chunk({ role: 'assistant', content: '' }));
  await out.wait(mock.firstTokenMs ?? 0);
  let i = 0;
  for (const token of tokenStream(prompt, body.seed ?? 0, n)) {
    if (out.closed) return;
    i++;
    if (fault?.kind === 'malformed' && fault.at === i) await out.write('data: {"choices":[{"delta":{"content":\n\n');
    else await out.write(chunk({ content: token }));
    if (fault && 'at' in fault && fault.at === i) {
      if (fault.kind === 'drop') return void res.socket?.destroy();
      if (fault.kind === 'stall') return; // socket stays open; the server's close() destroys it
      if (fault.kind === 'truncate') return void res.end();
      if (fault.kind === 'error') {
        await out.write(`data: ${JSON.stringify({ error: { message: 'mock in-band error', type: 'server_error', code: 'mock_error' } })}\n\n`);
        return void res.end();
      }
    }
    if (mock.intervalMs) await out.wait(mock.intervalMs);
    else if (i % 64 === 0) await new Promise((r) => setImmediate(r));
  }
  if (out.closed) return;
  await out.write(chunk({}, explicitMax ? 'length' : 'stop'));
  if (body.stream_options?.include_usage) {
    const promptTokens = prompt.split(/\s+/).filter(Boolean).length;
    await out.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [], usage: { prompt_tokens: promptTokens, completion_tokens: n, total_tokens: promptTokens + n } })}\n\n`);
  }
  await out.write('data: [DONE]\n\n');
  res.end();
}

export { HttpError };
