/** An OpenAI chat stream whose content deltas are exactly `deltas`, as the provider would encode them. */
export function openaiTranscript(deltas: readonly string[]): string {
  const chunk = (d: object, finish: string | null = null) => `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: d, finish_reason: finish }] })}\n\n`;
  return chunk({ role: 'assistant', content: '' }) + deltas.map((t) => chunk({ content: t })).join('') + chunk({}, 'stop') + 'data: [DONE]\n\n';
}
