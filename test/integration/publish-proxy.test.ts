import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer } from '../helpers/auth.js';
import { startNginx, type TestNginx } from '../helpers/nginx.js';
import { readSse, type ReceivedEvent } from '../helpers/sse.js';
import { startSystem, type TestSystem } from '../helpers/system.js';

/**
 * A streaming publish through deploy/nginx.conf run by the real nginx binary: the request body must reach
 * the edge as it is written (proxy_request_buffering off), or a producer piping a model through the
 * balancer would have its tokens held until the whole answer was written.
 */
let sys: TestSystem;
let lb: TestNginx;
beforeAll(async () => {
  sys = await startSystem({ edges: 2 });
  lb = await startNginx({ upstreams: sys.edges.map((e) => `127.0.0.1:${e.port}`) });
});
afterAll(async () => {
  await lb?.stop();
  await sys?.close();
});

async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('streaming publish through nginx', () => {
  it('each line reaches subscribers while the request body is still open', async () => {
    const created = await fetch(`${lb.url}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json', ...bearer(sys.apiKey) }, body: JSON.stringify({ producer: true }) });
    expect(created.status).toBe(201);
    const p = (await created.json()) as { eventsUrl: string; producer: { token: string; publishUrl: string } };
    const seen: ReceivedEvent[] = [];
    const reading = readSse(lb.url, p.eventsUrl, { onEvent: (e) => seen.push(e) });
    let answer = '';
    let status = 0;
    const done = new Promise<void>((resolve, reject) => {
      const req = request(new URL(`${p.producer.publishUrl}?epoch=1&seq=1`, lb.url), { method: 'POST', headers: { 'content-type': 'application/x-ndjson', ...bearer(p.producer.token) } }, (res) => {
        status = res.statusCode ?? 0;
        res.setEncoding('utf8').on('data', (c: string) => (answer += c)).on('end', resolve).on('error', reject);
      });
      req.on('error', reject);
      void (async () => {
        for (let i = 1; i <= 3; i++) {
          req.write(`{"type":"delta","text":"t${i} "}\n`);
          // The next line is written only once this one was seen by a subscriber: nothing may be buffered.
          await until(() => seen.length === i, `line ${i} to pass nginx while the body is open`);
        }
        req.end('{"type":"done","finishReason":"stop"}\n');
      })().catch(reject);
    });
    await done;
    expect(status, answer).toBe(200);
    expect(JSON.parse(answer)).toMatchObject({ pseq: 4, ended: true });
    const read = await reading;
    expect(read.events.map((e) => e.event)).toEqual(['delta', 'delta', 'delta', 'done']);
  });
});
