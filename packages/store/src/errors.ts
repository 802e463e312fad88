/** Errors of the session store, so callers branch with `instanceof`, never on message text. */

/** The append was refused because another attempt now owns the session (see append-3.lua). */
export class FencedError extends Error {
  override name = 'FencedError';
}

/** The session already has its terminal event; nothing may follow it. */
export class SessionEndedError extends Error {
  override name = 'SessionEndedError';
}

/** The session's metadata is gone (expired, never existed, or Redis lost its data). */
export class SessionMissingError extends Error {
  override name = 'SessionMissingError';
}
