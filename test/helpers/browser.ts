import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page, type Request } from 'playwright-core';
import { STATE_WORDS, type PageState } from '../../web/src/states.js';

/** Debian's Chromium (GUIDE.md: never download a browser). .ci/run installs the package when it is missing. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'];
export const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/browser/', import.meta.url));

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/**
 * Chromium with exactly the flags above and a fresh user data directory. Missing Chromium is a failure with
 * instructions, never a skip: a browser suite that silently does not run would pass CI without testing.
 */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}. Install Debian's package (apt-get install -y chromium; .ci/run does this when it is missing) or set CHROMIUM_PATH.`);
  }
  mkdirSync(ARTIFACTS, { recursive: true });
  const userDataDir = mkdtempSync(join(tmpdir(), 'rc-chromium-'));
  // headless: false keeps Playwright from adding its own headless switches; `--headless` is in the flags.
  const context = await chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, headless: false, args: CHROMIUM_FLAGS, viewport: { width: 1280, height: 900 } });
  // Every Content-Security-Policy violation the page reports is kept for the tests to assert on.
  await context.addInitScript(() => {
    const w = window as unknown as { __csp: string[] };
    w.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => w.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

export interface EventsRequest {
  url: URL;
  lastEventId: string | undefined;
  status: number | undefined;
  /** Resolves once the request's full headers and its response status are recorded. */
  settled: Promise<void>;
}

/** A console error or warning, or an uncaught exception, with the URL it names (a failed request's). */
export interface ConsoleEntry {
  type: string;
  text: string;
  url: string;
}

/** A page of the demo with what a reviewer would watch: its network log for event streams and its console. */
export class DemoPage {
  readonly eventsRequests: EventsRequest[] = [];
  readonly consoleCsp: string[] = [];
  /** Every console error and warning, and every uncaught exception, in order. */
  readonly console: ConsoleEntry[] = [];

  private constructor(readonly page: Page) {
    page.on('request', (r: Request) => {
      if (!/\/v1\/sessions\/[^/]+\/events/.test(r.url())) return;
      const entry: EventsRequest = { url: new URL(r.url()), lastEventId: undefined, status: undefined, settled: Promise.resolve() };
      // Headers the network stack adds (Last-Event-ID among them) are only in allHeaders().
      entry.settled = Promise.all([
        r.allHeaders().then((h) => (entry.lastEventId = h['last-event-id']), () => undefined),
        r.response().then((res) => (entry.status = res?.status()), () => undefined),
      ]).then(() => undefined);
      this.eventsRequests.push(entry);
    });
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) this.consoleCsp.push(m.text());
      if (m.type() === 'error' || m.type() === 'warning') this.console.push({ type: m.type(), text: m.text(), url: m.location().url });
    });
    page.on('pageerror', (e) => this.console.push({ type: 'pageerror', text: String(e.stack ?? e), url: '' }));
  }

  /**
   * A new tab on `url`. `withoutStoredKey`: the tabs share one profile, so a key another tab stored would be
   * read by this one's page; this clears the origin's storage before the page's own script runs.
   */
  static async open(b: Browser, url: string, o: { viewport?: { width: number; height: number }; withoutStoredKey?: boolean } = {}): Promise<DemoPage> {
    const page = await b.context.newPage();
    if (o.viewport) await page.setViewportSize(o.viewport);
    if (o.withoutStoredKey) await page.addInitScript(() => localStorage.clear());
    const d = new DemoPage(page);
    await page.goto(url);
    return d;
  }

  /** Types a prompt and presses Enter, as a person would; demo controls are opened only when given. */
  async ask(o: { prompt: string; maxTokens: number; intervalMs?: number; fault?: string }): Promise<void> {
    const p = this.page;
    await p.getByLabel('Max tokens', { exact: true }).fill(String(o.maxTokens));
    if (o.intervalMs !== undefined || o.fault !== undefined) {
      if (!(await p.locator('#demo').evaluate((d) => (d as HTMLDetailsElement).open))) await p.getByText('Demo controls (mock model)').click();
      await p.getByLabel('Delay between tokens (ms)').fill(String(o.intervalMs ?? 0));
      await p.getByLabel('Fault', { exact: true }).fill(o.fault ?? '');
    }
    await p.getByLabel('Prompt', { exact: true }).fill(o.prompt);
    await p.getByLabel('Prompt', { exact: true }).press('Enter');
  }

  /** The state label a person reads, awaited until it says `state`. */
  async waitState(state: string, timeoutMs = 30_000): Promise<void> {
    await this.page.waitForFunction((s) => document.getElementById('state')?.dataset.state === s, state, { timeout: timeoutMs });
    // What is shown must agree with the attribute: the plain words for that state.
    const words = STATE_WORDS[state as PageState];
    if ((await this.page.locator('#state-label').textContent()) !== words) throw new Error(`state label does not read ${words} (${state})`);
  }

  /** Waits for a condition in the page. A function, never a string: the page's CSP forbids eval. */
  async waitFor<A>(fn: (arg: A) => boolean, arg: A, timeoutMs = 30_000): Promise<void> {
    await this.page.waitForFunction(fn as (a: unknown) => boolean, arg as unknown, { timeout: timeoutMs });
  }

  /** Waits until the answer shows at least `n` words (the stream is under way). */
  waitWords(n: number): Promise<void> {
    return this.waitFor((k) => (document.getElementById('answer')?.textContent ?? '').split(' ').length >= k, n);
  }

  answer(): Promise<string> {
    return this.page.locator('#answer').evaluate((e) => e.textContent ?? '');
  }

  async shareLink(): Promise<string> {
    await this.page.waitForFunction(() => (document.getElementById('share-link') as HTMLInputElement).value !== '');
    return this.page.locator('#share-link').inputValue();
  }

  async sessionId(): Promise<string> {
    return new URLSearchParams(new URL(await this.shareLink()).hash.slice(1)).get('session')!;
  }

  /** Ids of the events in the page's event log, in order. */
  loggedIds(): Promise<number[]> {
    return this.page.locator('#log li.ev').evaluateAll((lis) => lis.map((li) => Number((li as HTMLElement).dataset.id)));
  }

  /** The event-stream requests made so far, each with its headers and status recorded. */
  async streams(): Promise<EventsRequest[]> {
    await Promise.all(this.eventsRequests.map((r) => r.settled));
    return this.eventsRequests;
  }

  notices(): Promise<string> {
    return this.page.locator('#notices').evaluate((e) => e.textContent ?? '');
  }

  /**
   * Console errors and warnings not matched by `expected` (each pattern is tested against "text @ url"):
   * a test names the ones its scenario causes (a refused request, a killed edge) and no other may appear.
   */
  unexpectedConsole(...expected: RegExp[]): string[] {
    return this.console.map((c) => `${c.type}: ${c.text} @ ${c.url}`).filter((line) => !expected.some((re) => re.test(line)));
  }

  async cspViolations(): Promise<string[]> {
    const reported = await this.page.evaluate(() => (window as unknown as { __csp: string[] }).__csp);
    return [...reported, ...this.consoleCsp];
  }

  screenshot(name: string): Promise<Buffer> {
    return this.page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  }

  close(): Promise<void> {
    return this.page.close();
  }
}
