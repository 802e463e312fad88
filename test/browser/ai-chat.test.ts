import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer } from '../helpers/auth.js';
import { launchChromium, type Browser } from '../helpers/browser.js';
import { freePort } from '../helpers/ports.js';
import { readSse } from '../helpers/sse.js';
import { startSystem, type TestSystem } from '../helpers/system.js';

/**
 * A minimal page bundled with the `ai` package, served from its own origin, in a real Chromium against a
 * real edge: it is reloaded mid-answer and resumes the turn (useChat({ resume: true })'s behaviour).
 */

let sys: TestSystem;
let b: Browser;
let site: Server;
let origin: string;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rc-ai-page-'));
  await build({
    configFile: false,
    logLevel: 'silent',
    build: { outDir: dir, emptyOutDir: true, minify: false, lib: { entry: fileURLToPath(new URL('./fixtures/ai-chat-page.ts', import.meta.url)), formats: ['es'], fileName: () => 'page.js' } },
  });
  const js = readFileSync(join(dir, 'page.js'));
  const html = '<!doctype html><meta charset="utf-8"><title>ai chat</title><p id="status">ready</p><p id="answer"></p><script type="module" src="/page.js"></script>';
  const port = await freePort();
  origin = `http://127.0.0.1:${port}`;
  site = createServer((req, res) => {
    if (req.url === '/page.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(js);
    else res.writeHead(200, { 'content-type': 'text/html' }).end(html);
  });
  await new Promise<void>((resolve) => site.listen(port, '127.0.0.1', resolve));
  sys = await startSystem({ env: { CORS_ORIGINS: origin } });
  b = await launchChromium();
}, 90_000);
afterAll(async () => {
  await b?.close();
  await sys?.close();
  site?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('an AI SDK page in Chromium', () => {
  it('reloaded mid-answer, resumes the turn and shows the whole answer', async () => {
    const edge = sys.edges[0]!.url;
    const chatId = `page${Date.now().toString(36)}`;
    // The app's backend mints a token for this chat; the page never sees the API key.
    const minted = (await (await fetch(`${edge}/ai-sdk/chat/${chatId}/token`, { method: 'POST', headers: sys.auth })).json()) as { token: string };
    const page = await b.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const resumes: number[] = [];
    page.on('response', (r) => {
      if (r.url().endsWith(`/ai-sdk/chat/${chatId}/stream`)) resumes.push(r.status());
    });
    await page.goto(`${origin}/#edge=${encodeURIComponent(edge)}&chat=${chatId}&token=${encodeURIComponent(minted.token)}`);
    await page.waitForFunction(() => (document.getElementById('answer')!.textContent ?? '').split(' ').length >= 5, undefined, { timeout: 20_000 });
    const before = await page.textContent('#answer');
    await page.reload();
    await page.waitForFunction(() => document.getElementById('status')!.dataset.done === 'resumed', undefined, { timeout: 30_000 });
    const after = (await page.textContent('#answer'))!;
    expect(resumes).toEqual([200]);
    expect(after.split(' ').length).toBe(40);
    expect(after.startsWith(before!)).toBe(true);
    expect(await page.textContent('#status')).toBe('ready');
    expect(errors).toEqual([]);
    // The same text as the native API gives for the same request.
    const s = await sys.create({ model: 'mock', max_tokens: 40, messages: [{ role: 'user', content: 'answer across a reload' }] });
    await readSse(edge, s.eventsUrl, { timeoutMs: 30_000 });
    const native = (await (await fetch(`${edge}${s.statusUrl}`, { headers: bearer(s.token) })).json()) as { text: string };
    expect(after).toBe(native.text);
    await page.close();
  });
});
