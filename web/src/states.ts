import type { SubscriptionState, SubscriptionResult } from '@relaycast/client';

/** The page's states: the subscription's, plus idle (nothing asked yet) and offline (retrying on a timer). */
export type PageState = SubscriptionState | 'idle' | 'offline';

/** What the status pill says for each state: plain words, not protocol names (test/helpers/browser.ts reads these). */
export const STATE_WORDS: Record<PageState, string> = {
  idle: 'Ready',
  connecting: 'Connecting…',
  live: 'Answering…',
  resuming: 'Reconnecting…',
  offline: 'Cannot reach the server',
  done: 'Finished',
  error: 'Failed',
  cancelled: 'Stopped',
  closed: 'Closed',
};

const FINISH_WORDS: Record<string, string> = {
  stop: 'Finished.',
  length: 'Stopped: reached the token limit.',
  tool_calls: 'Finished: the model asks for a tool.',
  content_filter: 'Stopped by the content filter.',
};

/** One line under an answer saying how it ended, in words a person uses. */
export function outcome(r: Pick<SubscriptionResult, 'status' | 'finishReason' | 'usage' | 'cancelReason' | 'error'>): string {
  const tokens = r.usage ? ` ${r.usage.outputTokens} tokens${r.usage.estimated ? ' (estimated)' : ''}.` : '';
  if (r.status === 'done') return `${FINISH_WORDS[r.finishReason ?? 'stop'] ?? `Finished (${r.finishReason}).`}${tokens}`;
  if (r.status === 'cancelled') return r.cancelReason === 'client_request' ? 'Stopped: you stopped it.' : `Stopped${r.cancelReason ? ` (${r.cancelReason})` : ''}.`;
  if (r.status === 'closed') return 'No longer followed.';
  const e = r.error;
  if (!e) return 'Failed.';
  return e.source === 'server' ? `The model failed: ${e.message} (${e.code})` : `Could not follow the answer: ${e.message} (${e.code})`;
}
