import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Subscribe tokens: `rt1.<payload>.<signature>`, both parts base64url.
 *
 *   payload   = base64url(JSON {"s": session id, "t": tenant, "e": expiry in ms since the epoch})
 *   signature = base64url(HMAC-SHA256(secret, "rt1." + payload))
 *
 * Any edge holding the shared secret verifies one without a Redis round trip. The version in the prefix lets
 * the format change later (an `rt2.` token would be refused here, not misread). The characters are all
 * URL-safe, so a token travels in a query string unescaped (EventSource cannot send headers).
 */
export const TOKEN_PREFIX = 'rt1.';
const MAX_TOKEN_CHARS = 512;
const PART = /^[A-Za-z0-9_-]+$/;

export interface TokenClaims {
  sessionId: string;
  tenant: string;
  /** Expiry, ms since the epoch. */
  expiresAt: number;
}

export type TokenFault = 'malformed' | 'signature' | 'expired';

/** A token that cannot be used; `fault` says why (for the error message, never for logs of the token). */
export class TokenError extends Error {
  override name = 'TokenError';
  constructor(readonly fault: TokenFault, message: string) {
    super(message);
  }
}

export class TokenSigner {
  private readonly secrets: readonly string[];

  /** `secrets[0]` signs; every one verifies, so a secret can be rotated without cutting live tokens off. */
  constructor(secrets: readonly string[]) {
    if (secrets.length === 0 || secrets.some((s) => s.length === 0)) throw new Error('TokenSigner needs at least one non-empty secret');
    this.secrets = secrets;
  }

  mint(sessionId: string, tenant: string, ttlMs: number, now = Date.now()): { token: string; expiresAt: number } {
    const expiresAt = now + ttlMs;
    const payload = Buffer.from(JSON.stringify({ s: sessionId, t: tenant, e: expiresAt })).toString('base64url');
    return { token: `${TOKEN_PREFIX}${payload}.${sign(this.secrets[0]!, payload)}`, expiresAt };
  }

  /** The token's claims, or a {@link TokenError}. The signature is checked before anything in it is believed. */
  verify(token: string, now = Date.now()): TokenClaims {
    if (token.length > MAX_TOKEN_CHARS || !token.startsWith(TOKEN_PREFIX)) throw new TokenError('malformed', 'not a subscribe token');
    const parts = token.slice(TOKEN_PREFIX.length).split('.');
    if (parts.length !== 2 || !PART.test(parts[0]!) || !PART.test(parts[1]!)) throw new TokenError('malformed', 'not a subscribe token');
    const [payload, signature] = parts as [string, string];
    // Compare the encoded strings: base64url decoding ignores stray bits, so comparing decoded bytes would
    // accept more than one spelling of a signature.
    const given = Buffer.from(signature);
    const ok = this.secrets.some((secret) => {
      const expected = Buffer.from(sign(secret, payload));
      return expected.length === given.length && timingSafeEqual(expected, given);
    });
    if (!ok) throw new TokenError('signature', 'token signature is invalid');
    let claims: { s?: unknown; t?: unknown; e?: unknown };
    try {
      claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as typeof claims;
    } catch {
      throw new TokenError('malformed', 'token payload is unreadable');
    }
    if (typeof claims.s !== 'string' || typeof claims.t !== 'string' || typeof claims.e !== 'number') throw new TokenError('malformed', 'token payload is incomplete');
    if (claims.e <= now) throw new TokenError('expired', 'token expired; mint a new one');
    return { sessionId: claims.s, tenant: claims.t, expiresAt: claims.e };
  }
}

function sign(secret: string, payload: string): string {
  return createHmac('sha256', secret).update(TOKEN_PREFIX + payload).digest('base64url');
}
