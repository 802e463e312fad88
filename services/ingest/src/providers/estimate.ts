import type { GenerateJob, Usage } from '@relaycast/shared';

/** Roughly 4 characters per token: only used when the provider never reports usage, and marked so. */
export function estimateTokens(job: GenerateJob, output: string): Usage {
  const input = job.messages.reduce((n, m) => n + m.content.length, 0);
  return { inputTokens: Math.ceil(input / 4), outputTokens: Math.ceil(output.length / 4), estimated: true };
}
