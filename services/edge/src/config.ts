import { readFileSync } from 'node:fs';
import { commonSettings, ConfigError, edgeSettings, list, parseConfig, type Routes, type ServiceConfig } from '@relaycast/shared';
import { apiKeysSchema, type ApiKeyEntry } from './api-keys.js';

const settings = { ...commonSettings, ...edgeSettings };

export type EdgeConfig = Readonly<
  ServiceConfig<typeof settings> & {
    /** Parsed API_KEYS / API_KEYS_FILE (empty when neither is set). */
    apiKeys: readonly ApiKeyEntry[];
    /** Parsed CORS_ORIGINS: exact origins allowed to call the API from a browser (none by default). */
    corsOrigins: readonly string[];
    /** Parsed TRUST_PROXY for express: false (the socket's address is the client), a hop count, or a list. */
    trustProxy: false | number | string[];
  }
>;

/** The edge's config: the common settings and its own, with API keys, CORS origins and proxies parsed. */
export function loadEdgeConfig(env: NodeJS.ProcessEnv = process.env): EdgeConfig {
  const cfg = parseConfig(settings, env);
  const apiKeys = loadApiKeys(cfg, cfg.routes);
  const trustProxy = cfg.TRUST_PROXY === undefined ? false : /^\d+$/.test(cfg.TRUST_PROXY) ? Number(cfg.TRUST_PROXY) : list(cfg.TRUST_PROXY);
  return Object.freeze({ ...cfg, apiKeys, corsOrigins: list(cfg.CORS_ORIGINS ?? ''), trustProxy });
}

/** API keys are listed by hash only: the config never holds a usable key (see api-keys.ts). */
function loadApiKeys(cfg: { API_KEYS?: string | undefined; API_KEYS_FILE?: string | undefined }, routes: Routes): ApiKeyEntry[] {
  if (cfg.API_KEYS === undefined && cfg.API_KEYS_FILE === undefined) return [];
  const source = cfg.API_KEYS !== undefined ? 'API_KEYS' : 'API_KEYS_FILE';
  let raw: unknown;
  try {
    raw = JSON.parse(cfg.API_KEYS ?? readFileSync(cfg.API_KEYS_FILE!, 'utf8'));
  } catch (e) {
    throw new ConfigError(source, `cannot read API keys: ${(e as Error).message}`);
  }
  const keys = apiKeysSchema.safeParse(raw);
  if (!keys.success) {
    const issue = keys.error.issues[0]!;
    throw new ConfigError(source, `key ${issue.path.join('.')}: ${issue.message}`);
  }
  for (const k of keys.data) {
    const unknown = k.models.find((m) => m !== '*' && !routes[m]);
    if (unknown) throw new ConfigError(source, `key ${k.id}: no route named ${JSON.stringify(unknown)}`);
  }
  return keys.data;
}
