import type { IncomingMessage, ServerResponse } from 'node:http';
import { FaultSyntaxError, parseFault, type Fault } from './faults.js';
import { readJson, sendJson, Streamer } from './http.js';
import { mockPlan, shapeError, type MockPlan, type MockShape, type Step } from './plan.js';
import { firstStop } from './stop.js';
import { promptOf } from './text.js';
import { leadFor, requestedCall, type MockTools } from './tools.js';

export interface MockControls {
  intervalMs?: number;
  firstTokenMs?: number;
  fault?: string;
  transcript?: string;
  /** Sent by Relaycast for formats that have no seed field of their own. */
  seed?: number;
  /** Reasoning, several blocks, tool calls, noise fields: see {@link MockShape}. */
  shape?: MockShape;
}

/** What the mock needs from a request, read from the format's own fields. */
export interface MockRequest extends MockTools {
  messages: { content: string }[];
  /** The format's output limit, when the request set one: that many content chunks, then a "length" finish. */
  maxTokens?: number | undefined;
  seed: number;
  model: string;
  /** OpenAI chat sends usage only when asked (`stream_options.include_usage`). */
  includeUsage: boolean;
  /** Stop sequences, from the format's own field (none in the Responses API). */
  stop?: string[] | undefined;
  mock: MockControls;
}

export interface Usage {
  promptTokens: number;
  completionTokens: number;
}

/** Writes one response in a format; made per request, so it may count (sequence numbers, block indexes). */
export interface FrameWriter {
  preamble(): string;
  /** One piece of the plan (a reasoning, answer or tool-call piece): its frames, opening blocks as needed. */
  step(s: Step): string;
  /** A frame the client cannot parse. */
  malformed(): string;
  /** The format's error-after-200 frame. */
  inbandError(): string;
  /** Everything after the last token, end marker included; `stopSequence`: the answer ended at this one. */
  finish(limited: boolean, usage: Usage, stopSequence?: string): string;
}

/** One provider's wire format as the mock speaks it. */
export interface WireFormat {
  readonly path: string;
  readonly contentType: string;
  /** Reads the request body; returns the reason when it is not a valid request of this format. */
  parse(body: Record<string, any>): MockRequest | string;
  /** The format's HTTP error body. */
  httpError(status: number, message: string): unknown;
  writer(req: MockRequest, plan: MockPlan): FrameWriter;
}

export type Replay = (name: string, intervalMs: number, res: ServerResponse) => Promise<void>;

/** Words in the prompt: the mock's prompt token count. */
export const promptTokens = (req: MockRequest) => promptOf(req.messages).split(/\s+/).filter(Boolean).length;

/** Mock controls come in a `mock` object; the seed may come in it too when the format has no seed field. */
export function controls(body: Record<string, any>): MockControls {
  return body.mock && typeof body.mock === 'object' ? body.mock : {};
}

export const intOr = (v: unknown, fallback?: number): number | undefined => (typeof v === 'number' && Number.isInteger(v) ? v : fallback);

/** The request's fault, or why its mock controls are invalid. */
function checkControls(mock: MockControls): { fault: Fault | undefined } | string {
  const badShape = shapeError(mock.shape);
  if (badShape) return badShape;
  try {
    return { fault: parseFault(mock.fault) };
  } catch (e) {
    if (e instanceof FaultSyntaxError) return e.message;
    throw e;
  }
}

/**
 * Applies the request's fault if it is due after step i (0: before the first); returns true when the
 * stream is over. A `drop` calls `onCut` first: the socket's close is the fault's, not a client abort.
 */
async function faultAfter(fault: Fault | undefined, i: number, w: FrameWriter, out: Streamer, onCut: () => void): Promise<boolean> {
  if (!fault || !('at' in fault) || fault.at !== i) return false;
  switch (fault.kind) {
    case 'drop':
      onCut();
      out.res.socket?.destroy();
      return true;
    case 'stall':
      return true; // socket stays open; the server's close() destroys it
    case 'truncate':
      out.res.end();
      return true;
    case 'error':
      await out.write(w.inbandError());
      out.res.end();
      return true;
    case 'malformed':
      if (i === 0) await out.write(w.malformed());
      return false;
  }
}

/**
 * Serves one streaming request in `format`: deterministic text from prompt and seed, timing and faults
 * from the `mock` controls. A fault at step n (a token, or a tool-call piece) happens right after it; at
 * 0, before the first. Stop sequences end the answer before the first of them, as real servers do: the
 * text up to it is sent, nothing after it, and the finish names the stop.
 */
export async function serve(format: WireFormat, req: IncomingMessage, res: ServerResponse, replay: Replay, onClientGone: () => void = () => undefined): Promise<void> {
  const raw = await readJson(req);
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return sendJson(res, 400, format.httpError(400, 'body must be a JSON object'));
  const r = format.parse(raw as Record<string, any>);
  if (typeof r === 'string') return sendJson(res, 400, format.httpError(400, r));
  const checked = checkControls(r.mock);
  if (typeof checked === 'string') return sendJson(res, 400, format.httpError(400, checked));
  const fault = checked.fault;
  if (r.mock.transcript !== undefined) return replay(r.mock.transcript, r.mock.intervalMs ?? 0, res);
  if (fault?.kind === 'status') return sendJson(res, fault.code, format.httpError(fault.code, `mock fault status ${fault.code}`), fault.code === 429 ? { 'retry-after': '1' } : {});

  const n = Math.min(Math.max(r.maxTokens ?? 16, 0), 100_000);
  const prompt = promptOf(r.messages);
  // `mock.shape.tools` plans its own calls; otherwise the request's tools decide, as a real model's would.
  const turn = r.mock.shape?.tools === undefined ? { call: requestedCall(r, prompt, r.seed), lead: leadFor(r.toolResult) } : {};
  const plan = mockPlan(prompt, r.seed, n, r.mock.shape, turn);
  const stop = firstStop(plan, r.stop ?? []);
  const w = format.writer(r, plan);
  res.writeHead(200, { 'content-type': format.contentType, 'cache-control': 'no-cache', connection: 'keep-alive' });
  res.flushHeaders();
  const out = new Streamer(res);
  let cut = false;
  // The client went away before the end (it aborted the request): tests prove upstream aborts with this.
  res.on('close', () => {
    if (!res.writableEnded && !cut) onClientGone();
  });
  const onCut = () => (cut = true);
  await out.write(w.preamble());
  if (await faultAfter(fault, 0, w, out, onCut)) return;
  await out.wait(r.mock.firstTokenMs ?? 0);
  let i = 0;
  let left = stop?.at ?? Infinity; // characters of answer text still to send
  for (const step of plan.steps()) {
    if (out.closed) return;
    i++;
    if (step.kind === 'text' && step.text.length > left) {
      // The stop sequence starts in this token: what comes before it is sent, then the answer ends.
      if (left > 0) await out.write(w.step({ ...step, text: step.text.slice(0, left) }));
      else i--;
      break;
    }
    if (step.kind === 'text') left -= step.text.length;
    await out.write(fault?.kind === 'malformed' && fault.at === i ? w.malformed() : w.step(step));
    if (await faultAfter(fault, i, w, out, onCut)) return;
    if (r.mock.intervalMs) await out.wait(r.mock.intervalMs);
    else if (i % 64 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  if (out.closed) return;
  await out.write(w.finish(r.maxTokens !== undefined && !plan.toolTurn, { promptTokens: promptTokens(r), completionTokens: stop ? i : plan.count }, stop?.sequence));
  res.end();
}
