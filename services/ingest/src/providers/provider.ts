import type { EventOf, RelaycastEvent, Usage } from '@relaycast/protocol';
import type { GenerateJob, Route } from '@relaycast/shared';
import { UpstreamError } from '../errors.js';
import { estimateTokens } from './estimate.js';

export interface UpstreamRequest {
  url: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
}

/** One message from the upstream body: an SSE event, or one NDJSON line (data only). */
export interface UpstreamMessage {
  event?: string | undefined;
  data: string;
}

/**
 * Turns one provider's wire format into Relaycast events. A decoder is made per request and sees each
 * message in order (upstream.ts's BodyDecoder calls it, and counts what it produces); it throws
 * {@link UpstreamError} for in-band errors and malformed data.
 */
export interface StreamDecoder {
  /** Set once the end marker came: later messages are not given to decode(). */
  readonly ended: boolean;
  /** Appends the events this message produces (possibly none) to `out`. */
  decode(m: UpstreamMessage, out: RelaycastEvent[]): void;
  /**
   * Called at EOF with the content characters it produced: the final `done` (usage never received is
   * estimated from them), or throws `upstream_truncated` if the end marker never came.
   */
  end(outputChars: number): EventOf<'done'>;
}

/** One wire format: how to ask for a stream and how to read it. */
export interface Provider {
  readonly format: 'sse' | 'ndjson';
  request(route: Route, job: GenerateJob, apiKey: string | undefined): UpstreamRequest;
  decoder(job: GenerateJob, route: Route): StreamDecoder;
}

/**
 * What decoders share: the end marker, the finish reason, usage (estimated from the content produced, and
 * marked so, when never received), and the pieces that need state across messages (reasoning parts, tool calls).
 */
export abstract class BaseDecoder implements StreamDecoder {
  ended = false;
  protected finishReason: string | undefined;
  private usage: Usage | undefined;
  private thinkingPartKey: string | undefined;
  /** Tool call index -> whether its id and name were sent. */
  private readonly toolSeen = new Map<number, { id: boolean; name: boolean }>();

  constructor(protected readonly job: GenerateJob) {}

  abstract decode(m: UpstreamMessage, out: RelaycastEvent[]): void;

  protected text(out: RelaycastEvent[], type: 'delta' | 'thinking', text: unknown): void {
    if (typeof text !== 'string' || text.length === 0) return;
    out.push({ type, text });
  }

  /**
   * Reasoning that comes in parts (Responses summary parts, Anthropic thinking blocks): the first piece of
   * each part after the first starts with a blank line, as the providers' own UIs separate them.
   */
  protected thinkingPart(out: RelaycastEvent[], part: string, text: unknown): void {
    if (typeof text !== 'string' || text.length === 0) return;
    const sep = this.thinkingPartKey !== undefined && this.thinkingPartKey !== part ? '\n\n' : '';
    this.thinkingPartKey = part;
    this.text(out, 'thinking', sep + text);
  }

  /**
   * One piece of tool call `index`. The id and name are sent once, the first non-empty ones: OpenAI-format
   * servers repeat them on continuation pieces as `""`, which must not replace the real ones.
   */
  protected toolCall(out: RelaycastEvent[], index: number, id: unknown, name: unknown, args: unknown): void {
    const a = typeof args === 'string' ? args : '';
    const seen = this.toolSeen.get(index) ?? { id: false, name: false };
    const newId = typeof id === 'string' && id !== '' && !seen.id ? id : undefined;
    const newName = typeof name === 'string' && name !== '' && !seen.name ? name : undefined;
    this.toolSeen.set(index, { id: seen.id || newId !== undefined, name: seen.name || newName !== undefined });
    if (!a && newId === undefined && newName === undefined) return; // an empty piece says nothing
    out.push({ type: 'tool_call', index, ...(newId !== undefined ? { id: newId } : {}), ...(newName !== undefined ? { name: newName } : {}), arguments: a });
  }

  /** Records the provider's own count and emits it as a `usage` event. */
  protected reportUsage(out: RelaycastEvent[], inputTokens: number, outputTokens: number, estimated = false): void {
    this.usage = { inputTokens, outputTokens, estimated };
    out.push({ type: 'usage', ...this.usage });
  }

  /** For a provider that reports output tokens but not input ones. */
  protected estimatedInputTokens(): number {
    return estimateTokens(this.job, 0).inputTokens;
  }

  end(outputChars: number): EventOf<'done'> {
    if (!this.ended) throw new UpstreamError('upstream_truncated', 'upstream closed the stream without its end marker');
    return { type: 'done', finishReason: this.finishReason ?? 'stop', usage: this.usage ?? estimateTokens(this.job, outputChars) };
  }
}

export function parseJson(data: string): Record<string, any> {
  let v: unknown;
  try {
    v = JSON.parse(data);
  } catch {
    throw new UpstreamError('upstream_protocol', 'upstream sent a frame that is not valid JSON');
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new UpstreamError('upstream_protocol', 'upstream sent a frame that is not a JSON object');
  return v as Record<string, any>;
}

/** Provider error types that say "try again" (overload, rate limit, server fault). */
const RETRYABLE_TYPES = new Set(['server_error', 'api_error', 'overloaded_error', 'rate_limit_error', 'rate_limit_exceeded', 'internal_error', 'service_unavailable']);

/** An error the provider reported inside a 200 stream. */
export function inBandError(type: unknown, message: unknown): UpstreamError {
  const t = typeof type === 'string' && type ? type : undefined;
  const text = typeof message === 'string' && message ? message.slice(0, 500) : 'upstream reported an error';
  return new UpstreamError('upstream_error', t ? `${t}: ${text}` : text, t !== undefined && RETRYABLE_TYPES.has(t));
}

/** Maps a provider's finish reason onto Relaycast's (stop, length, tool_calls, content_filter); others pass through. */
export function finishReason(raw: unknown, map: Record<string, string>): string | undefined {
  if (typeof raw !== 'string' || !raw) return undefined;
  return map[raw] ?? raw;
}

export const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.round(v) : undefined);
