import type { EventOf, GenerateJob, RelaycastEvent, Route } from '@relaycast/shared';

export interface UpstreamRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** One message from the upstream body: an SSE event, or one NDJSON line (data only). */
export interface UpstreamMessage {
  event?: string | undefined;
  data: string;
}

/**
 * Turns one provider's wire format into Relaycast events. A decoder is made per request and sees each
 * message in order; it throws {@link UpstreamError} for in-band errors and malformed data.
 */
export interface StreamDecoder {
  /** Returns the events this message produces (possibly none). */
  message(m: UpstreamMessage): RelaycastEvent[];
  /** Called at EOF: the final `done`, or throws `upstream_truncated` if the end marker never came. */
  end(): EventOf<'done'>;
}

export interface Provider {
  readonly format: 'sse' | 'ndjson';
  request(route: Route, job: GenerateJob, apiKey: string | undefined): UpstreamRequest;
  decoder(job: GenerateJob): StreamDecoder;
}
