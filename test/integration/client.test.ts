import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { storeFor, type SessionStore } from '@relaycast/store';
import { RelaycastClient, RelaycastHttpError, type SubscriptionState } from '../../packages/client/src/index.js';
import { tokensFor } from '../../services/mock-model/src/index.js';
import { waitFor } from '../helpers/redis-cluster.js';
import { mintToken } from '../helpers/auth.js';
import { readSse } from '../helpers/sse.js';
import { startSystem, type TestSystem } from '../helpers/system.js';

interface Recorded {
  method: string;
  url: string;
  lastEventId: string | null;
  auth: string | null;
  /** The answer's status once it arrived (0 until then, or when there was none). */
  status: number;
}

/** A fetch that records every request (URL, Last-Event-ID, Authorization, status), handed to the client and its EventSource. */
function recordingFetch() {
  const log: Recorded[] = [];
  const fetchFn = async (input: string | URL | Request, init?: RequestInit) => {
    const headers = new Headers(init?.headers);
    const entry: Recorded = { method: init?.method ?? 'GET', url: String(input), lastEventId: headers.get('last-event-id'), auth: headers.get('authorization'), status: 0 };
    log.push(entry);
    const res = await fetch(input, init);
    entry.status = res.status;
    return res;
  };
  return { log, fetch: fetchFn, events: () => log.filter((r) => new URL(r.url).pathname.endsWith('/events')) };
}

