import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '@relaycast/shared';
import { loadIngestConfig } from '../../services/ingest/src/config.js';
import { startMockModel, type MockModel } from '../../services/mock-model/src/index.js';
import { readSse } from '../helpers/sse.js';
import { startSystem, type TestSystem } from '../helpers/system.js';

/**
 * Upstream safety: routes live in server config only, so no request can make Relaycast call an address it
 * chose (no SSRF) or see a provider's API key, even when the provider quotes the key back in an error.
 */

const PROVIDER_KEY = 'sk-provider-secret-0123456789';
let sys: TestSystem;
let mock: MockModel;
let provider: Server;
const seenByProvider: IncomingHttpHeaders[] = [];
const logLines: string[] = [];

beforeAll(async () => {
  mock = await startMockModel({ port: 0 });
  // A provider that refuses the key, quoting it back, as some real ones do in their 401 bodies.
  provider = createServer((req, res) => {
    seenByProvider.push(req.headers);
    req.resume();
    req.on('end', () => {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `Incorrect API key provided: ${req.headers.authorization?.replace('Bearer ', '')}`, type: 'invalid_request_error' } }));
    });
  });
  await new Promise<void>((r) => provider.listen(0, '127.0.0.1', r));
  process.env.RC_TEST_PROVIDER_KEY = PROVIDER_KEY;
  const routes = {
    mock: { provider: 'openai', baseUrl: mock.url, model: 'mock-1', allowMock: true },
    strict: { provider: 'openai', baseUrl: mock.url, model: 'mock-1' },
    keyed: { provider: 'openai', baseUrl: `http://127.0.0.1:${(provider.address() as AddressInfo).port}`, model: 'real-1', apiKeyEnv: 'RC_TEST_PROVIDER_KEY' },
  };
  sys = await startSystem({ env: { ROUTES_JSON: JSON.stringify(routes), UPSTREAM_MAX_ATTEMPTS: '1', LOG_LEVEL: 'trace' } });
});
afterAll(async () => {
  await sys?.close();
  await mock?.close();
  await new Promise((r) => provider?.close(r));
  delete process.env.RC_TEST_PROVIDER_KEY;
});

const post = (body: unknown) => fetch(`${sys.edges[0]!.url}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json', ...sys.auth }, body: JSON.stringify(body) });
const msg = [{ role: 'user', content: 'x' }];

describe('no request chooses where Relaycast connects', () => {
  it('refuses any field that could carry an address, a key or headers (the schema is closed)', async () => {
    const before = ((await (await fetch(`${mock.url}/v1/mock/stats`)).json()) as { requests: number }).requests;
    for (const extra of [{ baseUrl: 'http://169.254.169.254/' }, { url: 'http://127.0.0.1:6379/' }, { apiKey: 'x' }, { headers: { host: 'x' } }, { provider: 'openai' }, { route: { baseUrl: 'http://x' } }, { mock: { baseUrl: 'http://x' } }]) {
      const res = await post({ messages: msg, ...extra });
      expect(res.status, JSON.stringify(extra)).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_request');
    }
    // Nothing reached any upstream.
    expect(((await (await fetch(`${mock.url}/v1/mock/stats`)).json()) as { requests: number }).requests).toBe(before);
  });

  it('a model name must be a configured route: addresses, paths and object keys are unknown models', async () => {
    for (const model of ['http://169.254.169.254/latest', '127.0.0.1:6379', '../mock', 'constructor', '__proto__', 'toString', 'hasOwnProperty', 'MOCK']) {
      const res = await post({ messages: msg, model });
      expect(res.status, model).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unknown_model');
    }
  });

  it('mock controls pass only to routes that allow them', async () => {
    const res = await post({ messages: msg, model: 'strict', mock: { fault: 'status:500' } });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/does not accept mock controls/);
    expect((await post({ messages: msg, model: 'strict', max_tokens: 1 })).status).toBe(201);
  });

  it('a route cannot be configured to send one of Relaycast\'s own secrets upstream', () => {
    const routes = JSON.stringify({ mock: { provider: 'openai', baseUrl: mock.url, model: 'm', apiKeyEnv: 'TOKEN_SECRET' } });
    expect(() => loadIngestConfig({ ROUTES_JSON: routes })).toThrow(ConfigError);
    expect(() => loadIngestConfig({ ROUTES_JSON: routes })).toThrow(/apiKeyEnv may not name Relaycast's own TOKEN_SECRET/);
  });
});

describe("the provider's API key stays on the server", () => {
  it('is sent to the provider, and never echoed to subscribers or the status endpoint when the provider quotes it', async () => {
    const s = await sys.create({ messages: msg, model: 'keyed' });
    const r = await readSse(sys.edges[0]!.url, s.eventsUrl);
    // It did go upstream (so the test is not vacuous)...
    expect(seenByProvider.at(-1)?.authorization).toBe(`Bearer ${PROVIDER_KEY}`);
    const end = JSON.parse(r.events.at(-1)!.data) as { code: string; message: string };
    expect(r.events.at(-1)!.event).toBe('error');
    expect(end.code).toBe('upstream_http');
    // ...and comes back redacted.
    expect(end.message).toBe('upstream answered HTTP 401: invalid_request_error: Incorrect API key provided: [redacted]');
    expect(r.raw).not.toContain(PROVIDER_KEY);
    const status = await (await fetch(sys.edges[0]!.url + s.statusUrl, { headers: sys.auth })).text();
    expect(status).not.toContain(PROVIDER_KEY);
  });

  it('never reaches a log line, even at trace level', async () => {
    const sink = new Writable({ write: (c: Buffer, _e, cb) => (logLines.push(c.toString()), cb()) });
    const { startIngest } = await import('../../services/ingest/src/index.js');
    const cfg = { ...sys.cfg, LOG_LEVEL: 'trace' as const, METRICS_PORT: 0 };
    const extra = await startIngest(cfg, pino({ level: 'trace' }, sink));
    let id = '';
    try {
      // Stop the system's own worker taking the job, so the capturing one does.
      await sys.ingest.worker.pause();
      const s = await sys.create({ messages: msg, model: 'keyed' });
      id = s.id;
      const r = await readSse(sys.edges[0]!.url, s.eventsUrl);
      expect(r.events.at(-1)!.event).toBe('error');
    } finally {
      sys.ingest.worker.resume();
      await extra.close();
    }
    // The capturing worker ran this generation and logged about it.
    expect(logLines.some((l) => l.includes(id) && l.includes('generation ended'))).toBe(true);
    expect(logLines.join('')).not.toContain(PROVIDER_KEY);
  });
});
