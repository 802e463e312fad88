import { TokenSigner } from '../../services/edge/src/tokens.js';
import { apiKeyEntry, newApiKey, type ApiKeyEntry } from '../../services/edge/src/api-keys.js';
import type { SessionInfo } from '../../packages/client/src/types.js';

/** The token secret every test system shares (tests mint tokens with it to probe the edges). */
export const TEST_TOKEN_SECRET = 'test-token-secret-0123456789abcdef0123456789';
export const testSigner = new TokenSigner([TEST_TOKEN_SECRET]);

export interface TestKey {
  key: string;
  entry: ApiKeyEntry;
  /** `{authorization: 'Bearer <key>'}`, ready for fetch. */
  headers: { authorization: string };
}

/** A fresh API key and its config entry. */
export function makeKey(id: string, tenant: string, extra: Partial<Pick<ApiKeyEntry, 'models' | 'sessionsPerMinute' | 'maxRunning'>> = {}): TestKey {
  const key = newApiKey();
  return { key, entry: { ...apiKeyEntry(key, id, tenant, extra.models), ...extra }, headers: { authorization: `Bearer ${key}` } };
}

export const bearer = (credential: string) => ({ authorization: `Bearer ${credential}` });

/** A valid token for any session id (as an edge would mint it), for probing unknown or foreign sessions. */
export function mintToken(sessionId: string, tenant = 'test', ttlMs = 60_000): string {
  return testSigner.mint(sessionId, tenant, ttlMs).token;
}

/**
 * Environment for a system with these keys and the shared test secret. Limits are set far above what any
 * suite does, so only the suites about limits (which set their own) ever meet one.
 */
export function authEnv(keys: TestKey[]): Record<string, string> {
  return {
    TOKEN_SECRET: TEST_TOKEN_SECRET,
    API_KEYS: JSON.stringify(keys.map((k) => k.entry)),
    SESSIONS_PER_MINUTE_PER_KEY: '100000',
    MAX_RUNNING_PER_KEY: '10000',
    MAX_CONNECTIONS_PER_IP: '100000',
    MAX_CONNECTIONS_PER_SESSION: '100000',
    STATUS_READS_PER_MINUTE_PER_TOKEN: '1000000',
    STATUS_READS_PER_MINUTE_PER_IP: '1000000',
  };
}

/** What `POST /v1/sessions` answers: the client library's own description of it. */
export type CreatedSession = SessionInfo;

/** POST /v1/sessions with an API key; throws unless 201. */
export async function createSession(base: string, key: string, body: Record<string, unknown>): Promise<CreatedSession> {
  const res = await fetch(`${base}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json', ...bearer(key) }, body: JSON.stringify(body) });
  if (res.status !== 201) throw new Error(`create failed: ${res.status} ${await res.text()}`);
  return (await res.json()) as CreatedSession;
}
