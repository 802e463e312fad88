import type { NextFunction, Request, Response } from 'express';
import type { ErrorCode } from '@relaycast/protocol';
import type { SessionMeta } from '@relaycast/store';
import { TOKEN_PREFIX, TokenError, type TokenClaims, type TokenSigner } from './tokens.js';
import { API_KEY_PREFIX, type ApiKeyEntry, type ApiKeyRing } from './api-keys.js';
import { sendError } from './http-error.js';
import { bindCaller } from './request-log.js';

/** What a request proved: an API key (a tenant's server) or a subscribe token (one session's reader). */
export type Caller = { kind: 'key'; key: ApiKeyEntry } | { kind: 'token'; claims: TokenClaims };

export class EdgeAuth {
  constructor(
    readonly keys: ApiKeyRing,
    readonly tokens: TokenSigner,
    private readonly tokenTtlMs: number,
  ) {}

  mint(sessionId: string, tenant: string): { token: string; expiresAt: number } {
    return this.tokens.mint(sessionId, tenant, this.tokenTtlMs);
  }
}

// RFC 6750 §3: a 401 for a bearer-protected resource names the scheme, and `invalid_token` when one was sent.
const CHALLENGE = { 'WWW-Authenticate': 'Bearer realm="relaycast"' };
const INVALID = { 'WWW-Authenticate': 'Bearer realm="relaycast", error="invalid_token"' };

/** The credential of `Authorization: Bearer <credential>`: undefined when there is none. */
function bearer(req: Request): string | undefined {
  return bearerOf(req.get('authorization'));
}

function bearerOf(h: string | undefined): string | undefined {
  if (h === undefined) return undefined;
  return /^Bearer +(\S+) *$/i.exec(h)?.[1] ?? '';
}

function keyCaller(auth: EdgeAuth, credential: string, res: Response): Caller | undefined {
  const key = auth.keys.lookup(credential);
  if (!key) {
    sendError(res, 'unauthorized', 'unknown API key', INVALID);
    return undefined;
  }
  bindCaller(res, { tenant: key.tenant, keyId: key.id });
  return { kind: 'key', key };
}

/**
 * Express middleware: the request must carry a known API key (`Authorization: Bearer rk_…`); handlers find
 * it with {@link apiKeyOf}. Reusable in front of any route that a tenant's server calls (`GET /v1/models`).
 */
export function requireApiKey(auth: EdgeAuth) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const credential = bearer(req);
    if (!credential) return sendError(res, 'unauthorized', 'send an API key: Authorization: Bearer rk_…', CHALLENGE);
    const caller = keyCaller(auth, credential, res);
    if (caller?.kind !== 'key') return;
    res.locals.apiKey = caller.key;
    next();
  };
}

/** The API key {@link requireApiKey} accepted. */
export function apiKeyOf(res: Response): ApiKeyEntry {
  const key = res.locals.apiKey as ApiKeyEntry | undefined;
  if (!key) throw new Error('apiKeyOf: requireApiKey did not run for this route');
  return key;
}

/** Why a request proved nothing usable: the answer to send. */
export interface Refusal {
  code: ErrorCode;
  message: string;
  headers?: Record<string, string>;
}

/**
 * The caller of a request about one session from its `Authorization` header and (`query`, the event stream
 * only: EventSource cannot send headers) its `?token=` value(s), without touching a response: the Express
 * routes and the event stream's own path (routes/events.ts) answer the refusal each in their own way.
 */
export function checkSessionCaller(auth: EdgeAuth, authorization: string | undefined, queryToken: unknown, sessionId: string, o: { query: boolean; keys: boolean }): Caller | Refusal {
  let credential = bearerOf(authorization);
  if (credential === undefined && o.query) credential = typeof queryToken === 'string' ? queryToken : queryToken === undefined ? undefined : '';
  if (credential === undefined) {
    const how = o.query ? 'the session token as ?token= or Authorization: Bearer <token>' : o.keys ? 'Authorization: Bearer <session token or API key>' : 'Authorization: Bearer <session token>';
    return { code: 'unauthorized', message: `send ${how}`, headers: CHALLENGE };
  }
  if (credential.startsWith(TOKEN_PREFIX)) {
    let claims: TokenClaims;
    try {
      claims = auth.tokens.verify(credential);
    } catch (e) {
      if (!(e instanceof TokenError)) throw e;
      return { code: 'unauthorized', message: e.message, headers: INVALID };
    }
    if (claims.sessionId !== sessionId) return { code: 'forbidden', message: 'this token belongs to another session' };
    return { kind: 'token', claims };
  }
  if (o.keys && credential.startsWith(API_KEY_PREFIX)) {
    const key = auth.keys.lookup(credential);
    return key ? { kind: 'key', key } : { code: 'unauthorized', message: 'unknown API key', headers: INVALID };
  }
  return { code: 'unauthorized', message: o.keys ? 'not a session token or API key' : 'not a session token (API keys cannot open the event stream; mint a token)', headers: INVALID };
}

/** The tenant (and key id) a caller acts for, as its log lines carry them. */
export function callerFields(c: Caller): { tenant: string; keyId?: string } {
  return c.kind === 'key' ? { tenant: c.key.tenant, keyId: c.key.id } : { tenant: c.claims.tenant };
}

/**
 * {@link checkSessionCaller} for an Express route: sends the error and returns undefined when the request
 * proves nothing usable.
 */
export function sessionCaller(auth: EdgeAuth, req: Request, res: Response, sessionId: string, o: { query: boolean; keys: boolean }): Caller | undefined {
  const r = checkSessionCaller(auth, req.get('authorization'), o.query ? req.query.token : undefined, sessionId, o);
  if ('code' in r) {
    sendError(res, r.code, r.message, r.headers);
    return undefined;
  }
  bindCaller(res, callerFields(r));
  return r;
}

/** Whether the caller may act on the session: the token's or the key's tenant owns it. */
export function owns(caller: Caller, meta: SessionMeta): boolean {
  const tenant = caller.kind === 'key' ? caller.key.tenant : caller.claims.tenant;
  return meta.tenant !== undefined && meta.tenant === tenant;
}
