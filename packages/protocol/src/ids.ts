/**
 * 16 random bytes = 128 bits, base64url: 22 characters, safe in URLs, keys and SSE fields. Web Crypto and
 * btoa rather than node:crypto and Buffer: both exist in Node 20+ and every browser.
 */
export function newSessionId(): string {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

const SESSION_ID = /^[A-Za-z0-9_-]{22}$/;
export function isSessionId(s: string): boolean {
  return SESSION_ID.test(s);
}

/**
 * Event ids on the wire are the per-session sequence number (1, 2, 3 …); the Redis Stream entry id is
 * `<seq>-0`. A cursor of "0" (or none) means "from the beginning".
 */
export function entryId(seq: number): string {
  return `${seq}-0`;
}

export function seqOfEntryId(id: string): number {
  const dash = id.indexOf('-');
  return Number(dash < 0 ? id : id.slice(0, dash));
}

export class InvalidCursorError extends Error {
  override name = 'InvalidCursorError';
}

/** Parses a Last-Event-ID; digits only, so no CR/LF/NUL or other session's tokens can pass. */
export function parseCursor(raw: string | undefined): number {
  if (raw === undefined || raw === '') return 0;
  if (!/^\d{1,15}$/.test(raw)) throw new InvalidCursorError('Last-Event-ID must be a decimal event id');
  return Number(raw);
}
