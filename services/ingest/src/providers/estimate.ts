import { CHARS_PER_TOKEN } from '@relaycast/processors';
import type { Usage } from '@relaycast/protocol';
import type { GenerateJob } from '@relaycast/shared';

/** Only used when the provider never reports usage, and marked so. */

export function estimateTokens(job: GenerateJob, outputChars: number): Usage {
  const input = job.messages.reduce((n, m) => n + m.content.length, 0);
  return { inputTokens: Math.ceil(input / CHARS_PER_TOKEN), outputTokens: Math.ceil(outputChars / CHARS_PER_TOKEN), estimated: true };
}
