import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';

/**
 * API keys: `rk_` + 32 random bytes (base64url). The operator's config holds only `sha256:<hex>` of each
 * key, so a leaked config, log or Redis dump never yields a usable key. A plain hash (no salt, no slow
 * KDF) is enough because the key is 256 random bits, not a password: there is nothing to brute-force.
 */
export const API_KEY_PREFIX = 'rk_';

const NAME = /^[A-Za-z0-9._-]{1,64}$/;

export const apiKeyEntrySchema = z.strictObject({
  /** Stable, non-secret name of the key: logged, and used for its limits in Redis. */
  id: z.string().regex(NAME, 'letters, digits, . _ - only (at most 64)'),
  /** Who owns the sessions this key creates; every key of a tenant can read and cancel them. */
  tenant: z.string().regex(NAME, 'letters, digits, . _ - only (at most 64)'),
  hash: z.string().regex(/^sha256:[0-9a-f]{64}$/, 'sha256:<64 lowercase hex digits> (npm run create-api-key)'),
  /** Route names this key may use; `["*"]` means all. */
  models: z.array(z.string().min(1)).min(1).default(['*']),
  /** Per-key overrides of SESSIONS_PER_MINUTE_PER_KEY and MAX_RUNNING_PER_KEY. */
  sessionsPerMinute: z.number().int().min(1).optional(),
  maxRunning: z.number().int().min(1).optional(),
});
export type ApiKeyEntry = z.infer<typeof apiKeyEntrySchema>;

export const apiKeysSchema = z
  .array(apiKeyEntrySchema)
  .refine((keys) => new Set(keys.map((k) => k.id)).size === keys.length, 'key ids must be unique')
  .refine((keys) => new Set(keys.map((k) => k.hash)).size === keys.length, 'the same key is listed twice');

export function newApiKey(): string {
  return API_KEY_PREFIX + randomBytes(32).toString('base64url');
}

export function hashApiKey(key: string): string {
  return `sha256:${createHash('sha256').update(key, 'utf8').digest('hex')}`;
}

/** The config entry for a key (what an operator pastes into API_KEYS). */
export function apiKeyEntry(key: string, id: string, tenant: string, models: string[] = ['*']): ApiKeyEntry {
  return apiKeyEntrySchema.parse({ id, tenant, hash: hashApiKey(key), models });
}

export function allowsModel(key: ApiKeyEntry, model: string): boolean {
  return key.models.includes('*') || key.models.includes(model);
}

/**
 * Looks keys up by their hash. The lookup is a Map hit on sha256(presented), so its timing can reveal at most
 * something about a hash, never about a key; comparing key strings directly would need constant time.
 */
export class ApiKeyRing {
  private readonly byHash: Map<string, ApiKeyEntry>;

  constructor(entries: readonly ApiKeyEntry[]) {
    this.byHash = new Map(entries.map((e) => [e.hash, e]));
  }

  get size(): number {
    return this.byHash.size;
  }

  lookup(presented: string): ApiKeyEntry | undefined {
    if (!presented.startsWith(API_KEY_PREFIX) || presented.length > 256) return undefined;
    return this.byHash.get(hashApiKey(presented));
  }
}
