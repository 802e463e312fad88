import { randomBytes } from 'node:crypto';
import { ConfigError, type Logger } from '@relaycast/shared';
import type { EdgeConfig } from './config.js';
import { TokenSigner } from './tokens.js';
import { ApiKeyRing, apiKeyEntry, newApiKey } from './api-keys.js';

export interface Credentials {
  keys: ApiKeyRing;
  tokens: TokenSigner;
}

/**
 * The edge's API keys and token secret. Production refuses to run without them (an edge that made up its
 * own would accept no real key and sign tokens no other edge verifies). In development an edge started
 * bare gets throwaway ones, loudly: `npm start` configures persistent ones instead (scripts/start.js).
 */
export function resolveCredentials(cfg: EdgeConfig, log: Logger, tell: (text: string) => void = (t) => process.stderr.write(t)): Credentials {
  const production = cfg.NODE_ENV === 'production';
  let secret = cfg.TOKEN_SECRET;
  if (!secret) {
    if (production) throw new ConfigError('TOKEN_SECRET', 'required when NODE_ENV=production; every edge must share it (generate one: openssl rand -base64 32)');
    secret = randomBytes(32).toString('base64url');
    log.warn('TOKEN_SECRET is not set: using a random development secret; tokens will not verify on other edges or after a restart');
  }
  let entries = cfg.apiKeys;
  if (entries.length === 0) {
    if (production) throw new ConfigError('API_KEYS', 'required when NODE_ENV=production (or API_KEYS_FILE); create a key with: npm run create-api-key -- --tenant <name>');
    const key = newApiKey();
    entries = [apiKeyEntry(key, 'dev', 'dev')];
    // Printed, not logged: a person needs it to call the API, and log pipelines must never carry keys.
    tell(`\n*** No API_KEYS configured: this edge made a development API key, valid until it exits:\n***   ${key}\n*** Use it as Authorization: Bearer <key>. Configure API_KEYS for anything else (docs/security.md).\n\n`);
  }
  return { keys: new ApiKeyRing(entries), tokens: new TokenSigner([secret, ...(cfg.TOKEN_SECRET_PREVIOUS ? [cfg.TOKEN_SECRET_PREVIOUS] : [])]) };
}
