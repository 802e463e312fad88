import { createHash, createHmac } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '@relaycast/shared';
import { loadEdgeConfig } from '../../services/edge/src/config.js';
import { TokenError, TokenSigner } from '../../services/edge/src/tokens.js';
import { ApiKeyRing, allowsModel, apiKeyEntry, hashApiKey, newApiKey } from '../../services/edge/src/api-keys.js';

const SECRET = 'unit-secret-unit-secret-unit-secret-1234';

describe('subscribe tokens', () => {
  const signer = new TokenSigner([SECRET]);

  it('carry the session, the tenant and the expiry, in the rt1.<payload>.<signature> form', () => {
    const { token, expiresAt } = signer.mint('AAAAAAAAAAAAAAAAAAAAAA', 'acme', 60_000, 1_000);
    expect(expiresAt).toBe(61_000);
    expect(token).toMatch(/^rt1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    expect(signer.verify(token, 60_999)).toEqual({ sessionId: 'AAAAAAAAAAAAAAAAAAAAAA', tenant: 'acme', expiresAt: 61_000 });
    // The signature is HMAC-SHA256 over the prefix and payload, with the shared secret.
    const [, payload, sig] = token.split('.');
    expect(sig).toBe(createHmac('sha256', SECRET).update(`rt1.${payload}`).digest('base64url'));
  });

  it('expire at their expiry, to the millisecond', () => {
    const { token } = signer.mint('s', 't', 10, 0);
    expect(() => signer.verify(token, 9)).not.toThrow();
    expect(() => signer.verify(token, 10)).toThrow(TokenError);
    try {
      signer.verify(token, 10);
    } catch (e) {
      expect((e as TokenError).fault).toBe('expired');
    }
  });

  it('refuse every single-character change of the signature', () => {
    const { token } = signer.mint('s', 't', 60_000);
    const at = token.lastIndexOf('.') + 1;
    for (let i = at; i < token.length; i++) {
      for (const c of ['A', 'Q', 'g', 'w', '-', '_']) {
        if (token[i] === c) continue;
        const bad = token.slice(0, i) + c + token.slice(i + 1);
        expect(() => signer.verify(bad), bad).toThrow(TokenError);
      }
    }
  });

  it('refuse malformed and oversized tokens without trying them', () => {
    for (const bad of ['', 'rt1.', 'rt1..', 'rt1.a.b.c', 'rt1.a b.c', 'RT1.a.b', `rt1.${'a'.repeat(600)}.b`, 'rk_abc']) {
      expect(() => signer.verify(bad), bad).toThrow(TokenError);
    }
  });

  it('rotate: tokens of the previous secret still verify, new ones are signed with the current secret', () => {
    const old = new TokenSigner(['old-secret-old-secret-old-secret-old-1']).mint('s', 't', 60_000).token;
    const rotated = new TokenSigner([SECRET, 'old-secret-old-secret-old-secret-old-1']);
    expect(rotated.verify(old).sessionId).toBe('s');
    const fresh = rotated.mint('s', 't', 60_000).token;
    expect(signer.verify(fresh).sessionId).toBe('s');
    expect(() => signer.verify(old)).toThrow(TokenError);
  });
});

describe('API keys', () => {
  it('look like rk_ + 43 base64url characters and are stored as sha256:<hex>', () => {
    const key = newApiKey();
    expect(key).toMatch(/^rk_[A-Za-z0-9_-]{43}$/);
    expect(hashApiKey(key)).toBe(`sha256:${createHash('sha256').update(key).digest('hex')}`);
    expect(newApiKey()).not.toBe(key);
  });

  it('are found by their hash only; anything else is unknown', () => {
    const key = newApiKey();
    const ring = new ApiKeyRing([apiKeyEntry(key, 'k1', 'acme', ['mock'])]);
    expect(ring.lookup(key)).toMatchObject({ id: 'k1', tenant: 'acme' });
    for (const bad of [key.slice(0, -1), `${key}x`, hashApiKey(key), key.replace('rk_', 'rt_'), '']) expect(ring.lookup(bad)).toBeUndefined();
  });

  it('allow the models they list, or every model with "*"', () => {
    expect(allowsModel(apiKeyEntry(newApiKey(), 'a', 't', ['mock']), 'mock')).toBe(true);
    expect(allowsModel(apiKeyEntry(newApiKey(), 'a', 't', ['mock']), 'other')).toBe(false);
    expect(allowsModel(apiKeyEntry(newApiKey(), 'a', 't'), 'other')).toBe(true);
  });
});

describe('security configuration', () => {
  const entry = (over: Record<string, unknown> = {}) => ({ id: 'k1', tenant: 'acme', hash: hashApiKey(newApiKey()), ...over });
  const fails = (env: Record<string, string>, variable: string, message: RegExp) => {
    try {
      loadEdgeConfig(env);
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).variable).toBe(variable);
      expect((e as Error).message).toMatch(message);
      return;
    }
    throw new Error(`expected ${variable} to be refused`);
  };

  it('reads API keys from API_KEYS or API_KEYS_FILE, defaulting models to all', () => {
    expect(loadEdgeConfig({ API_KEYS: JSON.stringify([entry()]) }).apiKeys).toEqual([{ ...entry(), hash: expect.any(String), models: ['*'] }]);
    const dir = mkdtempSync(join(tmpdir(), 'rc-keys-'));
    writeFileSync(join(dir, 'keys.json'), JSON.stringify([entry({ models: ['mock'] })]));
    expect(loadEdgeConfig({ API_KEYS_FILE: join(dir, 'keys.json') }).apiKeys[0]!.models).toEqual(['mock']);
    expect(loadEdgeConfig({}).apiKeys).toEqual([]);
  });

  it('refuses plaintext keys, duplicates, unknown models and unreadable files, naming the variable', () => {
    fails({ API_KEYS: JSON.stringify([entry({ hash: newApiKey() })]) }, 'API_KEYS', /hash/);
    const h = hashApiKey(newApiKey());
    fails({ API_KEYS: JSON.stringify([entry({ hash: h }), entry({ id: 'k2', hash: h })]) }, 'API_KEYS', /listed twice/);
    fails({ API_KEYS: JSON.stringify([entry(), entry()]) }, 'API_KEYS', /unique/);
    fails({ API_KEYS: JSON.stringify([entry({ models: ['nope'] })]) }, 'API_KEYS', /no route named "nope"/);
    fails({ API_KEYS: JSON.stringify([entry({ tenant: 'a b' })]) }, 'API_KEYS', /tenant/);
    fails({ API_KEYS: '[{' }, 'API_KEYS', /cannot read/);
    fails({ API_KEYS_FILE: '/nonexistent/keys.json' }, 'API_KEYS_FILE', /cannot read/);
  });

  it('parses CORS_ORIGINS as exact origins and TRUST_PROXY as hops or address lists', () => {
    expect(loadEdgeConfig({}).corsOrigins).toEqual([]);
    expect(loadEdgeConfig({ CORS_ORIGINS: 'https://a.example.com, http://localhost:3000' }).corsOrigins).toEqual(['https://a.example.com', 'http://localhost:3000']);
    fails({ CORS_ORIGINS: 'https://a.example.com/path' }, 'CORS_ORIGINS', /origins/);
    fails({ CORS_ORIGINS: '*' }, 'CORS_ORIGINS', /no wildcard/);
    expect(loadEdgeConfig({}).trustProxy).toBe(false);
    expect(loadEdgeConfig({ TRUST_PROXY: '1' }).trustProxy).toBe(1);
    expect(loadEdgeConfig({ TRUST_PROXY: 'loopback, 10.0.0.0/8, fd00::/8' }).trustProxy).toEqual(['loopback', '10.0.0.0/8', 'fd00::/8']);
    fails({ TRUST_PROXY: 'true' }, 'TRUST_PROXY', /hop count/);
    fails({ TRUST_PROXY: '10.0.0.0/33' }, 'TRUST_PROXY', /hop count/);
  });
});
