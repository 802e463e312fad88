import type { NextFunction, Request, Response } from 'express';
import { sendError } from './http-error.js';

const ALLOW_METHODS = 'GET, POST';
// Last-Event-ID: set by EventSource itself when it reconnects.
const ALLOW_HEADERS = 'Authorization, Content-Type, Last-Event-ID, X-Request-Id';
// Headers a page may read from a cross-origin answer (CORS exposes only a few safelisted ones otherwise).
const EXPOSE_HEADERS = 'Retry-After, X-Request-Id, Location, WWW-Authenticate, X-Relaycast-Session-Id';

/**
 * CORS for an allowlist of exact origins (Fetch standard §3.2). An allowed origin is echoed back (never
 * `*`) with `Vary: Origin`; any other origin gets no CORS headers, so the browser withholds the answer
 * from the page, and its preflight is refused with 403. No credentials mode: Relaycast uses no cookies,
 * so a bearer credential the page holds is the only way in. With an empty list the API is same-origin.
 */
export function cors(origins: readonly string[]) {
  const allowed = new Set(origins);
  return (req: Request, res: Response, next: NextFunction): void => {
    res.vary('Origin');
    const origin = req.get('origin');
    const ok = origin !== undefined && allowed.has(origin);
    const preflight = req.method === 'OPTIONS' && req.get('access-control-request-method') !== undefined;
    for (const [name, value] of Object.entries(corsHeaders(allowed, origin))) res.setHeader(name, value);
    if (!preflight) return next();
    if (!ok) return sendError(res, 'cors_forbidden', 'this origin may not call the API from a browser');
    res.setHeader('Access-Control-Allow-Methods', ALLOW_METHODS);
    res.setHeader('Access-Control-Allow-Headers', ALLOW_HEADERS);
    res.setHeader('Access-Control-Max-Age', '600');
    res.status(204).end();
  };
}

/** The CORS headers of an answer to `origin` (none unless it is allowed); `Vary: Origin` is the caller's. */
export function corsHeaders(allowed: ReadonlySet<string>, origin: string | undefined): Record<string, string> {
  if (origin === undefined || !allowed.has(origin)) return {};
  return { 'Access-Control-Allow-Origin': origin, 'Access-Control-Expose-Headers': EXPOSE_HEADERS };
}
