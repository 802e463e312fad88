/**
 * Every error code Relaycast emits, in one place: HTTP answers (`{error: {code, message}}`) and in-band
 * `error` events alike. `status` is the HTTP status an answer with this code carries (in-band-only codes
 * name the status a status read reports for them: none, so 0); `retryable` says whether the same request
 * may succeed later without being changed.
 */
export const ERRORS = {
  // Requests
  invalid_request: { status: 400, retryable: false, meaning: 'the body does not match the schema' },
  invalid_json: { status: 400, retryable: false, meaning: 'the body is not JSON' },
  invalid_cursor: { status: 400, retryable: false, meaning: 'Last-Event-ID or lastEventId is not one decimal event id' },
  bad_request: { status: 400, retryable: false, meaning: 'the request could not be read' },
  unknown_model: { status: 400, retryable: false, meaning: 'no model route has this name' },
  unauthorized: { status: 401, retryable: false, meaning: 'no, an unknown or an expired credential' },
  forbidden: { status: 403, retryable: false, meaning: 'the credential is valid but not for this resource' },
  model_forbidden: { status: 403, retryable: false, meaning: 'the API key may not use this model' },
  cors_forbidden: { status: 403, retryable: false, meaning: 'this origin may not call the API from a browser' },
  not_found: { status: 404, retryable: false, meaning: 'no such route' },
  session_not_found: { status: 404, retryable: false, meaning: 'unknown or expired session' },
  method_not_allowed: { status: 405, retryable: false, meaning: 'the route exists for other methods (see Allow)' },
  body_too_large: { status: 413, retryable: false, meaning: 'the body exceeds MAX_BODY_BYTES' },
  too_many_messages: { status: 413, retryable: false, meaning: 'more messages than a session accepts' },
  message_too_large: { status: 413, retryable: false, meaning: 'one message is longer than a session accepts' },
  unsupported_encoding: { status: 415, retryable: false, meaning: 'the body\'s charset or Content-Encoding is not accepted' },
  rate_limited: { status: 429, retryable: true, meaning: 'a per-key, per-address or per-session limit; see Retry-After' },
  // The service
  internal: { status: 500, retryable: false, meaning: 'a bug: the answer could not be made' },
  not_ready: { status: 503, retryable: true, meaning: 'Redis unreachable or the worker stopped' },
  draining: { status: 503, retryable: true, meaning: 'this process is shutting down; another one answers' },
  edge_full: { status: 503, retryable: true, meaning: 'this edge holds MAX_CONNECTIONS streams' },
  timeout: { status: 503, retryable: true, meaning: 'no answer within REQUEST_TIMEOUT_MS (storage unreachable?)' },
  web_not_built: { status: 503, retryable: false, meaning: 'the web page was not built' },
  // In-band only: the last event of a stream
  stream_lost: { status: 0, retryable: false, meaning: "the session's stream vanished from Redis" },
  worker_failed: { status: 0, retryable: false, meaning: 'the generation failed on every attempt' },
  generation_timeout: { status: 0, retryable: false, meaning: 'the generation ran past GENERATION_TIMEOUT_MS' },
  processor_failed: { status: 0, retryable: false, meaning: 'a processor threw' },
  upstream_http: { status: 0, retryable: false, meaning: 'the model answered an HTTP error (retryable for 408, 429, 5xx)' },
  upstream_error: { status: 0, retryable: false, meaning: 'the model sent an error in its stream' },
  upstream_protocol: { status: 0, retryable: false, meaning: 'the model sent something that is not its protocol' },
  upstream_truncated: { status: 0, retryable: false, meaning: 'the model closed the stream without its end marker' },
  upstream_timeout: { status: 0, retryable: false, meaning: 'the model did not answer, or went silent, in time' },
  upstream_unreachable: { status: 0, retryable: true, meaning: 'the model could not be connected to' },
  upstream_network: { status: 0, retryable: true, meaning: 'the connection to the model was cut' },
} as const satisfies Record<string, { status: number; retryable: boolean; meaning: string }>;

export type ErrorCode = keyof typeof ERRORS;

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERRORS, code);
}

/** The HTTP status of an answer carrying `code`. */
export function httpStatusOf(code: ErrorCode): number {
  return ERRORS[code].status;
}

/** An in-band `error` event for `code`; retryable as the catalogue says unless this instance knows better. */
export function errorEvent(code: ErrorCode, message: string, retryable: boolean = ERRORS[code].retryable): { type: 'error'; code: ErrorCode; message: string; retryable: boolean } {
  return { type: 'error', code, message, retryable };
}