const tokenOf = (r: Recorded) => new URL(r.url).searchParams.get('token');
const consecutive = (ids: number[]) => ids.map((_, i) => i + 1);

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
    const rc = new RelaycastClient({ baseUrl: base, apiKey: sys.apiKey, fetch: rec.fetch });
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
    // The stream is the create answer's eventsUrl, carrying its token; the key is never sent to it.
    expect(tokenOf(rec.events()[0]!)).toBe(session.token);
    expect(rec.events()[0]!.auth).toBeNull();
  });

  it('closes on the terminal event: no further request to the stream while another whole session runs', async () => {
    const rec = recordingFetch();
    const rc = new RelaycastClient({ baseUrl: base, apiKey: sys.apiKey, fetch: rec.fetch });
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
    // A viewer: the session's token only (the probe sends it to the status endpoint).
    const rc = new RelaycastClient({ baseUrl: base, fetch: rec.fetch });
    const sub = rc.subscribe(s, { lastEventId: full.events.at(-1)!.id!, reopenBaseMs: 10 });
    const r = await sub.result;
    expect(r).toMatchObject({ status: 'done', finishReason: 'length', text: tokensFor('join at the end', 1, 8).join('') });
    expect(rec.events()).toHaveLength(1);
    expect(rec.events()[0]!.status).toBe(204);
    const probes = rec.log.filter((l) => l.url.endsWith(`/v1/sessions/${s.id}`));
    expect(probes).toHaveLength(1);
    expect(probes[0]).toMatchObject({ auth: `Bearer ${s.token}`, status: 200 });
  });

  it('follows a session from a share link ({id, token}) without an API key, from the start', async () => {
    const s = await sys.create(ask('by id', 20, { intervalMs: 5 }));
    const rec = recordingFetch();
    const rc = new RelaycastClient({ baseUrl: base, fetch: rec.fetch });
    const r = await rc.subscribe({ id: s.id, token: s.token }).result;
    expect(r.text).toBe(tokensFor('by id', 1, 20).join(''));
    expect(rec.events().map((e) => [tokenOf(e), e.status])).toEqual([[s.token, 200]]);
  });

  it('given only the id, a client holding the API key mints a token first: one mint, one stream, nothing refused', async () => {
    const s = await sys.create(ask('by id with a key', 20, { intervalMs: 5 }));
    const rec = recordingFetch();
    const rc = new RelaycastClient({ baseUrl: base, apiKey: sys.apiKey, fetch: rec.fetch });
    const sub = rc.subscribe({ id: s.id });
    const r = await sub.result;
    expect(r.text).toBe(tokensFor('by id with a key', 1, 20).join(''));
    expect(rec.log.map((l) => [l.method, new URL(l.url).pathname, l.status])).toEqual([
      ['POST', `/v1/sessions/${s.id}/token`, 200],
      ['GET', `/v1/sessions/${s.id}/events`, 200],
    ]);
    expect(rec.log[0]!.auth).toBe(`Bearer ${sys.apiKey}`);
    expect(tokenOf(rec.events()[0]!)).toBe(sub.token);
    expect(sub.token).toMatch(/^rt1\./);
    expect(sub.tokenExpiresAt).toBeGreaterThan(Date.now());
  });

  it('given only the id and no credential: unauthorized after one refused stream and one probe, no loop', async () => {
    const s = await sys.create(ask('by id, no credential', 20, { intervalMs: 5 }));
    const rec = recordingFetch();
    const rc = new RelaycastClient({ baseUrl: base, fetch: rec.fetch });
    const r = await rc.subscribe({ id: s.id }, { reopenBaseMs: 10 }).result;
    expect(r.status).toBe('error');
    expect(r.error).toMatchObject({ code: 'unauthorized', source: 'client', retryable: false });
    expect(r.error!.message).toMatch(/token/);
    expect(rec.log.map((l) => [l.method, new URL(l.url).pathname, l.status])).toEqual([
      ['GET', `/v1/sessions/${s.id}/events`, 401],
      ['GET', `/v1/sessions/${s.id}`, 401],
    ]);
  });

  it('the edge cuts every connection mid-stream: the EventSource resumes with Last-Event-ID, exact text, no duplicate', async () => {
    const rec = recordingFetch();
    const rc = new RelaycastClient({ baseUrl: base, apiKey: sys.apiKey, fetch: rec.fetch });
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
    const rc = new RelaycastClient({ baseUrl: base, apiKey: sys.apiKey, fetch: rec.fetch });
    const { subscription: sub } = await rc.ask(ask('drop it', 120, { intervalMs: 10 }));
    await waitFor(async () => sub.text.length > 0 && Number(sub.lastEventId) >= 10, 10_000, '10 events');
    sub.reconnect();
    const r = await sub.result;
    expect(r.text).toBe(tokensFor('drop it', 1, 120).join(''));
    expect(sub.duplicates).toBe(0);
    const reopened = new URL(rec.events()[1]!.url);
    expect(Number(reopened.searchParams.get('lastEventId'))).toBeGreaterThanOrEqual(10);
    expect(reopened.searchParams.get('token')).toBe(sub.token);
  });

  it('reset clears the answer: a new attempt restarts it and the result is the new attempt\'s text only', async () => {
    const rc = new RelaycastClient({ baseUrl: base, apiKey: sys.apiKey });
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
    const rc = new RelaycastClient({ baseUrl: base, apiKey: sys.apiKey });
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
    const id = 'AAAAAAAAAAAAAAAAAAAAAA';
    const rec = recordingFetch();
    const rc = new RelaycastClient({ baseUrl: base, fetch: rec.fetch });
    // A validly signed token for a session that does not exist: the edge answers 404, not 401.
    const r = await rc.subscribe({ id, token: mintToken(id) }, { reopenBaseMs: 10 }).result;
    expect(r.status).toBe('error');
    expect(r.error).toMatchObject({ code: 'session_not_found', source: 'client', retryable: false });
    expect(rec.events()).toHaveLength(1);
    // With an API key and no token, the mint itself is refused: no stream is opened at all.
    const keyed = recordingFetch();
    const r2 = await new RelaycastClient({ baseUrl: base, apiKey: sys.apiKey, fetch: keyed.fetch }).subscribe({ id }, { reopenBaseMs: 10 }).result;
    expect(r2.error).toMatchObject({ code: 'session_not_found', source: 'client', retryable: false });
    expect(keyed.log.map((l) => [new URL(l.url).pathname, l.status])).toEqual([[`/v1/sessions/${id}/token`, 404]]);
  });

  it('HTTP errors are typed: a bad request throws RelaycastHttpError with the server\'s code; no key is a 401; models() lists the key\'s models', async () => {
    const rc = new RelaycastClient({ baseUrl: base, apiKey: sys.apiKey });
    const err = await rc.createSession({ messages: [] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RelaycastHttpError);
    expect(err).toMatchObject({ status: 400, code: 'invalid_request' });
    expect((await rc.models())?.map((m) => m.id)).toEqual(['mock', 'mock-responses', 'mock-anthropic', 'mock-ollama', 'mock-sse']);
    for (const apiKey of [undefined, 'rk_not_a_configured_key']) {
      const anon = new RelaycastClient({ baseUrl: base, ...(apiKey ? { apiKey } : {}) });
      for (const refused of [await anon.createSession(ask('no key', 5)).catch((e: unknown) => e), await anon.models().catch((e: unknown) => e)]) {
        expect(refused).toBeInstanceOf(RelaycastHttpError);
        expect(refused).toMatchObject({ status: 401, code: 'unauthorized' });
      }
    }
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
    const rc = new RelaycastClient({ baseUrl: base, apiKey: sys.apiKey, fetch: rec.fetch });
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
    expect((await fetch(base + hog.cancelUrl, { method: 'POST', headers: sys.auth })).status).toBe(202);
    await held;
    const r = await sub.result;
    expect(r.status).toBe('done');
    expect(r.text).toBe(tokensFor('wait for room', 1, 30).join(''));
  });
});

