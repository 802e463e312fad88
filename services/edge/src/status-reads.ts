import { createHash } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { KeySpace, RateLimiter } from '@relaycast/store';
import type { EdgeConfig } from './config.js';
import { TOKEN_PREFIX } from './tokens.js';
import { clientSubject } from './connection-limits.js';
import { sendError } from './http-error.js';
import type { EdgeStats } from './stats.js';

export interface StatusReadDeps {
  cfg: EdgeConfig;
  rates: RateLimiter;
  keys: KeySpace;
  stats: EdgeStats;
}

/**
 * Bounds `GET /v1/sessions/:id` over every edge: STATUS_READS_PER_MINUTE_PER_IP per client address (every
 * caller) and STATUS_READS_PER_MINUTE_PER_TOKEN per subscribe token, the credential a share link hands to
 * anyone. Runs before the session is read, so a refused loop costs one script call per subject and no
 * session read. An API key is not limited per key here: it is a tenant's own server, limited by address.
 */
export function statusReadLimit(d: StatusReadDeps) {
  const keys = d.keys.limits;
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const check = (subject: string, perMinute: number, limit: 'reads_ip' | 'reads_token') => d.rates.take(keys.reads(subject), perMinute).then((r) => ({ retryAfterMs: r.ok ? 0 : r.retryAfterMs, ok: r.ok, limit }));
    const checks = [check(`ip:${clientSubject(req.ip)}`, d.cfg.STATUS_READS_PER_MINUTE_PER_IP, 'reads_ip')];
    const credential = /^Bearer +(\S+) *$/i.exec(req.get('authorization') ?? '')?.[1];
    // By the token's hash: the key names no usable credential. An unverified token is counted too; a
    // forged one is refused right after, and counting it only slows its sender.
    if (credential?.startsWith(TOKEN_PREFIX)) {
      const hash = createHash('sha256').update(credential).digest('base64url').slice(0, 22);
      checks.push(check(`t:${hash}`, d.cfg.STATUS_READS_PER_MINUTE_PER_TOKEN, 'reads_token'));
    }
    const refused = (await Promise.all(checks)).find((r) => !r.ok);
    if (!refused) return next();
    d.stats.limited[refused.limit]++;
    const retryAfter = String(Math.max(1, Math.ceil(refused.retryAfterMs / 1000)));
    const why = refused.limit === 'reads_ip' ? 'too many status reads from this address' : 'too many status reads with this token';
    sendError(res, 'rate_limited', `${why}; retry after ${retryAfter} s, or follow the event stream instead of polling`, { 'Retry-After': retryAfter });
  };
}
