/** An HTTP call answered with an error status; `code` is the server's `{error: {code}}` (or `http_<status>`). */
export class RelaycastHttpError extends Error {
  override name = 'RelaycastHttpError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Seconds, from a `Retry-After` header (429, 503). */
    readonly retryAfter?: number,
  ) {
    super(message);
  }
}

/** The server could not be reached, or did not answer within the request timeout. */
export class RelaycastNetworkError extends Error {
  override name = 'RelaycastNetworkError';
}

/** A call needs something the client was not given (an API key, a token URL). */
export class RelaycastUsageError extends Error {
  override name = 'RelaycastUsageError';
}
