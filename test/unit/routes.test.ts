import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, fallbackChain, listModels, PROVIDERS } from '@relaycast/shared';
import { loadIngestConfig } from '../../services/ingest/src/config.js';
import { compilePipelines } from '@relaycast/processors';

const routes = (r: Record<string, unknown>, env: Record<string, string> = {}) => loadIngestConfig({ ROUTES_JSON: JSON.stringify(r), DEFAULT_MODEL: Object.keys(r)[0]!, ...env });
const ok = { provider: 'openai', baseUrl: 'https://api.openai.com', model: 'gpt-4o-mini' };
function fails(f: () => unknown, variable: string, message: RegExp) {
  try {
    f();
    expect.unreachable();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).variable).toBe(variable);
    expect((e as Error).message).toMatch(message);
  }
}

describe('default routes: one mock model per wire format', () => {
  it('has mock (OpenAI chat, the default model), mock-responses, mock-anthropic, mock-ollama and mock-sse at MOCK_MODEL_URL', () => {
    const cfg = loadIngestConfig({ MOCK_MODEL_URL: 'http://127.0.0.1:9999' });
    expect(cfg.DEFAULT_MODEL).toBe('mock');
    expect(Object.fromEntries(Object.entries(cfg.routes).map(([k, r]) => [k, r.provider]))).toEqual({ mock: 'openai', 'mock-responses': 'openai-responses', 'mock-anthropic': 'anthropic', 'mock-ollama': 'ollama', 'mock-sse': 'sse' });
    for (const r of Object.values(cfg.routes)) {
      expect(r.baseUrl).toBe('http://127.0.0.1:9999');
      expect(r.allowMock).toBe(true);
    }
    expect(new Set(Object.values(cfg.routes).map((r) => r.provider))).toEqual(new Set(PROVIDERS));
  });
});

describe('routes file validation names the bad entry', () => {
  it.each([
    [{ a: { ...ok, provider: 'nope' } }, /route a\.provider/],
    [{ a: { ...ok, model: undefined } }, /route a\.model: required for provider openai/],
    [{ a: { ...ok, baseUrl: 'ftp://x' } }, /route a\.baseUrl/],
    [{ a: { ...ok, fallback: ['b'] } }, /route a: Unrecognized key: "fallback"/],
    [{ a: { ...ok, fallbacks: ['b'] } }, /route a\.fallbacks\.0: no route named "b"/],
    [{ a: { ...ok, fallbacks: ['a'] } }, /route a\.fallbacks\.0: a route cannot fall back to itself/],
    [{ a: { ...ok, fallbacks: ['b'] }, b: { ...ok, fallbacks: ['c'] }, c: { ...ok, fallbacks: ['a'] } }, /route a\.fallbacks: fallbacks form a cycle: a -> b -> c -> a/],
    [{ a: { ...ok, timeouts: { idleMs: 0 } } }, /route a\.timeouts\.idleMs/],
    [{ a: { ...ok, attempts: 0 } }, /route a\.attempts/],
    [{ a: { ...ok, processors: [{ windowMs: 1 }] } }, /route a\.processors\.0\.type/],
    [{ a: { ...ok, sse: { doneData: '[DONE]' } } }, /route a\.sse: only for provider sse/],
    [{ a: { provider: 'sse', baseUrl: 'https://x.example', sse: {} } }, /route a\.sse: set doneData, doneEvent or eofIsEnd/],
    [{ a: { ...ok, headers: { 'x-evil': 'a\r\nb: c' } } }, /route a\.headers\.x-evil/],
    [{ a: { ...ok, apiKeyEnv: 'sk-live-123' } }, /route a\.apiKeyEnv/],
  ])('%j', (r, message) => fails(() => routes(r), 'ROUTES_JSON', message));

  it('a routes file that cannot be read or parsed names ROUTES_FILE', () => {
    fails(() => loadIngestConfig({ ROUTES_FILE: '/nonexistent/routes.json' }), 'ROUTES_FILE', /cannot read routes/);
  });
});

