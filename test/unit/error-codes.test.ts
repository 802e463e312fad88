import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERRORS } from '@relaycast/protocol';

const ROOT = join(import.meta.dirname, '../..');

/**
 * services/mock-model is left out on purpose: it speaks the providers' wire formats, so the codes it sends
 * are OpenAI's, Anthropic's and Ollama's (`rate_limit_exceeded`, `overloaded_error`), not Relaycast's.
 */
const SOURCE_DIRS = ['packages/protocol/src', 'packages/shared/src', 'packages/processors/src', 'packages/client/src', 'services/ingest/src', 'services/edge/src'];

function* sources(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* sources(p);
    else if (e.name.endsWith('.ts')) yield p;
  }
}

/**
 * Where a string literal is used as an error code: an object's `code: '…'`, or the first argument of a
 * function or class that takes one (an answer's sender, an error event, an error with a code).
 */
const CODE_SITES = [
  /\bcode: '([a-z][a-z0-9_]*)'/g,
  /\b(?:sendError|sendOpenAIError|sendNativeError|openaiError|errorEvent|UpstreamError|PublishInputError|PublishRefused|refuse|fail)\((?:res, )?'([a-z][a-z0-9_]*)'/g,
];

function literalCodes(): { code: string; where: string }[] {
  const found: { code: string; where: string }[] = [];
  for (const dir of SOURCE_DIRS) {
    for (const file of sources(join(ROOT, dir))) {
      const lines = readFileSync(file, 'utf8').split('\n');
      lines.forEach((line, i) => {
        // zod's own issue codes (`ctx.addIssue({code: 'custom'})`) are not ours.
        if (line.includes('addIssue(')) return;
        for (const re of CODE_SITES) for (const m of line.matchAll(re)) found.push({ code: m[1]!, where: `${relative(ROOT, file)}:${i + 1}` });
      });
    }
  }
  return found;
}

describe('the error catalogue', () => {
  it('holds every code a service or package writes as a literal (compat surfaces, publish API, client results included)', () => {
    const found = literalCodes();
    // The scan sees the codes it must (so a change to the patterns cannot quietly make it pass).
    for (const code of ['unsupported_part', 'chat_not_found', 'missing_api_key', 'stream_interrupted', 'session_not_found', 'upstream_truncated', 'connection_failed']) {
      expect(found.map((f) => f.code)).toContain(code);
    }
    const unknown = found.filter((f) => !Object.hasOwn(ERRORS, f.code));
    expect(unknown).toEqual([]);
  });

  it('gives every code a status that is an HTTP error or 0 (in-band and client-side only)', () => {
    for (const [code, e] of Object.entries(ERRORS)) expect(e.status === 0 || (e.status >= 400 && e.status <= 599), code).toBe(true);
  });
});
