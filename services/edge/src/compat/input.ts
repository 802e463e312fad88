import { z } from 'zod';
import type { GenerateJob } from '@relaycast/shared';
import type { EdgeConfig } from '../config.js';
import { mockSchema } from '../routes/sessions.js';
import type { Refusal } from './start.js';

type Message = GenerateJob['messages'][number];

/** Text content: a string, or content parts of which only text ones can be carried. */
const textPart = z.looseObject({ type: z.enum(['text', 'input_text', 'output_text']), text: z.string() });
const content = z.union([z.string(), z.array(textPart)]);

/** A content value as the native request's single string. */
export function textOf(c: z.infer<typeof content>): string {
  return typeof c === 'string' ? c : c.map((p) => p.text).join('');
}

export const chatMessage = z.looseObject({ role: z.enum(['system', 'developer', 'user', 'assistant']), content: content.nullable().optional() });
export const responsesItem = z.looseObject({ type: z.literal('message').optional(), role: z.enum(['system', 'developer', 'user', 'assistant']), content });

/** Maps compatible roles onto the native three: `developer` is OpenAI's newer name for `system`. */
export function nativeMessage(role: 'system' | 'developer' | 'user' | 'assistant', text: string): Message {
  return { role: role === 'developer' ? 'system' : role, content: text };
}

/** The native limits on messages (MAX_MESSAGES, MAX_MESSAGE_CHARS), checked on the mapped messages. */
export function checkMessages(cfg: EdgeConfig, messages: Message[], param: string): Refusal | undefined {
  if (messages.length === 0) return { code: 'invalid_request', message: `${param}: at least one message`, param };
  if (messages.length > cfg.MAX_MESSAGES) return { code: 'too_many_messages', message: `${param}: at most ${cfg.MAX_MESSAGES} messages`, param };
  const i = messages.findIndex((m) => m.content.length > cfg.MAX_MESSAGE_CHARS);
  if (i >= 0) return { code: 'message_too_large', message: `${param}.${i}: at most ${cfg.MAX_MESSAGE_CHARS} characters`, param };
  return undefined;
}

export const common = {
  model: z.string().max(64).optional(),
  temperature: z.number().min(0).max(2).nullable().optional(),
  seed: z.number().int().nullable().optional(),
  stream: z.boolean().nullable().optional(),
  mock: mockSchema.optional(),
  // Fields that do not change the answer: accepted and not forwarded.
  user: z.string().max(256).optional(),
  metadata: z.record(z.string(), z.string()).nullable().optional(),
  store: z.boolean().nullable().optional(),
};

/**
 * Fields OpenAI defines that the native request cannot carry. They change the answer, so they are refused
 * by name rather than dropped (an empty or default value changes nothing and is accepted).
 */
export function unsupported(body: Record<string, unknown>, names: readonly string[]): Refusal | undefined {
  for (const name of names) {
    const v = body[name];
    if (v === undefined || v === null || (Array.isArray(v) && v.length === 0)) continue;
    if (name === 'n' && v === 1) continue;
    return { code: 'unsupported_parameter', message: `${name} is not supported by Relaycast's OpenAI-compatible API (docs/compat.md)`, param: name };
  }
  return undefined;
}

/** A zod failure as the answer the surfaces give. */
export function invalid(error: z.ZodError): Refusal {
  const issue = error.issues[0]!;
  const param = issue.path.join('.') || null;
  if (issue.code === 'unrecognized_keys') return { code: 'unsupported_parameter', message: `unsupported field(s): ${issue.keys.join(', ')} (docs/compat.md)`, param: issue.keys[0]! };
  return { code: 'invalid_request', message: `${param ?? 'body'}: ${issue.message}`, ...(param ? { param } : {}) };
}
