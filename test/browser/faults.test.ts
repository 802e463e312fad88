import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokensFor } from '../../services/mock-model/src/index.js';
import { DemoPage, launchChromium, type Browser } from '../helpers/browser.js';
import { startProcCluster, type ProcCluster } from '../helpers/procs.js';

describe('the demo page in a real Chromium while processes die', () => {
  let c: ProcCluster;
  let b: Browser;
  let base: string;
  beforeAll(async () => {
    // INGEST_DRAIN_MS=0: a SIGTERMed worker hands its generation back at once, so the other worker
    // retries it as attempt 2 (which appends `reset`) without waiting for a lock to expire.
    [c, b] = await Promise.all([startProcCluster({ edges: 1, workers: 2, env: { SSE_RETRY_MS: '100', COALESCE_MS: '0', INGEST_DRAIN_MS: '0' } }), launchChromium()]);
    base = c.edges[0]!.url;
  }, 60_000);
  afterAll(async () => {
    await b?.close();
    await c?.close();
  });

  const status = async (id: string) => (await (await fetch(`${base}/v1/sessions/${id}`)).json()) as { status: string; text: string; lastEventId: string };

  it('the edge is SIGKILLed mid-stream and restarted: the page\'s EventSource reconnects by itself with Last-Event-ID, exact text, no duplicate, no gap', async () => {
    const d = await DemoPage.open(b, `${base}/`);
    const prompt = 'kill the edge under the page';
    await d.ask({ prompt, maxTokens: 300, intervalMs: 20 });
    await d.waitWords(20);
    const edge = c.edges[0]!;
    await edge.kill('SIGKILL');
    await d.waitState('resuming');
    await edge.start();
    await d.waitState('done', 45_000);

    const id = await d.sessionId();
    const st = await status(id);
    expect(st.status).toBe('done');
    expect(await d.answer()).toBe(st.text);
    expect(st.text).toBe(tokensFor(prompt, 0, 300).join(''));
    const ids = await d.loggedIds();
    expect(ids).toEqual(ids.map((_, i) => i + 1));
    expect(ids.at(-1)).toBe(Number(st.lastEventId));
    expect(await d.page.locator('#stat-duplicates').textContent()).toBe('0');
    const log = await d.page.locator('#log').textContent();
    // Said once, however many times the browser retried while the edge was down; then the resume.
    expect(log!.split('connection lost after #')).toHaveLength(2);
    expect(log).toContain('connected: resumed after #');
    // The browser's own reconnection: the same URL (no ?lastEventId=), the cursor in the Last-Event-ID header.
    const streams = await d.streams();
    const resumed = streams.filter((r) => r.status === 200).slice(1);
    expect(resumed.length).toBeGreaterThanOrEqual(1);
    expect(resumed[0]!.url.searchParams.has('lastEventId')).toBe(false);
    expect(Number(resumed[0]!.lastEventId)).toBeGreaterThanOrEqual(20);
    expect(await d.page.locator('#stat-connections').textContent()).toBe('1');
    expect(await d.cspViolations()).toEqual([]);
    await d.close();
  }, 90_000);

  it('reset: a worker stops mid-generation, the retry\'s reset clears the partial answer and it restarts', async () => {
    const d = await DemoPage.open(b, `${base}/`);
    const prompt = 'restart the answer';
    await d.ask({ prompt, maxTokens: 250, intervalMs: 20 });
    await d.waitWords(20);
    const victim = await c.activeWorker();
    const before = await d.answer();
    await victim.kill('SIGTERM');
    await d.waitState('done', 45_000);

    const st = await status(await d.sessionId());
    expect(st.status).toBe('done');
    expect(await d.notices()).toContain('The answer restarted (attempt 2, retry): the partial answer was cleared.');
    expect(await d.page.locator('#log li.ev-reset').count()).toBe(1);
    // Cleared, not appended to: the page shows the new attempt's answer exactly once.
    expect(before.length).toBeGreaterThan(0);
    expect(await d.answer()).toBe(st.text);
    expect(st.text).toBe(tokensFor(prompt, 0, 250).join(''));
    await victim.start();
    await d.close();
  }, 90_000);
});
