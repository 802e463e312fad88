import type { Response } from 'express';

/** Every error answer has the same shape: `{error: {code, message}}`. */
export function sendError(res: Response, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.status(status).set(headers).json({ error: { code, message } });
}
