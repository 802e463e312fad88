import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RelaycastEvent } from '@relaycast/protocol';
import { routeSchema, type GenerateJob, type ProviderName, type Route } from '@relaycast/shared';
import { UpstreamError } from '../../services/ingest/src/errors.js';
import { PROVIDER_ADAPTERS } from '../../services/ingest/src/providers/index.js';
import { BodyDecoder } from '../../services/ingest/src/upstream.js';
import { DEFAULT_TRANSCRIPT_DIR } from '../../services/mock-model/src/index.js';

/** Provider decoding through ingest's real body path, for tests that feed it transcripts. */
const decodeJob: GenerateJob = { sessionId: 's', model: 'm', messages: [{ role: 'user', content: 'What is up?' }], params: {} };
export const providerRoute = (provider: ProviderName, extra: Record<string, unknown> = {}): Route => routeSchema.parse({ provider, baseUrl: 'https://api.example.com', model: 'm-1', ...extra });
export const transcript = (name: string) => readFileSync(join(DEFAULT_TRANSCRIPT_DIR, name));

/** Feeds body chunks through BodyDecoder and returns every event, terminal last. */
export function decodeChunks(r: Route, chunks: Uint8Array[]): RelaycastEvent[] {
  const p = PROVIDER_ADAPTERS[r.provider];
  const events: RelaycastEvent[] = [];
  const body = new BodyDecoder(p.format, p.decoder(decodeJob, r), (e) => events.push(e), 1 << 20);
  try {
    for (const c of chunks) body.chunk(c);
    events.push(body.end());
  } catch (e) {
    if (!(e instanceof UpstreamError)) throw e;
    events.push(e.toEvent());
  }
  return events;
}

/** The first split of `bytes` (into two pieces, at every byte) whose events differ from `expected`, if any. */
export function firstBadSplit(r: Route, bytes: Buffer, expected: RelaycastEvent[]): { at: number; got: RelaycastEvent[] } | undefined {
  const want = JSON.stringify(expected);
  for (let i = 1; i < bytes.length; i++) {
    const got = decodeChunks(r, [bytes.subarray(0, i), bytes.subarray(i)]);
    if (JSON.stringify(got) !== want) return { at: i, got };
  }
  return undefined;
}

/** Tool calls reassembled from events the way GET /v1/sessions/:id does: first non-empty id and name. */
export function reassemble(events: RelaycastEvent[]): { index: number; id?: string; name?: string; arguments: string }[] {
  const calls: { index: number; id?: string; name?: string; arguments: string }[] = [];
  for (const e of events) {
    if (e.type !== 'tool_call') continue;
    let c = calls.find((x) => x.index === e.index);
    if (!c) calls.push((c = { index: e.index, arguments: '' }));
    if (e.id && !c.id) c.id = e.id;
    if (e.name && !c.name) c.name = e.name;
    c.arguments += e.arguments;
  }
  return calls;
}
