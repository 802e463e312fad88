import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer } from '../helpers/auth.js';
import { DemoPage, launchChromium, type Browser } from '../helpers/browser.js';
import { startSystem, type TestSystem } from '../helpers/system.js';

/** The demo page in a real Chromium follows a published session (publish API) like a generated one. */
describe('the demo page watching a published session', () => {
  let sys: TestSystem;
  let b: Browser;
  beforeAll(async () => {
    const [system, browser] = await Promise.allSettled([startSystem({ edges: 1 }), launchChromium()]);
    if (system.status === 'fulfilled') sys = system.value;
    if (browser.status === 'fulfilled') b = browser.value;
    for (const r of [system, browser]) if (r.status === 'rejected') throw r.reason;
  }, 60_000);
  afterAll(async () => {
    await b?.close();
    await sys?.close();
  });

  it('shows each published piece as it is published, then the finished answer', async () => {
    const base = sys.edges[0]!.url;
    const created = await fetch(`${base}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json', ...bearer(sys.apiKey) }, body: JSON.stringify({ producer: true }) });
    const s = (await created.json()) as { id: string; token: string; producer: { token: string; publishUrl: string } };
    const publish = (seq: number, events: unknown[]) =>
      fetch(`${base}${s.producer.publishUrl}`, { method: 'POST', headers: { 'content-type': 'application/json', ...bearer(s.producer.token) }, body: JSON.stringify({ epoch: 1, seq, events }) });
    const v = await DemoPage.open(b, `${base}/#session=${s.id}&token=${s.token}`, { withoutStoredKey: true });
    expect((await publish(1, [{ type: 'delta', text: 'Published ' }])).status).toBe(200);
    // The first piece is on screen before the rest is even sent.
    await v.waitFor(() => (document.getElementById('answer')?.textContent ?? '') === 'Published ', undefined);
    expect((await publish(2, [{ type: 'app.progress', data: { pct: 50 } }, { type: 'delta', text: 'by a backend.' }, { type: 'done', finishReason: 'stop' }])).status).toBe(200);
    await v.waitState('done');
    expect(await v.answer()).toBe('Published by a backend.');
    expect(await v.loggedIds()).toEqual(expect.arrayContaining([1, 3, 4]));
    expect(v.unexpectedConsole()).toEqual([]);
    await v.close();
  }, 60_000);
});
