import { request, type ClientRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, makeKey } from '../helpers/auth.js';
import { readSse, type ReceivedEvent } from '../helpers/sse.js';
import { startSystem, type TestSystem } from '../helpers/system.js';

/**
 * The publish API (issue 20) over real HTTP and a real Redis, with two edges: a producer-owned session is
 * filled by its producer's requests and read by subscribers exactly like a generated one.
 */

interface Producer {
  id: string;
  token: string;
  eventsUrl: string;
  producer: { token: string; epoch: number; nextSeq: number; publishUrl: string; producerUrl: string; idleTimeoutMs: number };
}

type Json = Record<string, unknown>;

async function post(base: string, path: string, credential: string, body: unknown): Promise<{ status: number; body: Json; headers: Headers }> {
  const res = await fetch(new URL(path, base), { method: 'POST', headers: { 'content-type': 'application/json', ...bearer(credential) }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Json, headers: res.headers };
}

async function createProducer(sys: TestSystem, extra: Json = {}, edge = 0): Promise<Producer> {
  const r = await post(sys.edges[edge]!.url, '/v1/sessions', sys.apiKey, { producer: true, ...extra });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body as unknown as Producer;
}

const publish = (sys: TestSystem, p: Producer, body: Json, edge = 0, credential = p.producer.token) => post(sys.edges[edge]!.url, p.producer.publishUrl, credential, body);
const errorOf = (b: Json) => b.error as { code: string; message: string } & Json;
const types = (events: ReceivedEvent[]) => events.map((e) => e.event);

/** Reads the whole session (it must end) as a subscriber on `edge`. */
const readAll = (sys: TestSystem, p: Producer, edge = 0, lastEventId?: string) => readSse(sys.edges[edge]!.url, p.eventsUrl, { ...(lastEventId ? { lastEventId } : {}) });

/** A streaming publish kept open: write lines, end or cut it, and read the answer. */
function streamPublish(base: string, p: Producer, epoch: number, seq: number, contentType = 'application/x-ndjson') {
  let req!: ClientRequest;
  const answer = new Promise<{ status: number; body: Json }>((resolve, reject) => {
    req = request(new URL(`${p.producer.publishUrl}?epoch=${epoch}&seq=${seq}`, base), { method: 'POST', headers: { 'content-type': contentType, ...bearer(p.producer.token) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Json }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
  answer.catch(() => undefined);
  return { req, answer, write: (s: string) => req.write(s) };
}

async function waitFor(cond: () => Promise<boolean> | boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function producerState(sys: TestSystem, p: Producer, edge = 0): Promise<Json> {
  const res = await fetch(new URL(p.producer.producerUrl, sys.edges[edge]!.url), { headers: bearer(p.producer.token) });
  return (await res.json()) as Json;
}

describe('publish API', () => {
  const other = makeKey('other-1', 'other-tenant');
  let sys: TestSystem;
  beforeAll(async () => {
    sys = await startSystem({ edges: 2, keys: [other], env: { PRODUCER_SWEEP_MS: '50', PUBLISH_MAX_BATCH: '50', PUBLISH_MAX_EVENT_BYTES: '1024', PUBLISH_STREAM_IDLE_MS: '5000' } });
  });
  afterAll(async () => {
    await sys?.close();
  });

  it('a batch of every event kind reaches subscribers in order, with the same ids and status as a generated session', async () => {
    const p = await createProducer(sys, { label: 'my-backend' });
    expect(p.producer).toMatchObject({ epoch: 1, nextSeq: 1 });
    expect(p.producer.token).toMatch(/^rp_/);
    const events = [
      { type: 'thinking', text: 'hmm' },
      { type: 'delta', text: 'Hello ' },
      { type: 'tool_call', index: 0, id: 'c1', name: 'lookup', arguments: '{"q":1}' },
      { type: 'retrieval.done', data: { docs: 3, ok: true } },
      { type: 'delta', text: 'world' },
      { type: 'usage', inputTokens: 3, outputTokens: 2, estimated: false },
    ];
    const first = await publish(sys, p, { epoch: 1, seq: 1, events });
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body).toMatchObject({ pseq: 6, nextSeq: 7, lastEventId: '6', duplicate: false, ended: false });
    const done = await publish(sys, p, { epoch: 1, seq: 7, events: [{ type: 'done', finishReason: 'stop' }] }, 1);
    expect(done.body).toMatchObject({ pseq: 7, ended: true });

    const read = await readAll(sys, p, 1);
    expect(read.ended).toBe(true);
    expect(types(read.events)).toEqual(['thinking', 'delta', 'tool_call', 'retrieval.done', 'delta', 'usage', 'done']);
    expect(read.events.map((e) => e.id)).toEqual(['1', '2', '3', '4', '5', '6', '7']);
    expect(JSON.parse(read.events[3]!.data)).toEqual({ docs: 3, ok: true });
    expect(JSON.parse(read.events[1]!.data)).toEqual({ text: 'Hello ' });

    const status = (await (await fetch(new URL(`/v1/sessions/${p.id}`, sys.edges[0]!.url), { headers: bearer(p.token) })).json()) as Json;
    expect(status).toMatchObject({ status: 'done', model: 'my-backend', text: 'Hello world', thinking: 'hmm', finishReason: 'stop', lastEventId: '7' });
  });

  it('a retried batch is acknowledged without appending twice; a batch that skips or overlaps is refused with the seq to use', async () => {
    const p = await createProducer(sys);
    const batch = { epoch: 1, seq: 1, events: [{ type: 'delta', text: 'a' }, { type: 'delta', text: 'b' }] };
    expect((await publish(sys, p, batch)).body).toMatchObject({ pseq: 2, duplicate: false });
    // The same request again, through the other edge (a client retrying after a timeout).
    expect((await publish(sys, p, batch, 1)).body).toMatchObject({ pseq: 2, duplicate: true, lastEventId: '2' });
    const gap = await publish(sys, p, { epoch: 1, seq: 5, events: [{ type: 'delta', text: 'x' }] });
    expect(gap.status).toBe(409);
    expect(errorOf(gap.body)).toMatchObject({ code: 'seq_mismatch', nextSeq: 3 });
    const overlap = await publish(sys, p, { epoch: 1, seq: 2, events: [{ type: 'delta', text: 'b' }, { type: 'delta', text: 'c' }] });
    expect(errorOf(overlap.body)).toMatchObject({ code: 'seq_mismatch', nextSeq: 3 });
    await publish(sys, p, { epoch: 1, seq: 3, events: [{ type: 'done', finishReason: 'stop' }] });
    const read = await readAll(sys, p);
    expect(read.events.map((e) => [e.id, e.event, e.data])).toEqual([['1', 'delta', '{"text":"a"}'], ['2', 'delta', '{"text":"b"}'], ['3', 'done', '{"finishReason":"stop"}']]);
  });

  it('two producers racing: the one that claimed later fences the other, which is told rather than interleaved', async () => {
    const p = await createProducer(sys);
    await publish(sys, p, { epoch: 1, seq: 1, events: [{ type: 'delta', text: 'A1 ' }] });
    const claim = await post(sys.edges[1]!.url, p.producer.producerUrl, p.producer.token, {});
    expect(claim.body).toEqual({ epoch: 2, pseq: 1, nextSeq: 2 });
    // Both send seq 2 at once: only the current epoch's lands.
    const [a, b] = await Promise.all([
      publish(sys, p, { epoch: 1, seq: 2, events: [{ type: 'delta', text: 'A2 ' }] }, 0),
      publish(sys, p, { epoch: 2, seq: 2, events: [{ type: 'delta', text: 'B2 ' }] }, 1),
    ]);
    expect(a.status).toBe(409);
    expect(errorOf(a.body)).toMatchObject({ code: 'producer_fenced', epoch: 2 });
    expect(b.status).toBe(200);
    const unknown = await publish(sys, p, { epoch: 7, seq: 3, events: [{ type: 'delta', text: '?' }] });
    expect(errorOf(unknown.body).code).toBe('unknown_epoch');
    await publish(sys, p, { epoch: 2, seq: 3, events: [{ type: 'done', finishReason: 'stop' }] });
    const read = await readAll(sys, p);
    expect(read.events.map((e) => e.data)).toEqual(['{"text":"A1 "}', '{"text":"B2 "}', '{"finishReason":"stop"}']);
  });

  it('after the terminal event a publish is refused with session_ended; retrying the terminal batch is still acknowledged', async () => {
    const p = await createProducer(sys);
    const end = { epoch: 1, seq: 1, events: [{ type: 'delta', text: 'x' }, { type: 'error', code: 'upstream_failed', message: 'model said no', retryable: false }] };
    expect((await publish(sys, p, end)).body).toMatchObject({ ended: true, pseq: 2 });
    expect((await publish(sys, p, end, 1)).body).toMatchObject({ duplicate: true, pseq: 2 });
    const after = await publish(sys, p, { epoch: 1, seq: 3, events: [{ type: 'delta', text: 'late' }] });
    expect(after.status).toBe(409);
    expect(errorOf(after.body)).toMatchObject({ code: 'session_ended', status: 'error' });
    const read = await readAll(sys, p);
    expect(types(read.events)).toEqual(['delta', 'error']);
  });

  it('a producer that goes quiet: the session ends with error producer_timeout and subscribers stop waiting', async () => {
    // Long enough that the first publish lands first even on a loaded machine; the wait after it is for the event.
    const p = await createProducer(sys, { idleTimeoutMs: 1_000 });
    await publish(sys, p, { epoch: 1, seq: 1, events: [{ type: 'delta', text: 'partial' }] });
    const read = await readSse(sys.edges[1]!.url, p.eventsUrl, { timeoutMs: 10_000 });
    expect(types(read.events)).toEqual(['delta', 'error']);
    expect(JSON.parse(read.events[1]!.data)).toMatchObject({ code: 'producer_timeout', retryable: false });
    const late = await publish(sys, p, { epoch: 1, seq: 2, events: [{ type: 'delta', text: 'back' }] });
    expect(errorOf(late.body)).toMatchObject({ code: 'session_ended', status: 'error' });
  });

  it('a keep-alive (empty batch) holds the idle timeout off', async () => {
    const p = await createProducer(sys, { idleTimeoutMs: 1_000 });
    const started = Date.now();
    while (Date.now() - started < 2_500) {
      expect((await publish(sys, p, { epoch: 1, seq: 1, events: [] })).status).toBe(200);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((await producerState(sys, p)).ended).toBe(false);
    await publish(sys, p, { epoch: 1, seq: 1, events: [{ type: 'done', finishReason: 'stop' }] });
    expect(types((await readAll(sys, p)).events)).toEqual(['done']);
  });

  it('streaming publish: each complete line is appended as it arrives; a cut connection keeps them, and a retry resumes after the last acknowledged seq', async () => {
    const p = await createProducer(sys);
    const seen: ReceivedEvent[] = [];
    const reading = readSse(sys.edges[1]!.url, p.eventsUrl, { onEvent: (e) => seen.push(e), timeoutMs: 15_000 });
    const s = streamPublish(sys.edges[0]!.url, p, 1, 1);
    s.write('{"type":"delta","text":"one "}\n');
    await waitFor(() => seen.length === 1, 'the first line to reach the subscriber before the second is sent');
    s.write('{"type":"delta","text":"two "}\n{"type":"delta","text":"three "}\n{"type":"delta","text":"fo');
    await waitFor(async () => (await producerState(sys, p)).pseq === 3, 'three lines acknowledged');
    s.req.destroy();
    await expect(s.answer).rejects.toThrow();
    expect(await producerState(sys, p)).toMatchObject({ pseq: 3, nextSeq: 4, ended: false, status: 'running' });
    // The producer resends from its own last known point (seq 3); the acknowledged line is skipped.
    const retry = streamPublish(sys.edges[1]!.url, p, 1, 3);
    retry.write('{"type":"delta","text":"three "}\n{"type":"delta","text":"four"}\n');
    retry.req.end('{"type":"done","finishReason":"stop"}');
    const answer = await retry.answer;
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body).toMatchObject({ pseq: 5, nextSeq: 6, lines: 3, skipped: 1, ended: true });
    const read = await reading;
    expect(read.events.map((e) => JSON.parse(e.data).text ?? e.event)).toEqual(['one ', 'two ', 'three ', 'four', 'done']);
    expect(read.events.map((e) => e.id)).toEqual(['1', '2', '3', '4', '5']);
  });

  it('streaming publish also takes an SSE body (event: type, data: fields)', async () => {
    const p = await createProducer(sys);
    const s = streamPublish(sys.edges[0]!.url, p, 1, 1, 'text/event-stream');
    s.write('event: delta\ndata: {"text":"hi"}\n\n: keep-alive\n\nevent: app.progress\ndata: {"pct":50}\n\n');
    s.req.end('event: done\ndata: {"finishReason":"stop"}\n\n');
    expect((await s.answer).body).toMatchObject({ pseq: 3, ended: true });
    const read = await readAll(sys, p);
    expect(read.events.map((e) => [e.event, e.data])).toEqual([['delta', '{"text":"hi"}'], ['app.progress', '{"pct":50}'], ['done', '{"finishReason":"stop"}']]);
  });

  it('cancel reaches the producer: its open stream is answered session_cancelled, its next batch too, and subscribers end', async () => {
    const p = await createProducer(sys);
    const s = streamPublish(sys.edges[0]!.url, p, 1, 1);
    s.write('{"type":"delta","text":"working"}\n');
    await waitFor(async () => (await producerState(sys, p)).pseq === 1, 'the first line acknowledged');
    // A subscriber cancels with its subscribe token, through the other edge.
    const c = await post(sys.edges[1]!.url, `/v1/sessions/${p.id}/cancel`, p.token, {});
    expect(c.status).toBe(202);
    expect(c.body).toMatchObject({ cancelled: true, status: 'cancelled' });
    const answer = await s.answer;
    expect(answer.status).toBe(409);
    expect(errorOf(answer.body)).toMatchObject({ code: 'session_cancelled', reason: 'client_request', pseq: 1 });
    const batch = await publish(sys, p, { epoch: 1, seq: 2, events: [{ type: 'delta', text: 'more' }] });
    expect(errorOf(batch.body)).toMatchObject({ code: 'session_cancelled' });
    const read = await readAll(sys, p, 1);
    expect(types(read.events)).toEqual(['delta', 'cancelled']);
  });

  it('processors opted into by name: redaction, stop sequence (ends the session), coalescing', async () => {
    const p = await createProducer(sys, { processors: [{ type: 'redact', builtins: ['email'] }, { type: 'stop', sequences: ['END'] }, 'coalesce'] });
    const r = await publish(sys, p, { epoch: 1, seq: 1, events: ['mail ', 'bob@example.com', ' now', ' E', 'ND and more'].map((text) => ({ type: 'delta', text })) });
    expect(r.body).toMatchObject({ ended: true, finishReason: 'stop', pseq: 5 });
    const read = await readAll(sys, p);
    const text = read.events.filter((e) => e.event === 'delta').map((e) => JSON.parse(e.data).text as string).join('');
    expect(text).toBe('mail [email] now ');
    expect(read.events.at(-1)).toMatchObject({ event: 'done', data: '{"finishReason":"stop"}' });
    // Coalescing merged the pieces: fewer stored deltas than were published.
    expect(read.events.filter((e) => e.event === 'delta').length).toBeLessThan(5);
    // The output cap counts across requests: the second batch is cut where the session reaches 10 characters.
    const capped = await createProducer(sys, { processors: [{ type: 'max-output', maxChars: 10 }] });
    expect((await publish(sys, capped, { epoch: 1, seq: 1, events: [{ type: 'delta', text: 'hello ' }] })).body).toMatchObject({ ended: false });
    expect((await publish(sys, capped, { epoch: 1, seq: 2, events: [{ type: 'delta', text: 'world wide' }, { type: 'delta', text: 'web' }] })).body).toMatchObject({ ended: true, finishReason: 'length' });
    const cut = await readAll(sys, capped);
    expect(cut.events.map((e) => e.data)).toEqual(['{"text":"hello "}', '{"text":"worl"}', '{"finishReason":"length"}']);
    const bad = await post(sys.edges[0]!.url, '/v1/sessions', sys.apiKey, { producer: true, processors: ['nope'] });
    expect(bad.status).toBe(400);
    expect(errorOf(bad.body)).toMatchObject({ code: 'invalid_processor' });
    const noOpts = await post(sys.edges[0]!.url, '/v1/sessions', sys.apiKey, { producer: true, processors: ['redact'] });
    expect(errorOf(noOpts.body).message).toMatch(/processors\[0\] \(redact\)/);
  });

  it('bad input: clear errors naming the event, nothing half-applied, tenants and tokens kept apart', async () => {
    const p = await createProducer(sys);
    const cases: [unknown[], number, string, RegExp][] = [
      [[{ type: 'delta', text: 'ok' }, { type: 'delta', text: 5 }], 400, 'invalid_event', /events\[1\]/],
      [[{ type: 'delta', text: 'ok' }, { type: 'evil\nid: 9', data: 1 }], 400, 'invalid_event', /events\[1\]: custom type/],
      [[{ type: 'reset', reason: 'x', attempt: 2 }], 400, 'invalid_event', /events\[0\]: type "reset" is reserved/],
      [[{ type: 'app.x' }], 400, 'invalid_event', /events\[0\]/],
      [[{ type: 'done', finishReason: 'stop' }, { type: 'delta', text: 'after' }], 400, 'invalid_event', /events\[0\]: a terminal event/],
      [[{ type: 'delta', text: 'ok' }, { type: 'delta', text: 'x'.repeat(2_000) }], 413, 'event_too_large', /events\[1\]/],
      [Array.from({ length: 51 }, () => ({ type: 'delta', text: 'x' })), 413, 'batch_too_large', /51 events/],
    ];
    for (const [events, status, code, message] of cases) {
      const r = await publish(sys, p, { epoch: 1, seq: 1, events });
      expect(r.status, JSON.stringify(r.body)).toBe(status);
      expect(errorOf(r.body).code).toBe(code);
      expect(errorOf(r.body).message).toMatch(message);
    }
    const huge = await publish(sys, p, { epoch: 1, seq: 1, events: [{ type: 'delta', text: 'x'.repeat(300_000) }] });
    expect(huge.status).toBe(413);
    expect(errorOf(huge.body).code).toBe('body_too_large');
    // Nothing of the refused batches was appended.
    expect(await producerState(sys, p)).toMatchObject({ pseq: 0, lastEventId: '0' });
    const foreign = await publish(sys, p, { epoch: 1, seq: 1, events: [] }, 0, other.key);
    expect(foreign.status).toBe(403);
    const p2 = await createProducer(sys);
    const crossed = await publish(sys, p, { epoch: 1, seq: 1, events: [] }, 0, p2.producer.token);
    expect(crossed.status).toBe(403);
    const subscriberToken = await publish(sys, p, { epoch: 1, seq: 1, events: [] }, 0, p.token);
    expect(subscriberToken.status).toBe(401);
    const generated = await sys.create({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 });
    const onGenerated = await post(sys.edges[0]!.url, `/v1/sessions/${generated.id}/publish`, sys.apiKey, { epoch: 1, seq: 1, events: [] });
    expect(errorOf(onGenerated.body).code).toBe('not_a_producer_session');
    const badStream = streamPublish(sys.edges[0]!.url, p, 1, 1);
    badStream.req.end('{"type":"delta","text":"fine"}\nnot json\n');
    const bs = await badStream.answer;
    expect(bs.status).toBe(400);
    expect(errorOf(bs.body)).toMatchObject({ code: 'invalid_event', pseq: 1 });
    expect(errorOf(bs.body).message).toMatch(/line 2/);
  });

  it('a streaming publish that goes quiet is answered stream_idle; its lines stay appended and the session open', async () => {
    const p = await createProducer(sys);
    const s = streamPublish(sys.edges[0]!.url, p, 1, 1);
    s.write('{"type":"delta","text":"only line"}\n');
    const answer = await s.answer;
    expect(answer.status).toBe(400);
    expect(errorOf(answer.body)).toMatchObject({ code: 'stream_idle', pseq: 1, nextSeq: 2 });
    expect(await producerState(sys, p)).toMatchObject({ pseq: 1, status: 'running', ended: false });
  });

  it('a subscriber resumes a published session from another edge with Last-Event-ID', async () => {
    const p = await createProducer(sys);
    await publish(sys, p, { epoch: 1, seq: 1, events: ['a', 'b', 'c', 'd'].map((text) => ({ type: 'delta', text })) });
    const part = await readSse(sys.edges[0]!.url, p.eventsUrl, { stopAfter: 2 });
    expect(part.events.map((e) => e.id)).toEqual(['1', '2']);
    const rest = readAll(sys, p, 1, '2');
    await publish(sys, p, { epoch: 1, seq: 5, events: [{ type: 'done', finishReason: 'stop' }] }, 1);
    const read = await rest;
    expect(read.events.map((e) => [e.id, e.data])).toEqual([['3', '{"text":"c"}'], ['4', '{"text":"d"}'], ['5', '{"finishReason":"stop"}']]);
  });
});

describe('publish limits shared by two edges', () => {
  let sys: TestSystem;
  beforeAll(async () => {
    sys = await startSystem({ edges: 2, env: { PUBLISH_EVENTS_PER_SECOND_PER_KEY: '1', PUBLISH_MAX_BATCH: '10' } });
  });
  afterAll(async () => {
    await sys?.close();
  });

  it('the per-key publish rate is one budget across edges: 429 with Retry-After, nothing appended', async () => {
    const p = await createProducer(sys);
    const ten = Array.from({ length: 10 }, (_, i) => ({ type: 'delta', text: String(i) }));
    expect((await publish(sys, p, { epoch: 1, seq: 1, events: ten }, 0)).status).toBe(200);
    const refused = await publish(sys, p, { epoch: 1, seq: 11, events: ten }, 1);
    expect(refused.status).toBe(429);
    expect(errorOf(refused.body).code).toBe('rate_limited');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await producerState(sys, p)).toMatchObject({ pseq: 10 });
  });
});
