import type { Request, Response } from 'express';
import { parseEvent, type Usage } from '@relaycast/protocol';
import type { SessionMeta } from '@relaycast/store';
import { isCustomEventType } from '../publish/events.js';
import { BodyCache, encodeBody, negotiateEncoding, notModified } from '../status-body.js';
import { authorized, links, type SessionsDeps } from './sessions.js';

// Encoded answers of finished sessions kept per edge; a 620 KB answer is about 60 KB as br.
const CACHE_BYTES = 16 * 1024 * 1024;

/**
 * `GET /v1/sessions/:id`: the session's answer so far, rebuilt from its events. A finished session's answer
 * never changes, so it carries a (weak) ETag: `If-None-Match` gets 304 without a read of its events, and the
 * encoded body is kept, so rereads of one answer cost neither a rebuild nor a recompression. Compressed (br
 * or gzip) when the client accepts it. The read rate is bounded in front of this (status-reads.ts).
 */
export function statusHandler(d: SessionsDeps) {
  const cache = new BodyCache(CACHE_BYTES);
  return async (req: Request, res: Response): Promise<void> => {
    const a = await authorized(d, req, res, { keys: true });
    if (!a) return;
    const { id, meta } = a;
    res.vary('Accept-Encoding');
    const encoding = negotiateEncoding(req.get('accept-encoding'));
    const build = async () => encodeBody(Buffer.from(JSON.stringify(await statusOf(d, id, meta))), encoding);
    let out: Awaited<ReturnType<typeof build>>;
    if (meta.terminal !== undefined) {
      // endedAt too: a session recreated under the same id after a data loss must not match an old tag.
      const etag = `W/"${meta.seq}.${meta.endedAt ?? 0}"`;
      res.set({ ETag: etag, 'Cache-Control': 'private, no-cache' });
      if (notModified(req, etag)) {
        res.status(304).end();
        return;
      }
      out = await cache.get(`${id}\n${etag}\n${encoding}`, build);
    } else {
      res.set('Cache-Control', 'no-store');
      out = await build();
    }
    res.set('Content-Type', 'application/json; charset=utf-8');
    if (out.encoding !== 'identity') res.set('Content-Encoding', out.encoding);
    res.set('Content-Length', String(out.body.length));
    res.end(out.body);
  };
}

async function statusOf(d: SessionsDeps, id: string, meta: SessionMeta): Promise<Record<string, unknown>> {
  // `text` is the answer only; reasoning and tool calls are reported apart.
  let text = '';
  let thinking = '';
  let toolCalls: { index: number; id?: string; name?: string; arguments: string }[] = [];
  let usage: Usage | undefined;
  let finishReason: string | undefined;
  let error: { code: string; message: string } | undefined;
  for (let from = 1; ; ) {
    const page = await d.store.range(id, from, d.cfg.REPLAY_PAGE_SIZE);
    for (const entry of page) {
      if (isCustomEventType(entry.type)) continue; // a producer's own event (publish API): not part of the answer
      const e = parseEvent(entry.type, entry.data);
      if (e.type === 'delta') text += e.text;
      else if (e.type === 'thinking') thinking += e.text;
      else if (e.type === 'tool_call') {
        let call = toolCalls.find((c) => c.index === e.index);
        if (!call) toolCalls.push((call = { index: e.index, arguments: '' }));
        // Keep the first non-empty id and name: continuation pieces may carry "" (OpenAI-format servers).
        if (e.id && !call.id) call.id = e.id;
        if (e.name && !call.name) call.name = e.name;
        call.arguments += e.arguments;
      } else if (e.type === 'reset') {
        text = '';
        thinking = '';
        toolCalls = [];
      }
      else if (e.type === 'usage') usage = { inputTokens: e.inputTokens, outputTokens: e.outputTokens, estimated: e.estimated };
      else if (e.type === 'done') {
        finishReason = e.finishReason;
        if (e.usage) usage = e.usage;
      } else if (e.type === 'error') error = { code: e.code, message: e.message };
    }
    if (page.length < d.cfg.REPLAY_PAGE_SIZE) break;
    from = page[page.length - 1]!.seq + 1;
  }
  return {
    id,
    status: meta.status,
    model: meta.model,
    createdAt: meta.createdAt,
    startedAt: meta.startedAt ?? null,
    endedAt: meta.endedAt ?? null,
    text,
    thinking,
    toolCalls,
    usage: usage ?? null,
    finishReason: finishReason ?? null,
    error: error ?? null,
    lastEventId: String(meta.seq),
    ...links(id),
  };
}
