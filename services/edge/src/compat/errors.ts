import type { NextFunction, Request, Response } from 'express';
import type { ApiKeyEntry } from '../api-keys.js';
import type { EdgeAuth } from '../auth.js';
import { bindCaller } from '../request-log.js';

/**
 * OpenAI's error body, `{error: {message, type, param, code}}`. The official SDKs read `error.message`
 * into their exception and pick the exception class from the status alone (401 AuthenticationError,
 * 403 PermissionDeniedError, 404 NotFoundError, 429 RateLimitError, …), so the status carries the meaning.
 */
export type OpenAIErrorBody = {
  error: { message: string; type: string; param: string | null; code: string };
};

const TYPE_OF_STATUS: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  405: 'invalid_request_error',
  409: 'conflict_error',
  413: 'invalid_request_error',
  429: 'rate_limit_error',
};

export function openaiError(status: number, code: string, message: string, param: string | null = null): OpenAIErrorBody {
  return { error: { message, type: TYPE_OF_STATUS[status] ?? (status >= 500 ? 'server_error' : 'invalid_request_error'), param, code } };
}

/** Sends an error in OpenAI's shape; a response already streaming is cut instead (the client sees no end). */
export function sendOpenAIError(res: Response, status: number, code: string, message: string, headers: Record<string, string> = {}, param: string | null = null): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.status(status).set(headers).json(openaiError(status, code, message, param));
}

/**
 * The native body, `{error: {code, message}}`, for the AI SDK surface (whose transport shows the body text).
 * Its own function, with the status given, because these codes are this surface's, not the native API's.
 */
export function sendNativeError(res: Response, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.status(status).set(headers).json({ error: { code, message } });
}

// RFC 6750 §3, as the native API answers.
const CHALLENGE = { 'WWW-Authenticate': 'Bearer realm="relaycast"' };
const INVALID = { 'WWW-Authenticate': 'Bearer realm="relaycast", error="invalid_token"' };

/** The request's API key (`Authorization: Bearer rk_…`), answered in OpenAI's error shape when missing or unknown. */
export function requireKey(auth: EdgeAuth) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const h = req.get('authorization');
    const credential = h === undefined ? undefined : (/^Bearer +(\S+) *$/i.exec(h)?.[1] ?? '');
    if (!credential) return sendOpenAIError(res, 401, 'missing_api_key', 'send an API key: Authorization: Bearer rk_…', CHALLENGE);
    const key = auth.keys.lookup(credential);
    if (!key) return sendOpenAIError(res, 401, 'invalid_api_key', 'unknown API key', INVALID);
    bindCaller(res, { tenant: key.tenant, keyId: key.id });
    res.locals.apiKey = key;
    next();
  };
}

export function keyOf(res: Response): ApiKeyEntry {
  return res.locals.apiKey as ApiKeyEntry;
}
