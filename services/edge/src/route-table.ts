import type { Express, NextFunction, Request, Response } from 'express';
import { sendError } from './http-error.js';

export type Handler = (req: Request, res: Response, next: NextFunction) => unknown;
/** A route: its method, its path, and its handlers in order (a handler may pass on with `next()`). */
export type Route = [method: 'get' | 'head' | 'post', path: string, ...handlers: Handler[]];

/**
 * Registers every route and, from the same table, answers each path's other methods with 405 and an
 * `Allow` header, so the two can never disagree.
 */
export function registerRoutes(app: Express, routes: readonly Route[]): void {
  const methods = new Map<string, string[]>();
  for (const [method, path, ...handlers] of routes) {
    app[method](path, ...handlers);
    const known = methods.get(path) ?? [];
    if (!known.includes(method.toUpperCase())) methods.set(path, [...known, method.toUpperCase()]);
  }
  // After every registration, so a path's own methods match first (HEAD is answered as GET by Express).
  for (const [path, allowed] of methods) {
    const allow = allowed.join(', ');
    app.all(path, (_req, res) => sendError(res, 'method_not_allowed', `use ${allow}`, { Allow: allow }));
  }
}
