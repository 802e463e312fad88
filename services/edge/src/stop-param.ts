import { z } from 'zod';

/**
 * The `stop` field every surface that starts a generation accepts: a string or a list of strings. At most
 * 4, as OpenAI's Chat Completions allows ("up to 4 sequences"); OpenAI states no length, so each is bounded
 * at 1,000 characters, the bound of the route-level `stop` processor's sequences.
 */
export const MAX_STOP_SEQUENCES = 4;
export const MAX_STOP_CHARS = 1_000;

const sequence = z.string().min(1, 'a stop sequence cannot be empty').max(MAX_STOP_CHARS, `a stop sequence has at most ${MAX_STOP_CHARS} characters`);
export const stopSchema = z.union([sequence, z.array(sequence).max(MAX_STOP_SEQUENCES, `at most ${MAX_STOP_SEQUENCES} stop sequences`)], {
  error: `a string or an array of at most ${MAX_STOP_SEQUENCES} strings of 1 to ${MAX_STOP_CHARS} characters`,
});

/** The job's `params.stop`: always a list, duplicates dropped; none (undefined) for null, `[]` or no field. */
export function stopList(v: string | readonly string[] | null | undefined): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  const list = typeof v === 'string' ? [v] : [...new Set(v)];
  return list.length ? list : undefined;
}