describe('client with tokens against the real edge (docs/security.md)', () => {
  let sys: TestSystem;
  let base: string;
  beforeAll(async () => {
    sys = await startSystem({ env: { SSE_RETRY_MS: '50', COALESCE_MS: '0' } });
    base = sys.edges[0]!.url;
  });
  afterAll(() => sys?.close());

  it('sends the API key on create, uses the eventsUrl with ?token=, the token on status and cancel', async () => {
    const rec = recordingFetch();
    const rc = new RelaycastClient({ baseUrl: base, apiKey: sys.apiKey, fetch: rec.fetch });
    const before = Date.now();
    const { session, subscription } = await rc.ask(ask('with a token', 10));
    expect(session).toMatchObject({
      model: 'mock',
      token: expect.stringMatching(/^rt1\.[\w-]+\.[\w-]+$/),
      eventsUrl: `/v1/sessions/${session.id}/events?token=${session.token}`,
      statusUrl: `/v1/sessions/${session.id}`,
      cancelUrl: `/v1/sessions/${session.id}/cancel`,
      tokenUrl: `/v1/sessions/${session.id}/token`,
    });
    expect(session.tokenExpiresAt).toBeGreaterThanOrEqual(before + sys.cfg.TOKEN_TTL_SECONDS * 1000);
    expect(session.tokenExpiresAt).toBeLessThanOrEqual(Date.now() + sys.cfg.TOKEN_TTL_SECONDS * 1000);
    expect((await subscription.result).status).toBe('done');
    expect(rec.log[0]).toMatchObject({ method: 'POST', auth: `Bearer ${sys.apiKey}`, status: 201 });
    expect(tokenOf(rec.events()[0]!)).toBe(session.token);

    // A viewer holding only the token: status and cancel send it as Bearer.
    const viewer = new RelaycastClient({ baseUrl: base, fetch: rec.fetch });
    expect((await viewer.status({ id: session.id, token: session.token })).status).toBe('done');
    expect(rec.log.at(-1)).toMatchObject({ auth: `Bearer ${session.token}`, status: 200 });
    const running = await rc.createSession(ask('cancel with the token', 2000, { intervalMs: 10 }));
    expect((await viewer.cancel({ id: running.id, token: running.token })).cancelled).toBe(true);
    expect(rec.log.at(-1)).toMatchObject({ method: 'POST', url: `${base}/v1/sessions/${running.id}/cancel`, auth: `Bearer ${running.token}`, status: 202 });
    expect((await viewer.subscribe(running).result).status).toBe('cancelled');
    // Without the token, a viewer proves nothing: 401, and another session's token is a 403.
    await expect(new RelaycastClient({ baseUrl: base }).status({ id: session.id })).rejects.toMatchObject({ status: 401, code: 'unauthorized' });
    await expect(viewer.status({ id: session.id, token: running.token })).rejects.toMatchObject({ status: 403, code: 'forbidden' });
  });

  it('a token expiring mid-stream: the edge ends the stream, the reconnect gets 401, the client mints a fresh token with its key and resumes with lastEventId, no gap, no duplicate', async () => {
    const rec = recordingFetch();
    const rc = new RelaycastClient({ baseUrl: base, apiKey: sys.apiKey, fetch: rec.fetch });
    const prompt = 'expire me';
    const session = await rc.createSession(ask(prompt, 300, { intervalMs: 20 }));
    await waitFor(async () => Number((await rc.status(session)).lastEventId) >= 5, 10_000, 'the generation to start');
    // A token as the edge mints it, living 2 s: it expires while the 6 s generation is still streaming.
    const short = mintToken(session.id, 'test', 2_000);
    const expiriesBefore = sys.edges[0]!.stats.tokenExpiries;
    const since = rec.log.length;
    const sub = rc.subscribe({ id: session.id, token: short });
    const ids: number[] = [];
    sub.on('event', (e) => ids.push(Number(e.id)));
    const notices: string[] = [];
    sub.on('connection', (c) => notices.push(c.kind));
    const r = await sub.result;

    expect(r.status).toBe('done');
    expect(r.text).toBe(tokensFor(prompt, 1, 300).join(''));
    expect(ids).toEqual(consecutive(ids));
    expect(sub.duplicates).toBe(0);
    expect(sys.edges[0]!.stats.tokenExpiries).toBe(expiriesBefore + 1);
    expect(notices).toEqual(['open', 'lost', 'reopening', 'token_refreshed', 'open']);
    expect(sub.token).toMatch(/^rt1\./);
    expect(sub.token).not.toBe(short);

    const log = rec.log.slice(since).map((l) => ({ ...l, path: new URL(l.url).pathname, token: tokenOf(l), cursor: new URL(l.url).searchParams.get('lastEventId') }));
    expect(log.map((l) => [l.method, l.path, l.status])).toEqual([
      ['GET', `/v1/sessions/${session.id}/events`, 200], // the stream the edge ended at the expiry
      ['GET', `/v1/sessions/${session.id}/events`, 401], // the EventSource's own reconnect, same token
      ['GET', `/v1/sessions/${session.id}`, 401], // the probe: why?
      ['POST', `/v1/sessions/${session.id}/token`, 200], // a fresh token, with the API key
      ['GET', `/v1/sessions/${session.id}/events`, 200], // resumed where it stopped
    ]);
    const [first, refused, probe, mint, resumed] = log as [typeof log[0], typeof log[0], typeof log[0], typeof log[0], typeof log[0]];
    expect([first.token, refused.token]).toEqual([short, short]);
    expect(first.lastEventId).toBeNull();
    expect(probe.auth).toBe(`Bearer ${short}`);
    expect(mint.auth).toBe(`Bearer ${sys.apiKey}`);
    expect(resumed.token).toBe(sub.token);
    // Mid-stream: the refused reconnect carried a cursor, and the fresh stream resumed from exactly it.
    expect(Number(refused.lastEventId)).toBeGreaterThan(0);
    expect(Number(refused.lastEventId)).toBeLessThan(ids.at(-1)!);
    expect(resumed.cursor).toBe(refused.lastEventId);
  });

  it('a viewer without an API key reports the expired token and stops: no mint, no reconnect loop', async () => {
    const ownerLog = recordingFetch();
    const owner = new RelaycastClient({ baseUrl: base, apiKey: sys.apiKey, fetch: ownerLog.fetch });
    const session = await owner.createSession(ask('viewer expiry', 1000, { intervalMs: 10 }));
    await waitFor(async () => Number((await owner.status(session)).lastEventId) >= 5, 10_000, 'the generation to start');
    const short = mintToken(session.id, 'test', 1_500);
    const rec = recordingFetch();
    const viewer = new RelaycastClient({ baseUrl: base, fetch: rec.fetch });
    const sub = viewer.subscribe({ id: session.id, token: short }, { reopenBaseMs: 10 });
    const r = await sub.result;
    expect(r.status).toBe('error');
    expect(r.error).toMatchObject({ code: 'unauthorized', source: 'client', retryable: false });
    expect(r.error!.message).toMatch(/token was refused \(token expired/);
    expect(Number(r.lastEventId)).toBeGreaterThan(0);
    const requests = () => rec.log.map((l) => [l.method, new URL(l.url).pathname, l.status]);
    const expected = [
      ['GET', `/v1/sessions/${session.id}/events`, 200],
      ['GET', `/v1/sessions/${session.id}/events`, 401],
      ['GET', `/v1/sessions/${session.id}`, 401],
    ];
    expect(requests()).toEqual(expected);

    // The owner still holds the API key: cancel falls back to it when the token it was given has expired.
    const since = ownerLog.log.length;
    expect((await owner.cancel({ ...session, token: short })).cancelled).toBe(true);
    expect(ownerLog.log.slice(since).map((l) => [l.auth, l.status])).toEqual([
      [`Bearer ${short}`, 401],
      [`Bearer ${sys.apiKey}`, 202],
    ]);
    await waitFor(async () => (await owner.status(session)).status === 'cancelled', 10_000, 'the session to end');
    // The session went on, and ended, after the viewer gave up: the viewer asked nothing more meanwhile.
    expect(requests()).toEqual(expected);
    expect(sub.state).toBe('error');
  });
});

describe('client with 2-second tokens (TOKEN_TTL_SECONDS=2): a session that outlives several tokens', () => {
  let sys: TestSystem;
  beforeAll(async () => {
    sys = await startSystem({ env: { SSE_RETRY_MS: '50', COALESCE_MS: '0', TOKEN_TTL_SECONDS: '2' } });
  });
  afterAll(() => sys?.close());

  it('the edge ends the stream at each token\'s expiry; the client mints a fresh one each time and resumes exactly where it stopped', async () => {
    const base = sys.edges[0]!.url;
    const rec = recordingFetch();
    const rc = new RelaycastClient({ baseUrl: base, apiKey: sys.apiKey, fetch: rec.fetch });
    const prompt = 'outlive the tokens';
    const before = Date.now();
    // 400 tokens 20 ms apart: at least 8 s of streaming, so the first two tokens expire while it runs.
    const { session, subscription: sub } = await rc.ask(ask(prompt, 400, { intervalMs: 20 }));
    expect(session.tokenExpiresAt).toBeGreaterThanOrEqual(before + 2_000);
    expect(session.tokenExpiresAt).toBeLessThanOrEqual(Date.now() + 2_000);
    const ids: number[] = [];
    sub.on('event', (e) => ids.push(Number(e.id)));
    const tokens = [session.token];
    sub.on('connection', (c) => {
      if (c.kind === 'token_refreshed') {
        tokens.push(sub.token!);
        expect(c.tokenExpiresAt).toBe(sub.tokenExpiresAt);
      }
    });
    const r = await sub.result;

    expect(r.status).toBe('done');
    expect(r.text).toBe(tokensFor(prompt, 1, 400).join(''));
    expect(ids).toEqual(consecutive(ids));
    expect(sub.duplicates).toBe(0);
    expect(tokens.length).toBeGreaterThanOrEqual(3);
    expect(new Set(tokens).size).toBe(tokens.length);
    expect(sys.edges[0]!.stats.tokenExpiries).toBeGreaterThanOrEqual(2);

    // Every stream but the last was ended by its token's expiry: each refused reconnect (401) is followed by
    // one mint and a stream with the new token that resumes from the refused request's Last-Event-ID.
    const events = rec.events();
    const refused = events.filter((e) => e.status === 401);
    expect(refused.length).toBe(tokens.length - 1);
    for (const no of refused) {
      const next = events[events.indexOf(no) + 1]!;
      expect(next.status).toBe(200);
      expect(tokenOf(next)).toBe(tokens[tokens.indexOf(tokenOf(no)!) + 1]);
      expect(new URL(next.url).searchParams.get('lastEventId')).toBe(no.lastEventId);
    }
    expect(rec.log.filter((l) => l.method === 'POST' && l.url.endsWith('/token')).map((l) => [l.auth, l.status])).toEqual(refused.map(() => [`Bearer ${sys.apiKey}`, 200]));
    expect(events.filter((e) => e.status !== 401).map(tokenOf)).toEqual(tokens);
  });
});
