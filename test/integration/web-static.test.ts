import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { startSystem, type TestSystem } from '../helpers/system.js';
import { PAGE_CSP as CSP } from '../../services/edge/src/security-headers.js';


describe('the edge serves the built page', () => {
  let redis: TestRedis;
  let built: TestSystem;
  let missing: TestSystem;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rc-web-'));
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>t</title><script type="module" src="/assets/app-abc123.js"></script>');
    writeFileSync(join(dir, 'assets', 'app-abc123.js'), 'export {};');
    writeFileSync(join(dir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    redis = await startRedis();
    built = await startSystem({ redis, env: { WEB_DIR: dir } });
    missing = await startSystem({ redis, env: { WEB_DIR: join(dir, 'not-built') } });
  });
  afterAll(async () => {
    await built?.close();
    await missing?.close();
    await redis?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('/ is index.html under the strict CSP, never cached', async () => {
    const res = await fetch(built.edges[0]!.url + '/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toBe(CSP);
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await res.text()).toContain('/assets/app-abc123.js');
  });

  it('hashed assets are cached for a year, other files revalidate', async () => {
    const asset = await fetch(built.edges[0]!.url + '/assets/app-abc123.js');
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toMatch(/javascript/);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const icon = await fetch(built.edges[0]!.url + '/favicon.svg');
    expect(icon.status).toBe(200);
    expect(icon.headers.get('cache-control')).toBe('no-cache');
  });

  it('API paths keep their JSON 404 and 405 answers; unknown files and other methods get the JSON 404', async () => {
    const base = built.edges[0]!.url;
    const cases: [string, string, number, string][] = [
      ['GET', '/v1/nope', 404, 'not_found'],
      ['GET', '/v1/sessions', 405, 'method_not_allowed'],
      ['DELETE', '/v1/sessions/abc', 405, 'method_not_allowed'],
      // Publish routes come from the same table, so their other methods are 405 too.
      ['GET', '/v1/sessions/abc/publish', 405, 'method_not_allowed'],
      ['DELETE', '/v1/sessions/abc/producer', 405, 'method_not_allowed'],
      ['GET', '/assets/missing-123.js', 404, 'not_found'],
      ['POST', '/', 404, 'not_found'],
      ['GET', '/../package.json', 404, 'not_found'],
    ];
    for (const [method, path, status, code] of cases) {
      const res = await fetch(base + path, { method });
      expect([method, path, res.status]).toEqual([method, path, status]);
      if (path.endsWith('/producer')) expect(res.headers.get('allow')).toBe('POST, GET');
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code);
    }
  });

  it('not built: the edge still runs and / answers 503 web_not_built in the JSON error shape', async () => {
    const base = missing.edges[0]!.url;
    const res = await fetch(base + '/');
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: 'web_not_built', message: expect.stringContaining('npm run build') });
    expect((await fetch(base + '/healthz')).status).toBe(200);
    expect((await fetch(base + '/v1/nope')).status).toBe(404);
  });
});

describe('the built page (web/dist, made by npm run build) needs nothing the CSP forbids', () => {
  const html = readFileSync(new URL('../../web/dist/index.html', import.meta.url), 'utf8');

  it('loads its script and styles from hashed files of its own origin, with nothing inline', () => {
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attrs, body] of scripts) {
      expect(attrs).toMatch(/\bsrc="\/assets\/[\w-]+\.js"/);
      expect(body!.trim()).toBe('');
    }
    expect(html).toMatch(/<link rel="stylesheet"[^>]*href="\/assets\/[\w-]+\.css"/);
    expect(html).not.toMatch(/<style\b/);
    expect(html).not.toMatch(/\sstyle=/);
    expect(html).not.toMatch(/\son[a-z]+=/);
    expect(html).not.toMatch(/https?:\/\//);
  });
});