describe('environment overrides: ROUTE_<NAME>_BASE_URL, _MODEL, _API_KEY_ENV', () => {
  it('override one field of one route (name upper-cased, other characters as _)', () => {
    const cfg = routes({ 'gpt-4o.mini': ok, other: ok }, { ROUTE_GPT_4O_MINI_BASE_URL: 'https://proxy.internal/openai', ROUTE_GPT_4O_MINI_MODEL: 'gpt-4o-mini-2024-07-18', ROUTE_OTHER_API_KEY_ENV: 'OTHER_KEY' });
    expect(cfg.routes['gpt-4o.mini']).toMatchObject({ baseUrl: 'https://proxy.internal/openai', model: 'gpt-4o-mini-2024-07-18' });
    expect(cfg.routes.other).toMatchObject({ baseUrl: ok.baseUrl, model: ok.model, apiKeyEnv: 'OTHER_KEY' });
  });

  it('apply to the default routes too; empty means unset', () => {
    const cfg = loadIngestConfig({ ROUTE_MOCK_ANTHROPIC_BASE_URL: 'http://10.0.0.5:8090', ROUTE_MOCK_MODEL: '' });
    expect(cfg.routes['mock-anthropic']!.baseUrl).toBe('http://10.0.0.5:8090');
    expect(cfg.routes.mock!.model).toBe('mock-1');
  });

  it('a bad value, an unknown route or an ambiguous name stops the start naming the variable', () => {
    fails(() => routes({ a: ok }, { ROUTE_A_BASE_URL: 'not a url' }), 'ROUTE_A_BASE_URL', /route a\.baseUrl/);
    fails(() => routes({ a: ok }, { ROUTE_B_MODEL: 'x' }), 'ROUTE_B_MODEL', /no route is named b/);
    fails(() => routes({ 'a-b': ok, 'a.b': ok }, { ROUTE_A_B_MODEL: 'x' }), 'ROUTE_A_B_MODEL', /ambiguous: routes a-b, a\.b/);
  });
});

describe('fallback chains', () => {
  it('are the route, then its fallbacks depth-first, each once', () => {
    const cfg = routes({ a: { ...ok, fallbacks: ['b', 'c'] }, b: { ...ok, fallbacks: ['d', 'c'] }, c: ok, d: ok });
    expect(fallbackChain(cfg.routes, 'a')).toEqual(['a', 'b', 'd', 'c']);
    expect(fallbackChain(cfg.routes, 'c')).toEqual(['c']);
  });
});

describe('deploy/routes.example.json', () => {
  const text = readFileSync(new URL('../../deploy/routes.example.json', import.meta.url), 'utf8');
  it('passes validation, processors included, with real provider URLs and key variables', () => {
    const cfg = loadIngestConfig({ ROUTES_FILE: new URL('../../deploy/routes.example.json', import.meta.url).pathname, DEFAULT_MODEL: 'gpt-4o-mini' });
    expect(compilePipelines(cfg).size).toBe(Object.keys(cfg.routes).length);
    expect(new Set(Object.values(cfg.routes).map((r) => r.provider))).toEqual(new Set(PROVIDERS));
    expect(cfg.routes['gpt-4o-mini']).toMatchObject({ baseUrl: 'https://api.openai.com', apiKeyEnv: 'OPENAI_API_KEY', fallbacks: ['claude-haiku'] });
    expect(cfg.routes['claude-haiku']).toMatchObject({ baseUrl: 'https://api.anthropic.com', apiKeyEnv: 'ANTHROPIC_API_KEY' });
    // Key variable names only: no secret in the file.
    expect(text).not.toMatch(/sk-[A-Za-z0-9]{8,}/);
  });
});

describe('GET /v1/models content', () => {
  it('lists id, provider and description, and never the address or key variable', () => {
    const cfg = routes({ a: { ...ok, apiKeyEnv: 'OPENAI_API_KEY', description: 'A' }, b: { ...ok, baseUrl: 'https://secret-host.internal' } });
    const models = listModels(cfg.routes);
    expect(models).toEqual([{ id: 'a', provider: 'openai', description: 'A' }, { id: 'b', provider: 'openai' }]);
    expect(JSON.stringify(models)).not.toMatch(/api\.openai\.com|secret-host|OPENAI_API_KEY/);
    expect(listModels(cfg.routes, (id) => id === 'b')).toEqual([{ id: 'b', provider: 'openai' }]);
  });
});
