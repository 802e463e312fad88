import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { storeFor, type SessionStore } from '@relaycast/shared';
import { RelaycastClient, RelaycastHttpError, type SubscriptionState } from '../../packages/client/src/index.js';
import { tokensFor } from '../../services/mock-model/src/index.js';
import { waitFor } from '../helpers/redis-cluster.js';
import { readSse } from '../helpers/sse.js';
import { startSystem, type TestSystem } from '../helpers/system.js';
import { startTokenGate, type TokenGate } from '../helpers/token-gate.js';

/** A fetch that records every request (URL and Last-Event-ID), handed to the client and its EventSource. */
function recordingFetch() {
  const log: { url: string; lastEventId: string | null; auth: string | null }[] = [];
  const fetchFn = (input: string | URL | Request, init?: RequestInit) => {
    const headers = new Headers(init?.headers);
    log.push({ url: String(input), lastEventId: headers.get('last-event-id'), auth: headers.get('authorization') });
    return fetch(input, init);
  };
  return { log, fetch: fetchFn, events: () => log.filter((r) => r.url.includes('/events')) };
}

const ask = (prompt: string, n: number, mock: Record<string, unknown> = {}) => ({ messages: [{ role: 'user' as const, content: prompt }], max_tokens: n, seed: 1, mock });

