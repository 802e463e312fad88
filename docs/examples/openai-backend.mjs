#!/usr/bin/env node
// A Node backend that calls an OpenAI-compatible model with its own code, post-processes each token, and
// publishes through Relaycast with the TypeScript SDK (docs/publishing.md). Cancel reaches it: the
// session's signal aborts the model request.
//
//   RELAYCAST_URL=http://127.0.0.1:8080 RELAYCAST_API_KEY=rk_... OPENAI_BASE_URL=http://127.0.0.1:8090 \
//     [OPENAI_API_KEY=...] [OPENAI_MODEL=gpt-4o-mini] node docs/examples/openai-backend.mjs "your prompt"
import { RelaycastPublisher } from '@relaycast/client';

const env = (name, fallback) => process.env[name] ?? fallback ?? (() => { throw new Error(`set ${name}`); })();
const prompt = process.argv[2] ?? 'Say hello';

/** Text pieces of an OpenAI Chat Completions stream, read with our own line parser. */
async function* completion(signal) {
  const res = await fetch(`${env('OPENAI_BASE_URL')}/v1/chat/completions`, {
    method: 'POST',
    signal,
    headers: { 'content-type': 'application/json', ...(process.env.OPENAI_API_KEY ? { authorization: `Bearer ${process.env.OPENAI_API_KEY}` } : {}) },
    body: JSON.stringify({ model: env('OPENAI_MODEL', 'gpt-4o-mini'), stream: true, max_tokens: 40, messages: [{ role: 'user', content: prompt }] }),
  });
  if (!res.ok) throw new Error(`model answered ${res.status}`);
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const chunk of res.body) {
    buffered += decoder.decode(chunk, { stream: true });
    const lines = buffered.split('\n');
    buffered = lines.pop();
    for (const line of lines) {
      if (!line.startsWith('data:')) continue;
      const data = line.slice(5).trim();
      if (data === '[DONE]') return;
      const text = JSON.parse(data).choices?.[0]?.delta?.content;
      if (text) yield text;
    }
  }
}

/** The backend's own step on each token (moderation, rewriting, …): here, shouting it. */
const postProcess = (text) => text.toUpperCase();

const relaycast = new RelaycastPublisher({ baseUrl: env('RELAYCAST_URL'), apiKey: env('RELAYCAST_API_KEY') });
const s = await relaycast.sessions.create({ label: 'node-backend' });
console.log(`subscribe: ${env('RELAYCAST_URL')}${s.info.eventsUrl}`);
let tokens = 0;
try {
  await s.pipe((async function* () {
    for await (const text of completion(s.signal)) {
      tokens++;
      yield { type: 'delta', text: postProcess(text) };
    }
    yield { type: 'backend.stats', data: { tokens } };
  })());
  await s.end({ type: 'done', finishReason: 'stop' });
  console.log(`published ${tokens} tokens to session ${s.id}`);
} catch (e) {
  if (s.signal.aborted) console.log(`session ${s.id} was cancelled; the model request was aborted`);
  else {
    await s.end({ type: 'error', code: 'backend_failed', message: String(e.message ?? e), retryable: false }).catch(() => undefined);
    throw e;
  }
}
