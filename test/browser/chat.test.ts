import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokensFor } from '../../services/mock-model/src/index.js';
import { DemoPage, launchChromium, type Browser } from '../helpers/browser.js';
import { startProcCluster, type ProcCluster } from '../helpers/procs.js';

interface Status {
  status: string;
  text: string;
  lastEventId: string;
}

/** Screenshots the README shows (docs/screenshots/), rewritten by every run. */
const SHOTS = fileURLToPath(new URL('../../docs/screenshots/', import.meta.url));

describe('the chat page in a real Chromium', () => {
  let c: ProcCluster;
  let b: Browser;
  let base: string;
  beforeAll(async () => {
    const [cluster, browser] = await Promise.allSettled([startProcCluster({ edges: 1, workers: 1, env: { SSE_RETRY_MS: '200', COALESCE_MS: '0' } }), launchChromium()]);
    if (cluster.status === 'fulfilled') c = cluster.value;
    if (browser.status === 'fulfilled') b = browser.value;
    for (const r of [browser, cluster]) if (r.status === 'rejected') throw r.reason;
    base = c.edges[0]!.url;
    mkdirSync(SHOTS, { recursive: true });
  }, 60_000);
  afterAll(async () => {
    await b?.close();
    await c?.close();
  });

  const status = async (id: string) => (await (await fetch(`${base}/v1/sessions/${id}`, { headers: c.auth })).json()) as Status;
  const chat = async () => {
    const d = await DemoPage.open(b, `${base}/#key=${c.apiKey}`);
    await d.page.getByRole('button', { name: 'New chat' }).click();
    return d;
  };
  const turns = (d: DemoPage) =>
    d.page.locator('#conversation li.turn').evaluateAll((lis) =>
      lis.map((li) => ({ prompt: li.querySelector('.bubble')?.textContent ?? '', answer: li.querySelector('.answer')?.textContent ?? '', status: (li as HTMLElement).dataset.status })),
    );
  const sessionIdOf = (link: string) => new URLSearchParams(new URL(link).hash.slice(1)).get('session')!;

  it('a three-turn conversation: each turn sends the history and answers in order; a reload keeps it; New chat forgets it', async () => {
    const d = await chat();
    const sent: { role: string; content: string }[][] = [];
    d.page.on('request', (r) => {
      if (r.method() === 'POST' && new URL(r.url()).pathname === '/v1/sessions') sent.push((r.postDataJSON() as { messages: { role: string; content: string }[] }).messages);
    });
    const prompts = ['What is a relay?', 'And a stream?', 'Say it in *one* line'];
    const answers: string[] = [];
    for (const [i, prompt] of prompts.entries()) {
      await d.ask({ prompt, maxTokens: 12 + i, intervalMs: 5 });
      // The box is cleared at once, and the question is shown above its answer.
      expect(await d.page.getByLabel('Prompt', { exact: true }).inputValue()).toBe('');
      await d.waitFor((n) => document.querySelectorAll('#conversation li.turn[data-status="done"]').length === n, i + 1);
      const history = prompts.slice(0, i).flatMap((p, k) => [p, answers[k]!]);
      // The mock model answers from every message's content joined by newlines: the answer proves the history.
      answers.push(tokensFor([...history, prompt].join('\n'), 0, 12 + i).join(''));
    }
    expect(sent).toEqual([
      [{ role: 'user', content: prompts[0] }],
      [{ role: 'user', content: prompts[0] }, { role: 'assistant', content: answers[0] }, { role: 'user', content: prompts[1] }],
      [{ role: 'user', content: prompts[0] }, { role: 'assistant', content: answers[0] }, { role: 'user', content: prompts[1] }, { role: 'assistant', content: answers[1] }, { role: 'user', content: prompts[2] }],
    ]);
    const shown = prompts.map((prompt, i) => ({ prompt, answer: answers[i], status: 'done' }));
    expect(await turns(d)).toEqual(shown);
    expect((await status(sessionIdOf(await d.shareLink()))).text).toBe(answers[2]);

    await d.page.evaluate(() => window.scrollTo(0, 0));
    await d.page.emulateMedia({ colorScheme: 'light' });
    await d.page.screenshot({ path: `${SHOTS}chat-light.png` });
    await d.page.emulateMedia({ colorScheme: 'dark' });
    await d.page.screenshot({ path: `${SHOTS}chat-dark.png` });
    await d.page.emulateMedia({ colorScheme: 'light' });

    await d.page.reload();
    expect(await turns(d)).toEqual(shown);
    await d.page.getByRole('button', { name: 'New chat' }).click();
    expect(await turns(d)).toEqual([]);
    await d.page.reload();
    expect(await turns(d)).toEqual([]);
    expect(await d.page.evaluate(() => document.activeElement?.id)).toBe('prompt');
    expect(await d.cspViolations()).toEqual([]);
    expect(d.unexpectedConsole()).toEqual([]);
    await d.close();
  }, 90_000);

  it('Markdown: a list, a table and a code block whose fences arrive split across events, rendered while streaming, finished blocks never re-created, raw HTML shown as text', async () => {
    const d = await chat();
    await d.page.getByText('Demo controls (mock model)').click();
    await d.page.getByLabel('Recorded answer (transcript file)').fill('openai-markdown.sse');
    await d.ask({ prompt: 'markdown please', maxTokens: 50, intervalMs: 150 });
    // The first paragraph exists while the answer still streams: mark its element.
    await d.waitFor(() => document.querySelector('#answer p') !== null && document.querySelector('#conversation li.turn')?.getAttribute('data-status') === 'streaming', undefined);
    await d.page.evaluate(() => ((document.querySelector('#answer p') as HTMLElement & { mark?: boolean }).mark = true));
    // The code block is shown before the answer ends: its opening fence came as "``" then "`ts".
    await d.waitFor(() => document.querySelector('#answer pre code') !== null && document.querySelector('#conversation li.turn')?.getAttribute('data-status') === 'streaming', undefined);
    await d.waitState('done');

    const html = await d.page.locator('#answer').evaluate((a) => ({
      firstKept: (a.querySelector('p') as HTMLElement & { mark?: boolean }).mark === true,
      strong: a.querySelector('p strong')?.textContent,
      items: [...a.querySelectorAll('ol > li')].map((li) => li.textContent),
      headers: [...a.querySelectorAll('table th')].map((th) => th.textContent),
      cells: [...a.querySelectorAll('table td')].map((td) => td.textContent),
      code: [...a.querySelectorAll('pre > code')].map((code) => [code.className, code.textContent]),
      last: a.querySelector(':scope > p:last-child')?.textContent,
      elements: a.querySelectorAll('script, img').length,
      handlers: [...a.querySelectorAll('*')].filter((e) => [...e.attributes].some((at) => at.name.startsWith('on'))).length,
    }));
    expect(html).toEqual({
      firstKept: true,
      strong: 'plan',
      items: ['Parse the input', 'Stream it', 'Resume after a drop'],
      headers: ['Step', 'Cost'],
      cells: ['parse', 'low', 'stream', 'medium'],
      code: [['language-ts', 'const answer = await relay(stream);\nconsole.log(answer);\n']],
      // Markup in the answer is shown as text, never made into elements.
      last: 'Done <img src=x onerror="alert(1)"><script>alert(2)</script>.',
      elements: 0,
      handlers: 0,
    });
    // Every chunk of the recording was its own event (COALESCE_MS=0): the fences really were split.
    expect(await d.page.locator('#log li.ev-delta').count()).toBe(9);
    expect(await d.cspViolations()).toEqual([]);
    expect(d.unexpectedConsole()).toEqual([]);

    await d.page.setViewportSize({ width: 390, height: 844 });
    await d.page.evaluate(() => window.scrollTo(0, 0));
    await d.page.screenshot({ path: `${SHOTS}chat-phone.png` });
    expect(await d.page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    await d.close();
  }, 60_000);

  it('tool calls are shown as such', async () => {
    const s = await c.create({ messages: [{ role: 'user', content: 'weather and time' }], mock: { transcript: 'openai-tools.sse', intervalMs: 5 } });
    const v = await DemoPage.open(b, `${base}/#session=${s.id}&token=${s.token}`);
    await v.waitState('done');
    const calls = await v.page.locator('#conversation .tool-call').evaluateAll((lis) => lis.map((li) => [li.querySelector('.tool-label')?.textContent, li.querySelector('.tool-name')?.textContent]));
    expect(calls).toEqual([['Tool call', 'get_weather'], ['Tool call', 'get_time']]);
    expect(await v.page.locator('#conversation .outcome').textContent()).toMatch(/^Finished: the model asks for a tool\./);
    await v.close();
  }, 60_000);

  it('a reload mid-answer resumes that answer from its last saved event id: exact text, no gap, no duplicate', async () => {
    const d = await chat();
    const prompt = 'survive a reload';
    await d.ask({ prompt, maxTokens: 200, intervalMs: 30 });
    await d.waitWords(30);
    const id = sessionIdOf(await d.shareLink());
    const before = d.eventsRequests.length;
    await d.page.reload();
    await d.waitState('done', 45_000);

    const st = await status(id);
    expect(st.text).toBe(tokensFor(prompt, 0, 200).join(''));
    expect(await d.answer()).toBe(st.text);
    const resumed = (await d.streams()).slice(before);
    expect(resumed).toHaveLength(1);
    const from = Number(resumed[0]!.url.searchParams.get('lastEventId'));
    expect(from).toBeGreaterThan(0);
    expect(from).toBeLessThan(Number(st.lastEventId));
    // The reloaded page logged exactly the events after the saved id, each once.
    const ids = await d.loggedIds();
    expect(ids).toEqual(ids.map((_, i) => from + 1 + i));
    expect(ids.at(-1)).toBe(Number(st.lastEventId));
    expect(await d.page.locator('#stat-duplicates').textContent()).toBe('0');
    expect(await d.page.locator('#stat-connections').textContent()).toBe('2');
    expect(await d.page.locator('#log').textContent()).toContain(`restored from this browser; resuming after #${from}`);
    expect(d.unexpectedConsole()).toEqual([]);
    await d.close();
  }, 60_000);

  it('a message sent while the edge is down is kept and sent by itself once the edge is back', async () => {
    const d = await chat();
    const edge = c.edges[0]!;
    await edge.kill('SIGKILL');
    const prompt = 'sent into an outage';
    await d.ask({ prompt, maxTokens: 10, intervalMs: 5 });
    await d.waitState('offline');
    expect(await d.page.locator('#offline-text').textContent()).toMatch(/^Cannot reach the server: your message is kept\. Trying again in \d+ s \(attempt 1\)\.$/);
    // The question stays on screen while it waits.
    expect((await turns(d)).map((t) => [t.prompt, t.status])).toEqual([[prompt, 'sending']]);
    await d.waitFor(() => Number(document.getElementById('offline')?.dataset.attempt ?? 0) >= 2, undefined);
    await edge.start();
    await d.waitState('done', 60_000);
    expect(await d.answer()).toBe(tokensFor(prompt, 0, 10).join(''));
    expect(await d.page.locator('#offline').isVisible()).toBe(false);
    expect(d.unexpectedConsole(/net::ERR_CONNECTION_REFUSED @ .*\/v1\/(sessions|models)$/)).toEqual([]);
    await d.close();
  }, 90_000);

  it('the edge is down for 90 s mid-answer: the page counts down, retries with backoff (and on Retry), and finishes by itself once the edge is back', async () => {
    const d = await chat();
    const prompt = 'outlast a long outage';
    await d.ask({ prompt, maxTokens: 300, intervalMs: 50 });
    await d.waitWords(20);
    const edge = c.edges[0]!;
    await edge.kill('SIGKILL');
    const downAt = Date.now();
    const attempt = () => d.page.locator('#offline').evaluate((e) => Number((e as HTMLElement).dataset.attempt ?? 0));

    // The page's own retry takes over: a countdown and a Retry button, in words.
    await d.waitState('offline', 30_000);
    expect(await d.page.locator('#offline').isVisible()).toBe(true);
    expect(await d.page.locator('#offline-text').textContent()).toMatch(/^Cannot reach the server: the answer goes on from where it stopped once it is back\. Trying again in \d+ s \(attempt 1\)\.$/);
    // Retry now: the next attempt starts at once (the page leaves the countdown for a new connection).
    await d.page.getByRole('button', { name: 'Retry now' }).click();
    await d.waitFor(() => document.getElementById('offline-text')?.textContent === 'Trying again…', undefined);
    await d.waitFor(() => Number(document.getElementById('offline')?.dataset.attempt ?? 0) >= 2, undefined, 30_000);
    // The edge stays down for 90 s; meanwhile the attempts go on, further and further apart.
    await d.waitFor((t) => Date.now() >= t && Number(document.getElementById('offline')?.dataset.attempt ?? 0) >= 4, downAt + 90_000, 120_000);
    const attemptsWhileDown = await attempt();
    expect(await d.page.locator('#offline').isVisible()).toBe(true);
    await edge.start();
    await d.waitState('done', 60_000);

    const st = await status(sessionIdOf(await d.shareLink()));
    expect(st.text).toBe(tokensFor(prompt, 0, 300).join(''));
    expect(await d.answer()).toBe(st.text);
    const ids = await d.loggedIds();
    expect(ids).toEqual(ids.map((_, i) => i + 1));
    expect(ids.at(-1)).toBe(Number(st.lastEventId));
    expect(await d.page.locator('#stat-duplicates').textContent()).toBe('0');
    expect(Number(await d.page.locator('#stat-connections').textContent())).toBe(2);
    expect(await d.page.locator('#offline').isVisible()).toBe(false);
    expect(attemptsWhileDown).toBeGreaterThanOrEqual(4);
    expect(await d.cspViolations()).toEqual([]);
    expect(d.console.filter((m) => m.type === 'pageerror')).toEqual([]);
    await d.close();
  }, 240_000);
});