describe('client library against a real system', () => {
  let sys: TestSystem;
  let redis: Redis;
  let store: SessionStore;
  let base: string;
  beforeAll(async () => {
    sys = await startSystem({ env: { SSE_RETRY_MS: '50', COALESCE_MS: '0' } });
    base = sys.edges[0]!.url;
    redis = new Redis(sys.redis.url);
    store = storeFor(sys.cfg, redis);
  });
  afterAll(async () => {
    redis?.disconnect();
    await sys?.close();
  });

  it('creates a session and streams it: connecting → live → done, text equals the model output and the status text', async () => {
    const rec = recordingFetch();
    const rc = new RelaycastClient({ baseUrl: base, fetch: rec.fetch });
    const { session, subscription: sub } = await rc.ask(ask('client basics', 40, { intervalMs: 5 }));
    const states: SubscriptionState[] = [sub.state];
    sub.on('state', (s) => states.push(s.state));
    let deltas = '';
    sub.on('delta', (e) => (deltas += e.text));
    const r = await sub.result;
    expect(r.status).toBe('done');
    expect(r.finishReason).toBe('length');
    expect(r.usage?.outputTokens).toBe(40);
    expect(r.text).toBe(tokensFor('client basics', 1, 40).join(''));
    expect(deltas).toBe(r.text);
    expect(states).toEqual(['connecting', 'live', 'done']);
    expect((await rc.status(session)).text).toBe(r.text);
    expect(sub.duplicates).toBe(0);
    expect(rec.events()).toHaveLength(1);
  });

  it('closes on the terminal event: no further request to the stream while another whole session runs', async () => {
    const rec = recordingFetch();
    const rc = new RelaycastClient({ baseUrl: base, fetch: rec.fetch });
    const first = (await rc.ask(ask('no reconnect after done', 5))).subscription;
    expect((await first.result).status).toBe('done');
    // Many retry intervals (SSE_RETRY_MS=50) pass while a second session streams to its end.
    const second = (await rc.ask(ask('time passes', 60, { intervalMs: 10 }))).subscription;
    expect((await second.result).status).toBe('done');
    expect(rec.events().filter((r) => r.url.includes(first.id))).toHaveLength(1);
    expect(first.state).toBe('done');
  });

  it('the 204 path: joining at the terminal event ends with the outcome from the status endpoint, no reconnect loop', async () => {
    const s = await sys.create(ask('join at the end', 8));
    const full = await readSse(base, s.eventsUrl);
    const rec = recordingFetch();
    const rc = new RelaycastClient({ baseUrl: base, fetch: rec.fetch });
    const sub = rc.subscribe(s, { lastEventId: full.events.at(-1)!.id!, reopenBaseMs: 10 });
    const r = await sub.result;
    expect(r).toMatchObject({ status: 'done', finishReason: 'length', text: tokensFor('join at the end', 1, 8).join('') });
    expect(rec.events()).toHaveLength(1);
    expect(rec.log.filter((l) => l.url.endsWith(`/v1/sessions/${s.id}`))).toHaveLength(1);
  });

  it('follows a session by id alone (a share link), from the start', async () => {
    const s = await sys.create(ask('by id', 20, { intervalMs: 5 }));
    const rc = new RelaycastClient({ baseUrl: base });
    const r = await rc.subscribe({ id: s.id }).result;
    expect(r.text).toBe(tokensFor('by id', 1, 20).join(''));
  });

  it('the edge cuts every connection mid-stream: the EventSource resumes with Last-Event-ID, exact text, no duplicate', async () => {
    const rec = recordingFetch();
    const rc = new RelaycastClient({ baseUrl: base, fetch: rec.fetch });
    const { subscription: sub } = await rc.ask(ask('cut me', 150, { intervalMs: 10 }));
    const ids: number[] = [];
    sub.on('event', (e) => ids.push(Number(e.id)));
    const states: SubscriptionState[] = [];
    sub.on('state', (s) => states.push(s.state));
    await waitFor(async () => ids.length >= 20, 10_000, '20 events');
    sys.edges[0]!.server.closeAllConnections();
    const r = await sub.result;
    expect(r.status).toBe('done');
    expect(r.text).toBe(tokensFor('cut me', 1, 150).join(''));
    expect(ids).toEqual(ids.map((_, i) => i + 1));
    expect(sub.duplicates).toBe(0);
    expect(states).toContain('resuming');
    const resumed = rec.events().slice(1);
    expect(resumed.length).toBeGreaterThanOrEqual(1);
    expect(Number(resumed[0]!.lastEventId)).toBeGreaterThanOrEqual(20);
  });

  it('reconnect() (the page\'s "drop connection") reopens with ?lastEventId= and loses nothing', async () => {
    const rec = recordingFetch();
    const rc = new RelaycastClient({ baseUrl: base, fetch: rec.fetch });
    const { subscription: sub } = await rc.ask(ask('drop it', 120, { intervalMs: 10 }));
    await waitFor(async () => sub.text.length > 0 && Number(sub.lastEventId) >= 10, 10_000, '10 events');
    sub.reconnect();
    const r = await sub.result;
    expect(r.text).toBe(tokensFor('drop it', 1, 120).join(''));
    expect(sub.duplicates).toBe(0);
    const reopened = new URL(rec.events()[1]!.url);
    expect(Number(reopened.searchParams.get('lastEventId'))).toBeGreaterThanOrEqual(10);
  });

  it('reset clears the answer: a new attempt restarts it and the result is the new attempt\'s text only', async () => {
    const rc = new RelaycastClient({ baseUrl: base });
    const { session, subscription: sub } = await rc.ask(ask('to be replaced', 400, { intervalMs: 20 }));
    let sawReset = false;
    let textAtReset = 'not seen';
    sub.on('reset', (e) => {
      sawReset = e.attempt === 2;
      textAtReset = sub.text;
    });
    await waitFor(async () => sub.text.length > 0, 10_000, 'the first attempt\'s text');
    // Take the session over as attempt 2 (the running generation is fenced off), as a retried job does.
    const b = await store.begin(session.id);
    await store.append(session.id, b.attempt, b.seq + 1, [{ type: 'reset', reason: 'retry', attempt: b.attempt }, { type: 'delta', text: 'second attempt' }, { type: 'done', finishReason: 'stop' }]);
    const r = await sub.result;
    expect(sawReset).toBe(true);
    expect(textAtReset).toBe('');
    expect(r.text).toBe('second attempt');
    expect((await rc.status(session)).text).toBe('second attempt');
  });

  it('a gap (entries trimmed) is reported in-band and in the result', async () => {
    const s = await sys.create(ask('gappy', 12, { intervalMs: 10 }));
    const full = await readSse(base, s.eventsUrl);
    await redis.xtrim(store.keys.session(s.id).stream, 'MINID', '5-0');
    const rc = new RelaycastClient({ baseUrl: base });
    const sub = rc.subscribe(s, { lastEventId: '1' });
    const gaps: unknown[] = [];
    sub.on('gap', (e) => gaps.push({ requested: e.requested, resumedFrom: e.resumedFrom }));
    const r = await sub.result;
    expect(gaps).toEqual([{ requested: '1', resumedFrom: '5' }]);
    expect(r.gaps).toEqual(gaps);
    expect(r.lastEventId).toBe(full.events.at(-1)!.id);
  });

  it('error and cancelled end the result with their status; cancel() stops a running session', async () => {
    const rc = new RelaycastClient({ baseUrl: base });
    const failed = await (await rc.ask(ask('fail', 20, { fault: 'error:3' }))).subscription.result;
    expect(failed.status).toBe('error');
    expect(failed.error).toMatchObject({ source: 'server', code: expect.any(String) });
    const { session, subscription } = await rc.ask(ask('cancel me', 1000, { intervalMs: 20 }));
    await waitFor(async () => subscription.text.length > 0, 10_000, 'text');
    expect((await rc.cancel(session)).cancelled).toBe(true);
    const r = await subscription.result;
    expect(r).toMatchObject({ status: 'cancelled', cancelReason: 'client_request' });
  });

  it('an unknown session fails with session_not_found after one probe, without looping', async () => {
    const rec = recordingFetch();
    const rc = new RelaycastClient({ baseUrl: base, fetch: rec.fetch });
    const r = await rc.subscribe({ id: 'AAAAAAAAAAAAAAAAAAAAAA' }, { reopenBaseMs: 10 }).result;
    expect(r.status).toBe('error');
    expect(r.error).toMatchObject({ code: 'session_not_found', source: 'client', retryable: false });
    expect(rec.events()).toHaveLength(1);
  });

  it('HTTP errors are typed: a bad request throws RelaycastHttpError with the server\'s code', async () => {
    const rc = new RelaycastClient({ baseUrl: base });
    const err = await rc.createSession({ messages: [] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RelaycastHttpError);
    expect(err).toMatchObject({ status: 400, code: 'invalid_request' });
    expect(await rc.models()).toBeUndefined();
  });
});

describe('client: a stream the edge refuses (503) is reopened after a bounded backoff, a bounded number of times', () => {
  let sys: TestSystem;
  beforeAll(async () => {
    sys = await startSystem({ env: { MAX_CONNECTIONS: '1', COALESCE_MS: '0' } });
  });
  afterAll(() => sys?.close());

  it('reopens until a slot frees, then finishes exactly; gives up after maxReopens when none does', async () => {
    const base = sys.edges[0]!.url;
    const hog = await sys.create(ask('hog', 2000, { intervalMs: 10 }));
    const held = readSse(base, hog.eventsUrl, { timeoutMs: 60_000, stopAfter: 1_000_000 }).catch(() => undefined);
    await waitFor(async () => sys.edges[0]!.stats.openConnections === 1, 5_000, 'the hog to hold the only slot');

    const rec = recordingFetch();
    const rc = new RelaycastClient({ baseUrl: base, fetch: rec.fetch });
    const gaveUp = await rc.subscribe(await sys.create(ask('no room', 5)), { maxReopens: 2, reopenBaseMs: 10 }).result;
    expect(gaveUp.status).toBe('error');
    expect(gaveUp.error).toMatchObject({ code: 'connection_failed', source: 'client' });
    expect(rec.events()).toHaveLength(3);

    const s = await sys.create(ask('wait for room', 30));
    const sub = rc.subscribe(s, { maxReopens: 20, reopenBaseMs: 20 });
    const notices: string[] = [];
    sub.on('connection', (c) => notices.push(c.kind));
    await waitFor(async () => notices.includes('reopening'), 5_000, 'a refused first connection');
    // Free the slot: cancel the hog; its stream ends with `cancelled` and the edge closes it.
    await fetch(base + hog.cancelUrl, { method: 'POST' });
    await held;
    const r = await sub.result;
    expect(r.status).toBe('done');
    expect(r.text).toBe(tokensFor('wait for room', 1, 30).join(''));
  });
});

describe('client with tokens (CONTRACT.md security flow, through a token-checking proxy)', () => {
  let sys: TestSystem;
  let gate: TokenGate;
  beforeAll(async () => {
    sys = await startSystem({ env: { SSE_RETRY_MS: '50', COALESCE_MS: '0' } });
    gate = await startTokenGate(sys.edges[0]!.url);
  });
  afterAll(async () => {
    await gate?.close();
    await sys?.close();
  });

  it('sends the API key on create, uses the eventsUrl with ?token=, the token on status and cancel', async () => {
    const rec = recordingFetch();
    const rc = new RelaycastClient({ baseUrl: gate.url, apiKey: gate.apiKey, fetch: rec.fetch });
    const { session, subscription } = await rc.ask(ask('with a token', 10));
    expect(session.token).toMatch(/^rt1\./);
    expect((await subscription.result).status).toBe('done');
    expect(rec.log[0]!.auth).toBe(`Bearer ${gate.apiKey}`);
    expect(new URL(rec.events()[0]!.url).searchParams.get('token')).toBe(session.token);
    const viewer = new RelaycastClient({ baseUrl: gate.url, fetch: rec.fetch });
    expect((await viewer.status({ id: session.id, token: session.token! })).status).toBe('done');
    expect(rec.log.at(-1)!.auth).toBe(`Bearer ${session.token}`);
  });

  it('a token expiring mid-stream: 401 on reconnect, the client mints a fresh token and resumes with lastEventId', async () => {
    const rec = recordingFetch();
    const rc = new RelaycastClient({ baseUrl: gate.url, apiKey: gate.apiKey, fetch: rec.fetch });
    const { session, subscription: sub } = await rc.ask(ask('expire me', 150, { intervalMs: 10 }));
    const notices: string[] = [];
    sub.on('connection', (c) => notices.push(c.kind));
    await waitFor(async () => Number(sub.lastEventId) >= 20, 10_000, '20 events');
    gate.expire(session.token!);
    const r = await sub.result;
    expect(r.status).toBe('done');
    expect(r.text).toBe(tokensFor('expire me', 1, 150).join(''));
    expect(sub.duplicates).toBe(0);
    expect(notices).toContain('token_refreshed');
    expect(sub.token).not.toBe(session.token);
    expect(gate.requests.some((q) => q.path === `/v1/sessions/${session.id}/token` && q.status === 200)).toBe(true);
    const reopened = rec.events().map((e) => new URL(e.url)).find((u) => u.searchParams.get('token') === sub.token)!;
    expect(Number(reopened.searchParams.get('lastEventId'))).toBeGreaterThanOrEqual(20);
  });

  it('a viewer without an API key reports the expired token instead of looping', async () => {
    const owner = new RelaycastClient({ baseUrl: gate.url, apiKey: gate.apiKey });
    const session = await owner.createSession(ask('viewer expiry', 300, { intervalMs: 10 }));
    const rec = recordingFetch();
    const viewer = new RelaycastClient({ baseUrl: gate.url, fetch: rec.fetch });
    const sub = viewer.subscribe({ id: session.id, token: session.token! }, { reopenBaseMs: 10 });
    await waitFor(async () => Number(sub.lastEventId) >= 5, 10_000, '5 events');
    gate.expire(session.token!);
    const r = await sub.result;
    expect(r.status).toBe('error');
    expect(r.error).toMatchObject({ code: 'unauthorized', source: 'client' });
    expect(rec.events()).toHaveLength(2);
    // The owner still holds the API key: cancel falls back to it when the session's token has expired.
    expect((await owner.cancel(session)).cancelled).toBe(true);
  });
});
