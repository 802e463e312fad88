import { CONTENT_TYPES, contentText, type RelaycastEvent } from '@relaycast/protocol';

/**
 * The one place that decides what counts as content and how much of it there is. "Content started" is
 * the line after which an upstream failure can no longer be retried or fall back (upstream.ts), and the
 * moment time-to-first-token is measured; the character count is what usage is estimated from when the
 * provider never reports it.
 */
export class OutputMeter {
  /** performance.now() of the first content event; 0 until then. */
  firstAt = 0;
  chars = 0;

  constructor(private readonly onFirst?: () => void) {}

  get started(): boolean {
    return this.firstAt !== 0;
  }

  /** The provider's own output token count, from its last `usage` event. */
  reportedTokens = 0;

  isContent(e: RelaycastEvent): boolean {
    return CONTENT_TYPES.has(e.type);
  }

  /** Counts `e`; returns true when it is the first content event. */
  see(e: RelaycastEvent): boolean {
    if (e.type === 'usage') this.reportedTokens = e.outputTokens;
    if (!this.isContent(e)) return false;
    this.chars += contentText(e).length;
    if (this.firstAt !== 0) return false;
    this.firstAt = performance.now();
    this.onFirst?.();
    return true;
  }
}
