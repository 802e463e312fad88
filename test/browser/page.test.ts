import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokensFor } from '../../services/mock-model/src/index.js';
import { mintToken } from '../helpers/auth.js';
import { DemoPage, launchChromium, type Browser } from '../helpers/browser.js';
import { startProcCluster, workerRunning, type ProcCluster } from '../helpers/procs.js';

interface Status {
  status: string;
  text: string;
  lastEventId: string;
  error: { code: string; message: string } | null;
}

describe('the demo page in a real Chromium', () => {
  let c: ProcCluster;
  let b: Browser;
  let base: string;
  beforeAll(async () => {
    // One cluster and one Chromium for every browser test (fewer processes on a 2-core machine).
    // A short retry makes a reconnect storm, if there were one, show up within the test. INGEST_DRAIN_MS=0:
    // a SIGTERMed worker hands its generation back at once, so the other worker retries it as attempt 2
    // (which appends `reset`) without waiting for a lock to expire.
    const [cluster, browser] = await Promise.allSettled([startProcCluster({ edges: 1, workers: 2, env: { SSE_RETRY_MS: '100', COALESCE_MS: '0', INGEST_DRAIN_MS: '0' } }), launchChromium()]);
    // Keep whichever started, so afterAll stops it even when the other failed (Chromium missing, say).
    if (cluster.status === 'fulfilled') c = cluster.value;
    if (browser.status === 'fulfilled') b = browser.value;
    for (const r of [browser, cluster]) if (r.status === 'rejected') throw r.reason;
    base = c.edges[0]!.url;
  }, 60_000);
  afterAll(async () => {
    await b?.close();
    await c?.close();
  });

  const status = async (id: string) => (await (await fetch(`${base}/v1/sessions/${id}`, { headers: c.auth })).json()) as Status;
  const contiguous = (ids: number[]) => ids.map((_, i) => i + 1);
  /** The page as `npm start` prints it: holding the API key from the fragment. */
  const chat = async () => {
    const d = await DemoPage.open(b, `${base}/#key=${c.apiKey}`);
    // The tabs share one profile, so a conversation another test saved would be restored (and sent as history).
    await d.page.getByRole('button', { name: 'New chat' }).click();
    return d;
  };
  /** How the newest answer ended, as the line under it says. */
  const outcome = (d: DemoPage) => d.page.locator('#conversation li.turn').last().locator('.outcome').textContent();
  const tokenOfLink = (link: string) => new URLSearchParams(new URL(link).hash.slice(1)).get('token');
  /** What Chromium logs for a request answered with an error status (it names the URL). */
  const refused = (code: number, path: string) => new RegExp(`status of ${code} .* @ ${base.replace(/\./g, '\\.')}${path}([?#].*)?$`);

  it('streams a full answer equal to the session\'s text; screenshots mid-stream, done and on a phone; no CSP violation', async () => {
    const d = await chat();
    expect(await d.page.title()).toBe('Relaycast');
    const prompt = 'stream to a browser';
    await d.ask({ prompt, maxTokens: 80, intervalMs: 40 });
    await d.waitWords(15);
    await d.waitState('live');
    await d.screenshot('page-mid-stream');
    await d.waitState('done');
    await d.screenshot('page-done');

    const id = await d.sessionId();
    const st = await status(id);
    expect(st.status).toBe('done');
    expect(await d.answer()).toBe(st.text);
    expect(st.text).toBe(tokensFor(prompt, 0, 80).join(''));
    expect(await outcome(d)).toBe('Stopped: reached the token limit. 80 tokens.');
    const ids = await d.loggedIds();
    expect(ids).toEqual(contiguous(ids));
    expect(ids.at(-1)).toBe(Number(st.lastEventId));
    expect(d.eventsRequests).toHaveLength(1);
    expect(d.eventsRequests[0]!.url.searchParams.get('token')).toBe(tokenOfLink(await d.shareLink()));
    expect(await d.cspViolations()).toEqual([]);
    expect(d.unexpectedConsole()).toEqual([]);

    await d.page.setViewportSize({ width: 390, height: 844 });
    await d.screenshot('page-done-phone');
    // Readable on a phone: nothing wider than the screen.
    expect(await d.page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    await d.close();
  }, 60_000);

  it('every control has a label and the keyboard drives it: Shift+Enter adds a line, Enter sends', async () => {
    const d = await chat();
    const unlabelled = await d.page.evaluate(() =>
      [...document.querySelectorAll('input, select, textarea, button, a[href]')]
        .filter((e) => {
          if (e instanceof HTMLInputElement || e instanceof HTMLSelectElement || e instanceof HTMLTextAreaElement) return (e.labels?.length ?? 0) === 0 && !e.getAttribute('aria-label');
          return !(e.textContent ?? '').trim();
        })
        .map((e) => e.outerHTML),
    );
    expect(unlabelled).toEqual([]);
    await d.page.getByLabel('Max tokens', { exact: true }).fill('5');
    const box = d.page.getByLabel('Prompt', { exact: true });
    await box.focus();
    await d.page.keyboard.type('first line');
    await d.page.keyboard.press('Shift+Enter');
    await d.page.keyboard.type('second line');
    expect(await box.inputValue()).toBe('first line\nsecond line');
    expect(d.eventsRequests).toHaveLength(0);
    await d.page.keyboard.press('Enter');
    await d.waitState('done');
    expect(await d.answer()).toBe(tokensFor('first line\nsecond line', 0, 5).join(''));
    expect(d.unexpectedConsole()).toEqual([]);
    await d.close();
  }, 60_000);

  it('an API key from #key= fills the password field, is remembered, leaves the address bar, and is sent as Bearer', async () => {
    const d = await DemoPage.open(b, `${base}/#key=${c.apiKey}`);
    await d.page.getByRole('button', { name: 'New chat' }).click();
    const field = d.page.getByLabel('API key', { exact: true });
    expect(await field.getAttribute('type')).toBe('password');
    expect(await field.inputValue()).toBe(c.apiKey);
    expect(await d.page.evaluate(() => location.hash)).toBe('');
    const auth: (string | undefined)[] = [];
    d.page.on('request', (r) => {
      if (r.method() === 'POST' && new URL(r.url()).pathname === '/v1/sessions') auth.push(r.headers().authorization);
    });
    await d.ask({ prompt: 'with a key', maxTokens: 5 });
    await d.waitState('done');
    expect(auth).toEqual([`Bearer ${c.apiKey}`]);
    expect(await d.answer()).toBe(tokensFor('with a key', 0, 5).join(''));
    await d.page.goto(`${base}/`);
    expect(await d.page.getByLabel('API key', { exact: true }).inputValue()).toBe(c.apiKey);
    expect(d.unexpectedConsole()).toEqual([]);
    // The profile is shared by the other tests' tabs.
    await d.page.evaluate(() => localStorage.clear());
    await d.close();
  }, 60_000);

  it('without an API key the edge answers 401 and the page says to enter the key npm start prints; a wrong key is named; the right one works', async () => {
    const d = await DemoPage.open(b, `${base}/`);
    await d.page.evaluate(() => localStorage.clear());
    await d.page.reload();
    const field = d.page.getByLabel('API key', { exact: true });
    // No key yet: the field is in view before anything is sent.
    expect(await field.inputValue()).toBe('');
    expect(await field.isVisible()).toBe(true);
    const creates: number[] = [];
    d.page.on('response', (r) => {
      if (r.request().method() === 'POST' && new URL(r.url()).pathname === '/v1/sessions') creates.push(r.status());
    });
    const alert = d.page.getByRole('alert');

    await d.ask({ prompt: 'no key', maxTokens: 5 });
    await d.waitState('error');
    expect(await alert.textContent()).toBe('This server needs an API key to start a session. Enter the key printed by npm start in the API key field (or open the page from the URL npm start prints, ending in #key=…).');
    expect(await alert.isVisible()).toBe(true);
    expect(await field.evaluate((e) => e === document.activeElement)).toBe(true);
    expect(d.eventsRequests).toHaveLength(0);

    await field.fill('rk_not_a_configured_key');
    await d.ask({ prompt: 'wrong key', maxTokens: 5 });
    await d.waitFor(() => /The API key was refused/.test(document.getElementById('notices')?.textContent ?? ''), undefined);
    expect(await alert.textContent()).toBe('The API key was refused (unknown API key). Enter the key printed by npm start in the API key field (or open the page from the URL npm start prints, ending in #key=…).');

    await field.fill(c.apiKey);
    await d.ask({ prompt: 'now with the key', maxTokens: 5 });
    await d.waitState('done');
    expect(await d.answer()).toBe(tokensFor('now with the key', 0, 5).join(''));
    expect(creates).toEqual([401, 401, 201]);
    // The refusals are all Chromium reported: the two creates, and the model list asked with the wrong key.
    expect(d.unexpectedConsole(refused(401, '/v1/sessions'), refused(401, '/v1/models'))).toEqual([]);
    expect(d.console.filter((m) => m.url.endsWith('/v1/sessions'))).toHaveLength(2);
    await d.page.evaluate(() => localStorage.clear());
    await d.close();
  }, 60_000);

  it('the model picker offers what GET /v1/models lists for the key, and the chosen model answers', async () => {
    const d = await chat();
    const listed = ((await (await fetch(`${base}/v1/models`, { headers: c.auth })).json()) as { models: { id: string }[] }).models.map((m) => m.id);
    expect(listed).toEqual(['mock', 'mock-responses', 'mock-anthropic', 'mock-ollama', 'mock-sse']);
    await d.waitFor((n) => document.querySelectorAll('#model option').length === n, listed.length);
    expect(await d.page.locator('#model option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value))).toEqual(listed);
    await d.page.getByLabel('Model', { exact: true }).selectOption('mock-ollama');
    await d.ask({ prompt: 'ask ollama', maxTokens: 20 });
    await d.waitState('done');
    const st = (await (await fetch(`${base}/v1/sessions/${await d.sessionId()}`, { headers: c.auth })).json()) as Status & { model: string };
    expect(st.model).toBe('mock-ollama');
    expect(await d.answer()).toBe(st.text);
    expect(st.text).toBe(tokensFor('ask ollama', 0, 20).join(''));
    expect(d.unexpectedConsole()).toEqual([]);
    await d.close();
  }, 60_000);

  it('Anthropic thinking is shown apart from the answer, which stays the answer only', async () => {
    const s = await c.create({ model: 'mock-anthropic', messages: [{ role: 'user', content: 'think first' }], mock: { transcript: 'anthropic-thinking.sse', intervalMs: 5 } });
    const v = await DemoPage.open(b, `${base}/#session=${s.id}&token=${s.token}`, { withoutStoredKey: true });
    await v.waitState('done');
    const st = (await (await fetch(`${base}${s.statusUrl}`, { headers: c.auth })).json()) as Status & { thinking: string };
    expect(st.thinking.length).toBeGreaterThan(0);
    expect(await v.page.locator('#thinking-panel').isVisible()).toBe(true);
    expect(await v.page.locator('#thinking').textContent()).toBe(st.thinking);
    // The answer is Markdown: "**21**" is shown bold, without its asterisks.
    expect(st.text).toContain('**21**');
    expect(await v.answer()).toBe(st.text.replace(/\*\*/g, ''));
    expect(await v.page.locator('#answer strong').textContent()).toBe('21');
    expect(st.text).not.toContain(st.thinking);
    expect(await v.cspViolations()).toEqual([]);
    expect(v.unexpectedConsole()).toEqual([]);
    await v.close();
  }, 60_000);

  it('two pages on the same session (the share link, a viewer tab) both finish with the same text', async () => {
    const a = await chat();
    await a.ask({ prompt: 'fan out to two tabs', maxTokens: 100, intervalMs: 30 });
    const link = await a.shareLink();
    // The session and its subscribe token travel in the fragment, which a browser never sends to a server.
    expect(new URL(link).search).toBe('');
    expect(new URL(link).hash).toMatch(/^#session=[\w-]+&token=rt1\.[\w.-]+$/);
    // The viewer holds no API key: only the link's token.
    await a.page.evaluate(() => localStorage.clear());
    const v = await DemoPage.open(b, link);
    const viewerAuth: string[] = [];
    v.page.on('request', (r) => {
      const h = r.headers().authorization;
      if (h) viewerAuth.push(h);
    });
    expect(await v.page.getByLabel('API key', { exact: true }).inputValue()).toBe('');
    expect(await v.page.locator('#viewer-banner').isVisible()).toBe(true);
    expect(await v.page.locator('#ask-panel').isVisible()).toBe(false);
    await Promise.all([a.waitState('done'), v.waitState('done')]);
    const st = await status(await a.sessionId());
    expect(await a.answer()).toBe(st.text);
    expect(await v.answer()).toBe(st.text);
    expect(st.text).toBe(tokensFor('fan out to two tabs', 0, 100).join(''));
    expect(v.eventsRequests.map((r) => r.url.pathname)).toEqual([`/v1/sessions/${await a.sessionId()}/events`]);
    expect(v.eventsRequests[0]!.url.searchParams.get('token')).toBe(tokenOfLink(link));
    expect(viewerAuth.filter((h) => h.startsWith('Bearer rk_'))).toEqual([]);
    expect([...(await a.cspViolations()), ...(await v.cspViolations())]).toEqual([]);
    expect([...a.unexpectedConsole(), ...v.unexpectedConsole()]).toEqual([]);
    await a.close();
    await v.close();
  }, 60_000);

  it('"Drop connection" cuts the stream and shows the resume: ?lastEventId=, exact text, no duplicate', async () => {
    const d = await chat();
    await d.ask({ prompt: 'drop and resume', maxTokens: 150, intervalMs: 20 });
    await d.waitWords(10);
    await d.page.getByRole('button', { name: 'Drop connection' }).click();
    await d.waitState('done');
    const st = await status(await d.sessionId());
    expect(await d.answer()).toBe(st.text);
    expect(st.text).toBe(tokensFor('drop and resume', 0, 150).join(''));
    const log = await d.page.locator('#log').textContent();
    expect(log).toContain('connection dropped by you');
    expect(log).toContain('state: resuming');
    expect(log).toContain('connected: resumed');
    expect(d.eventsRequests).toHaveLength(2);
    expect(Number(d.eventsRequests[1]!.url.searchParams.get('lastEventId'))).toBeGreaterThanOrEqual(10);
    const ids = await d.loggedIds();
    expect(ids).toEqual(contiguous(ids));
    expect(await d.page.locator('#stat-duplicates').textContent()).toBe('0');
    expect(d.unexpectedConsole()).toEqual([]);
    await d.close();
  }, 60_000);

  it('Stop cancels the generation and the page shows it', async () => {
    const d = await chat();
    await d.ask({ prompt: 'stop me', maxTokens: 2000, intervalMs: 20 });
    await d.waitWords(2);
    await d.page.getByRole('button', { name: 'Stop' }).click();
    await d.waitState('cancelled');
    expect(await outcome(d)).toBe('Stopped: you stopped it.');
    expect(await d.page.getByRole('button', { name: 'Stop' }).isDisabled()).toBe(true);
    const st = await status(await d.sessionId());
    expect(st.status).toBe('cancelled');
    expect(await d.answer()).toBe(st.text);
    expect(d.unexpectedConsole()).toEqual([]);
    await d.close();
  }, 60_000);

  it('an upstream failure shows the error', async () => {
    const d = await chat();
    await d.ask({ prompt: 'fail upstream', maxTokens: 50, intervalMs: 10, fault: 'error:5' });
    await d.waitState('error');
    const st = await status(await d.sessionId());
    expect(st.status).toBe('error');
    const alert = d.page.getByRole('alert');
    expect(await alert.textContent()).toBe(`The model failed: ${st.error!.message} (${st.error!.code})`);
    expect(await alert.isVisible()).toBe(true);
    expect(await d.answer()).toBe(st.text);
    expect(d.unexpectedConsole()).toEqual([]);
    await d.close();
  }, 60_000);

  it('after done the browser stops reconnecting: the page closes its stream, a bare EventSource gets 204 once and stops', async () => {
    const d = await chat();
    await d.ask({ prompt: 'no storm', maxTokens: 10, intervalMs: 0 });
    await d.waitState('done');
    const id = await d.sessionId();
    const st = await status(id);
    const forSession = () => d.eventsRequests.filter((r) => r.url.pathname === `/v1/sessions/${id}/events`);
    expect(forSession()).toHaveLength(1);

    // A page that never closes its EventSource: after the terminal event it reconnects with Last-Event-ID,
    // the edge answers 204, and the browser stops for good (readyState CLOSED).
    await d.page.evaluate((url) => {
      (window as unknown as { bare: EventSource }).bare = new EventSource(url);
    }, `/v1/sessions/${id}/events?token=${tokenOfLink(await d.shareLink())}`);
    await d.waitFor(() => (window as unknown as { bare: EventSource }).bare.readyState === EventSource.CLOSED, undefined);
    await d.streams();
    expect(forSession()).toHaveLength(3);
    expect(forSession()[2]!.lastEventId).toBe(st.lastEventId);
    expect(forSession().map((r) => r.status)).toEqual([200, 200, 204]);

    // Many retry intervals (100 ms) pass while another session streams to its end in a second tab.
    const other = await chat();
    await other.ask({ prompt: 'time passes', maxTokens: 60, intervalMs: 20 });
    await other.waitState('done');
    expect(forSession()).toHaveLength(3);
    expect(other.eventsRequests).toHaveLength(1);
    expect([...d.unexpectedConsole(), ...other.unexpectedConsole()]).toEqual([]);
    await other.close();
    await d.close();
  }, 60_000);

  it('share links whose token expires mid-stream: a viewer without a key says so and stops; a tab holding the key mints a fresh token and finishes', async () => {
    const prompt = 'outlive the share link';
    const s = await c.create({ messages: [{ role: 'user', content: prompt }], max_tokens: 400, mock: { intervalMs: 20 } });
    // Tokens as the edge mints them, living 4 s: they expire while the 8 s generation still streams.
    const [tokenA, tokenB] = [mintToken(s.id, 'test', 4_000), mintToken(s.id, 'test', 4_000)];
    const a = await DemoPage.open(b, `${base}/#session=${s.id}&token=${tokenA}`, { withoutStoredKey: true });
    // The same link, opened from the page URL npm start prints: this tab holds the key as well.
    const k = await DemoPage.open(b, `${base}/#key=${c.apiKey}&session=${s.id}&token=${tokenB}`);
    const probes: number[] = [];
    a.page.on('response', (r) => {
      if (new URL(r.url()).pathname === `/v1/sessions/${s.id}`) probes.push(r.status());
    });

    await a.waitState('error');
    expect(await a.page.getByRole('alert').textContent()).toBe('The subscribe token in this share link was refused: it has expired or is not valid. Ask whoever shared the link for a fresh one.');
    const aIds = await a.loggedIds();
    expect(aIds.length).toBeGreaterThan(0);
    expect(aIds).toEqual(contiguous(aIds));
    const aStreams = await a.streams();
    expect(aStreams.map((r) => [r.url.searchParams.get('token'), r.status])).toEqual([[tokenA, 200], [tokenA, 401]]);

    await k.waitState('done', 45_000);
    const st = await status(s.id);
    expect(st.text).toBe(tokensFor(prompt, 0, 400).join(''));
    expect(await k.answer()).toBe(st.text);
    const kIds = await k.loggedIds();
    expect(kIds).toEqual(contiguous(kIds));
    expect(kIds.at(-1)).toBe(Number(st.lastEventId));
    expect(await k.page.locator('#stat-duplicates').textContent()).toBe('0');
    expect(await k.page.locator('#log').textContent()).toContain('subscribe token refreshed');
    const fresh = tokenOfLink(await k.shareLink());
    expect(fresh).toMatch(/^rt1\./);
    expect(fresh).not.toBe(tokenB);
    const kStreams = await k.streams();
    expect(kStreams.map((r) => [r.url.searchParams.get('token'), r.status])).toEqual([[tokenB, 200], [tokenB, 401], [fresh, 200]]);
    // Resumed from exactly the id the refused reconnect carried: no gap, no duplicate.
    expect(Number(kStreams[1]!.lastEventId)).toBeGreaterThan(0);
    expect(kStreams[2]!.url.searchParams.get('lastEventId')).toBe(kStreams[1]!.lastEventId);

    // The viewer gave up for good: while the session ran to its end it asked nothing more.
    expect(a.eventsRequests).toHaveLength(2);
    expect(probes).toEqual([401]);
    const refusedStream = refused(401, `/v1/sessions/${s.id}/events`);
    expect(a.unexpectedConsole(refusedStream, refused(401, `/v1/sessions/${s.id}`))).toEqual([]);
    expect(k.unexpectedConsole(refusedStream, refused(401, `/v1/sessions/${s.id}`))).toEqual([]);
    expect([...(await a.cspViolations()), ...(await k.cspViolations())]).toEqual([]);
    await k.page.evaluate(() => localStorage.clear());
    await a.close();
    await k.close();
  }, 90_000);

  describe('while processes die', () => {
    it('the edge is SIGKILLed mid-stream and restarted: the page\'s EventSource reconnects by itself with Last-Event-ID, exact text, no duplicate, no gap', async () => {
      const d = await chat();
      const prompt = 'kill the edge under the page';
      await d.ask({ prompt, maxTokens: 300, intervalMs: 20 });
      await d.waitWords(20);
      const edge = c.edges[0]!;
      await edge.kill('SIGKILL');
      // What the page had when its edge died (several tokens can share one event, so count ids, not words).
      const seenBeforeKill = Number(await d.page.locator('#stat-last-id').textContent());
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
      expect(Number(resumed[0]!.lastEventId)).toBeGreaterThanOrEqual(seenBeforeKill);
      expect(seenBeforeKill).toBeGreaterThan(0);
      // The first connection and the browser's own resume after the restart.
      expect(await d.page.locator('#stat-connections').textContent()).toBe('2');
      expect(await d.cspViolations()).toEqual([]);
      // While the edge was down, the browser's reconnects failed; nothing else was reported.
      expect(d.unexpectedConsole(/net::ERR_CONNECTION_REFUSED @ .*\/v1\/sessions\/[\w-]+\/events\?token=/, /net::ERR_(EMPTY_RESPONSE|CONNECTION_RESET|INCOMPLETE_CHUNKED_ENCODING) @ .*\/events\?token=/)).toEqual([]);
      await d.close();
    }, 90_000);

    it('reset: a worker stops mid-generation, the retry\'s reset clears the partial answer and it restarts', async () => {
      const d = await chat();
      const prompt = 'restart the answer';
      await d.ask({ prompt, maxTokens: 250, intervalMs: 20 });
      await d.waitWords(20);
      const victim = await workerRunning(c);
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
      expect(d.unexpectedConsole()).toEqual([]);
      await victim.start();
      await d.close();
    }, 90_000);
  });
});
