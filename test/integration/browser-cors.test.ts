import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSystem, type TestSystem } from '../helpers/system.js';

/**
 * CORS as a real browser enforces it (Debian's Chromium, headless): a page on an allowed origin creates a
 * session with its API key (a preflighted POST) and streams it with EventSource; the same page on another
 * origin is refused by the browser.
 */

const PAGE = '<!doctype html><meta charset="utf-8"><title>cors</title>';
let browser: Browser;
let sys: TestSystem;
const pages: Server[] = [];
const origin = (s: Server) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`;

beforeAll(async () => {
  for (let i = 0; i < 2; i++) {
    const s = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE));
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    pages.push(s);
  }
  sys = await startSystem({ env: { CORS_ORIGINS: origin(pages[0]!) } });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'] });
});
afterAll(async () => {
  await browser?.close();
  await sys?.close();
  for (const s of pages) await new Promise((r) => s.close(r));
});

/** In the page: create a session, then read it to the end with EventSource; reports what happened. */
async function runInPage(pageOrigin: string): Promise<{ created: boolean; events: string[]; error?: string }> {
  const page = await browser.newPage();
  try {
    await page.goto(pageOrigin);
    return await page.evaluate(
      async ({ api, key }) => {
        let s: { eventsUrl: string };
        try {
          const res = await fetch(`${api}/v1/sessions`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ messages: [{ role: 'user', content: 'from a page' }], max_tokens: 3 }) });
          s = (await res.json()) as { eventsUrl: string };
        } catch (e) {
          return { created: false, events: [], error: String(e) };
        }
        const events: string[] = [];
        await new Promise<void>((resolve) => {
          const es = new EventSource(api + s.eventsUrl);
          for (const type of ['delta', 'usage', 'done']) es.addEventListener(type, () => events.push(type));
          es.addEventListener('done', () => (es.close(), resolve()));
          es.onerror = () => (es.close(), resolve());
        });
        return { created: true, events };
      },
      { api: sys.edges[0]!.url, key: sys.apiKey },
    );
  } finally {
    await page.close();
  }
}

describe('CORS in a real browser', () => {
  it('an allowed origin creates a session (preflighted POST with Authorization) and streams it with EventSource', async () => {
    const r = await runInPage(origin(pages[0]!));
    expect(r.error).toBeUndefined();
    expect(r.created).toBe(true);
    expect(r.events.at(-1)).toBe('done');
    expect(r.events).toContain('delta');
  });

  it('any other origin is refused by the browser before the page sees an answer', async () => {
    const r = await runInPage(origin(pages[1]!));
    expect(r.created).toBe(false);
    expect(r.error).toMatch(/TypeError|Failed to fetch/);
  });
});
