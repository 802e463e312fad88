import { describe, expect, it } from 'vitest';
import { eventData, eventSchema, InvalidCursorError, isSessionId, isTerminal, newSessionId, parseCursor, parseEvent, type RelaycastEvent } from '@relaycast/protocol';
import { keySpace, parseLiveMessage } from '@relaycast/store';
import { ConfigError, DEFAULTS } from '@relaycast/shared';
import { loadEdgeConfig } from '../../services/edge/src/config.js';
import { loadIngestConfig } from '../../services/ingest/src/config.js';

describe('event schema', () => {
  const samples: RelaycastEvent[] = [
    { type: 'delta', text: 'hi\n' },
    { type: 'thinking', text: 'hmm' },
    { type: 'tool_call', index: 0, id: 'call_1', name: 'get_weather', arguments: '{"city":' },
    { type: 'tool_call', index: 0, arguments: '"Oslo"}' },
    { type: 'usage', inputTokens: 3, outputTokens: 5, estimated: false },
    { type: 'reset', reason: 'retry', attempt: 2 },
    { type: 'gap', requested: '3', resumedFrom: '10' },
    { type: 'done', finishReason: 'stop', usage: { inputTokens: 1, outputTokens: 2, estimated: true } },
    { type: 'error', code: 'upstream_http', message: 'boom', retryable: true },
    { type: 'cancelled', reason: 'client_request' },
  ];
  it('round-trips every event type through its wire form', () => {
    for (const e of samples) expect(parseEvent(e.type, eventData(e))).toEqual(e);
  });
  it('marks exactly done, error and cancelled as terminal', () => {
    expect(samples.filter(isTerminal).map((e) => e.type)).toEqual(['done', 'error', 'cancelled']);
  });
  it('rejects unknown types and wrong field types', () => {
    expect(eventSchema.safeParse({ type: 'nope' }).success).toBe(false);
    expect(eventSchema.safeParse({ type: 'delta', text: 3 }).success).toBe(false);
    expect(eventSchema.safeParse({ type: 'usage', inputTokens: -1, outputTokens: 0, estimated: false }).success).toBe(false);
  });
});

describe('keys', () => {
  it('puts every key of a session in one cluster slot via the {id} hash tag', () => {
    const k = keySpace('rc').session('abc');
    for (const key of Object.values(k)) expect(key).toContain('{abc}');
    expect(new Set(Object.values(k)).size).toBe(4);
  });
  it('applies the prefix and rejects unsafe prefixes', () => {
    expect(keySpace('p1').session('x').stream.startsWith('p1:')).toBe(true);
    expect(() => keySpace('bad prefix')).toThrow();
    expect(keySpace('rc').queuePrefix).toBe('{rc:q}');
  });
});

describe('ids and cursors', () => {
  it('makes 128-bit URL-safe unique ids', () => {
    const ids = new Set(Array.from({ length: 1000 }, newSessionId));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(isSessionId(id)).toBe(true);
    expect(Buffer.from([...ids][0]!, 'base64url')).toHaveLength(16);
  });
  it('rejects ids with path tricks', () => {
    for (const bad of ['../../etc/passwd', 'a'.repeat(21), 'a'.repeat(23), 'aaaaaaaaaaaaaaaaaaaa/.', '']) expect(isSessionId(bad)).toBe(false);
  });
  it('parses cursors strictly', () => {
    expect(parseCursor(undefined)).toBe(0);
    expect(parseCursor('')).toBe(0);
    expect(parseCursor('42')).toBe(42);
    for (const bad of ['-1', '1.5', '1\n', '1\r', '1\0', 'abc', '1-0', '9'.repeat(16)]) expect(() => parseCursor(bad)).toThrow(InvalidCursorError);
  });
  it('parses live notifications into consecutive seqs', () => {
    expect(parseLiveMessage('5\ndelta\n{"text":"a"}\ndone\n{"finishReason":"stop"}')).toEqual([
      { seq: 5, type: 'delta', data: '{"text":"a"}' },
      { seq: 6, type: 'done', data: '{"finishReason":"stop"}' },
    ]);
  });
});

describe('config', () => {
  it('applies named defaults', () => {
    const c = loadEdgeConfig({});
    const i = loadIngestConfig({});
    expect(c.PORT).toBe(DEFAULTS.PORT);
    expect(c.HEARTBEAT_MS).toBe(15_000);
    expect(c.RETENTION_SECONDS).toBe(3600);
    expect(i.RETENTION_SECONDS).toBe(3600);
    expect(i.INGEST_CONCURRENCY).toBe(64);
    expect(c.routes[c.DEFAULT_MODEL]?.provider).toBe('openai');
    expect(i.routes[i.DEFAULT_MODEL]?.provider).toBe('openai');
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(i)).toBe(true);
  });
  it('gives each service only its own settings: ingest neither reads nor validates the edge API keys and token secret', () => {
    const edgeOnly = { API_KEYS: '{not json', TOKEN_SECRET: 'short', PORT: 'eighty' };
    const i = loadIngestConfig(edgeOnly);
    expect(i).not.toHaveProperty('API_KEYS');
    expect(i).not.toHaveProperty('apiKeys');
    expect(i).not.toHaveProperty('TOKEN_SECRET');
    expect(i).not.toHaveProperty('PORT');
    expect(() => loadEdgeConfig(edgeOnly)).toThrow(ConfigError);
    expect(() => loadEdgeConfig({ API_KEYS: '{not json' })).toThrow(/API_KEYS/);
    expect(loadEdgeConfig({})).not.toHaveProperty('INGEST_CONCURRENCY');
    expect(() => loadIngestConfig({ INGEST_CONCURRENCY: 'many' })).toThrow(/INGEST_CONCURRENCY/);
    expect(loadEdgeConfig({ INGEST_CONCURRENCY: 'many' }).PORT).toBe(DEFAULTS.PORT);
  });
  it('names the bad variable', () => {
    for (const [k, v] of [['PORT', 'eighty'], ['REDIS_URL', 'http://x'], ['HEARTBEAT_MS', '5'], ['LOG_LEVEL', 'loud']]) {
      try {
        loadEdgeConfig({ [k!]: v });
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        expect((e as ConfigError).variable).toBe(k);
        expect((e as Error).message).toContain(k!);
      }
    }
  });
  it('validates routes and names the bad entry', () => {
    expect(() => loadIngestConfig({ ROUTES_JSON: '{"m":{"provider":"nope","baseUrl":"http://x","model":"a"}}', DEFAULT_MODEL: 'm' })).toThrow(/ROUTES_JSON: route m.provider/);
    expect(() => loadIngestConfig({ ROUTES_JSON: '{not json' })).toThrow(ConfigError);
    expect(() => loadIngestConfig({ DEFAULT_MODEL: 'missing' })).toThrow(/DEFAULT_MODEL/);
  });
});
