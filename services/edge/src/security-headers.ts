import type { NextFunction, Request, Response } from 'express';

/**
 * The policy for API responses (JSON, SSE): they are never documents, so nothing may load from them,
 * frame them or run in them.
 */
export const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/**
 * The strict policy for the demo page: its own scripts, styles and images only (no inline script, no
 * eval), network access to this origin only (the API and the event stream), never framed, no <base>
 * rewriting, no plugins. A route serving the page sets it with {@link pageSecurityHeaders}.
 */
export const PAGE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Headers every response carries, whatever route (or no route) answers it. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'X-Content-Type-Options': 'nosniff',
  // frame-ancestors is the standard; X-Frame-Options covers browsers that predate it.
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Content-Security-Policy': API_CSP,
  // Responses carry tokens and private model output: no shared or browser cache may keep them. Routes
  // that stream (SSE) or serve static files set their own Cache-Control.
  'Cache-Control': 'no-store',
};

export function securityHeaders(_req: Request, res: Response, next: NextFunction): void {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
  next();
}

/** For the route that serves the demo page: the page's CSP in place of the API's. */
export function pageSecurityHeaders(res: Response): void {
  res.setHeader('Content-Security-Policy', PAGE_CSP);
}
