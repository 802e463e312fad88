import type { NextFunction, Request, Response } from 'express';
import { API_KEY_PREFIX, TOKEN_PREFIX, TokenError, type ApiKeyEntry, type ApiKeyRing, type SessionMeta, type TokenClaims, type TokenSigner } from '@relaycast/shared';
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
  const h = req.get('authorization');
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

function tokenCaller(auth: EdgeAuth, credential: string, sessionId: string, res: Response): Caller | undefined {
  let claims: TokenClaims;
  try {
    claims = auth.tokens.verify(credential);
  } catch (e) {
    if (!(e instanceof TokenError)) throw e;
    sendError(res, 'unauthorized', e.message, INVALID);
    return undefined;
  }
  if (claims.sessionId !== sessionId) {
    sendError(res, 'forbidden', 'this token belongs to another session');
    return undefined;
  }
  bindCaller(res, { tenant: claims.tenant });
  return { kind: 'token', claims };
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

/**
 * The caller of a request about one session: its subscribe token, or any API key (ownership is checked
 * against the session's tenant by {@link owns} once its metadata is read). `query` also accepts the token
 * as `?token=`, for the event stream only: EventSource cannot send headers. Sends the error and returns
 * undefined when the request proves nothing usable.
 */
export function sessionCaller(auth: EdgeAuth, req: Request, res: Response, sessionId: string, o: { query: boolean; keys: boolean }): Caller | undefined {
  let credential = bearer(req);
  if (credential === undefined && o.query) {
    const q = req.query.token;
    credential = typeof q === 'string' ? q : q === undefined ? undefined : '';
  }
  if (credential === undefined) {
    const how = o.query ? 'the session token as ?token= or Authorization: Bearer <token>' : o.keys ? 'Authorization: Bearer <session token or API key>' : 'Authorization: Bearer <session token>';
    sendError(res, 'unauthorized', `send ${how}`, CHALLENGE);
    return undefined;
  }
  if (credential.startsWith(TOKEN_PREFIX)) return tokenCaller(auth, credential, sessionId, res);
  if (o.keys && credential.startsWith(API_KEY_PREFIX)) return keyCaller(auth, credential, res);
  sendError(res, 'unauthorized', o.keys ? 'not a session token or API key' : 'not a session token (API keys cannot open the event stream; mint a token)', INVALID);
  return undefined;
}

/** Whether the caller may act on the session: the token's or the key's tenant owns it. */
export function owns(caller: Caller, meta: SessionMeta): boolean {
  const tenant = caller.kind === 'key' ? caller.key.tenant : caller.claims.tenant;
  return meta.tenant !== undefined && meta.tenant === tenant;
}
