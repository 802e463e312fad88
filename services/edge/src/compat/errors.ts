import type { NextFunction, Request, Response } from 'express';
import { ERRORS, type ErrorCode } from '@relaycast/protocol';
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

/** A body in OpenAI's shape for a catalogue code, typed by the status the catalogue gives it. */
export function openaiError(code: ErrorCode, message: string, param: string | null = null): OpenAIErrorBody {
  return body(ERRORS[code].status, code, message, param);
}

/**
 * The generation's own `error` event, forwarded: its code is whatever the stream's terminal event carries
 * (a producer's own, for a published session), and the status is 502, the model side having failed.
 */
export function forwardedError(e: { code: string; message: string }): OpenAIErrorBody {
  return body(502, e.code, e.message, null);
}

function body(status: number, code: string, message: string, param: string | null): OpenAIErrorBody {
  return { error: { message, type: TYPE_OF_STATUS[status] ?? (status >= 500 ? 'server_error' : 'invalid_request_error'), param, code } };
}

export interface CompatErrorOptions {
  headers?: Record<string, string> | undefined;
  param?: string | null | undefined;
  /** Only where the status is not the surface's to choose (a 4xx the body parser answered with). */
  status?: number | undefined;
}

/** Sends a catalogue error in OpenAI's shape; a response already streaming is cut instead (the client sees no end). */
export function sendOpenAIError(res: Response, code: ErrorCode, message: string, o: CompatErrorOptions = {}): void {
  send(res, o.status ?? ERRORS[code].status, body(o.status ?? ERRORS[code].status, code, message, o.param ?? null), o.headers);
}

/** Sends the generation's own error (see {@link forwardedError}) in OpenAI's shape. */
export function sendForwardedError(res: Response, e: { code: string; message: string }): void {
  send(res, 502, forwardedError(e));
}

/**
 * The native body, `{error: {code, message}}`, for the AI SDK surface (whose transport shows the body text),
 * with the catalogue's status for the code.
 */
export function sendNativeError(res: Response, code: ErrorCode, message: string, headers: Record<string, string> = {}): void {
  send(res, ERRORS[code].status, { error: { code, message } }, headers);
}

function send(res: Response, status: number, json: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.status(status).set(headers).json(json);
}

// RFC 6750 §3, as the native API answers.
const CHALLENGE = { 'WWW-Authenticate': 'Bearer realm="relaycast"' };
const INVALID = { 'WWW-Authenticate': 'Bearer realm="relaycast", error="invalid_token"' };

/** The request's API key (`Authorization: Bearer rk_…`), answered in OpenAI's error shape when missing or unknown. */
export function requireKey(auth: EdgeAuth) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const h = req.get('authorization');
    const credential = h === undefined ? undefined : (/^Bearer +(\S+) *$/i.exec(h)?.[1] ?? '');
    if (!credential) return sendOpenAIError(res, 'missing_api_key', 'send an API key: Authorization: Bearer rk_…', { headers: CHALLENGE });
    const key = auth.keys.lookup(credential);
    if (!key) return sendOpenAIError(res, 'invalid_api_key', 'unknown API key', { headers: INVALID });
    bindCaller(res, { tenant: key.tenant, keyId: key.id });
    res.locals.apiKey = key;
    next();
  };
}

export function keyOf(res: Response): ApiKeyEntry {
  return res.locals.apiKey as ApiKeyEntry;
}
