import { ERRORS, type ErrorCode } from '@relaycast/protocol';
import type { Response } from 'express';

/**
 * Every error answer has the same shape, `{error: {code, message}}`, and the status the catalogue
 * (packages/protocol/src/errors.ts) gives its code, so a code cannot travel with two statuses.
 */
export function sendError(res: Response, code: ErrorCode, message: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.status(ERRORS[code].status).set(headers).json({ error: { code, message } });
}
