import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authEnv, makeKey } from '../helpers/auth.js';
import { freePort } from '../helpers/ports.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

/** Safe by default: the built edge, as an OS process, with and without its credentials. */

const root = fileURLToPath(new URL('../../', import.meta.url));
let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(() => redis?.close());

interface Run {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
}

function runEdge(env: Record<string, string>): Run {
  // Nothing inherited may configure it: only what each case gives.
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(NODE_ENV|TOKEN_SECRET|TOKEN_SECRET_PREVIOUS|API_KEYS|API_KEYS_FILE)$/.test(k)));
  const child = spawn(process.execPath, ['services/edge/dist/main.js'], { cwd: root, env: { ...base, REDIS_URL: redis.url, REDIS_KEY_PREFIX: redis.prefix(), LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

async function healthy(port: number, run: Run): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (run.child.exitCode !== null) throw new Error(`edge exited ${run.child.exitCode}: ${run.stderr()}`);
    if (await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false)) return;
    if (Date.now() > deadline) throw new Error('edge not healthy in 15 s');
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function stop(run: Run): Promise<void> {
  if (run.child.exitCode === null) run.child.kill('SIGKILL');
  await run.exited;
}

describe('production refuses to start without its credentials', () => {
  const secret = 'x'.repeat(44);
  it.each([
    ['no token secret and no keys', {}, /TOKEN_SECRET: required when NODE_ENV=production/],
    ['a token secret but no keys', { TOKEN_SECRET: secret }, /API_KEYS: required when NODE_ENV=production/],
    ['keys but no token secret', { API_KEYS: authEnv([makeKey('k', 't')]).API_KEYS! }, /TOKEN_SECRET: required/],
    ['a token secret too short to be safe', { TOKEN_SECRET: 'short', API_KEYS: authEnv([makeKey('k', 't')]).API_KEYS! }, /TOKEN_SECRET: at least 32 characters/],
    ['an API key entry that is not a hash', { TOKEN_SECRET: secret, API_KEYS: JSON.stringify([{ id: 'k', tenant: 't', hash: 'rk_plaintext' }]) }, /API_KEYS: key 0\.hash/],
  ])('%s: exit code 2 and a message naming the variable', async (_what, env, message) => {
    const run = runEdge({ NODE_ENV: 'production', PORT: String(await freePort()), ...env });
    expect(await run.exited).toBe(2);
    expect(run.stderr()).toMatch(/^edge: invalid configuration: /);
    expect(run.stderr()).toMatch(message);
  });

  it('starts with both, and prints no key', async () => {
    const port = await freePort();
    const key = makeKey('prod-1', 'acme');
    const run = runEdge({ NODE_ENV: 'production', PORT: String(port), ...authEnv([key]) });
    try {
      await healthy(port, run);
      const res = await fetch(`http://127.0.0.1:${port}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json', ...key.headers }, body: JSON.stringify({ messages: [{ role: 'user', content: 'x' }] }) });
      expect(res.status).toBe(201);
      expect(run.stdout() + run.stderr()).not.toContain('rk_');
    } finally {
      await stop(run);
    }
  });
});

describe('development without credentials', () => {
  it('starts with a throwaway key printed to stderr (never in the JSON logs) that works, and warns about the secret', async () => {
    const port = await freePort();
    const run = runEdge({ NODE_ENV: 'development', PORT: String(port) });
    try {
      await healthy(port, run);
      const key = /\*\*\*\s+(rk_[A-Za-z0-9_-]{43})\n/.exec(run.stderr())?.[1];
      expect(key, run.stderr()).toBeDefined();
      expect(run.stdout()).not.toContain(key!);
      expect(run.stdout()).toMatch(/TOKEN_SECRET is not set: using a random development secret/);
      const res = await fetch(`http://127.0.0.1:${port}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify({ messages: [{ role: 'user', content: 'x' }] }) });
      expect(res.status).toBe(201);
      const { token } = (await res.json()) as { token: string };
      expect(run.stdout() + run.stderr()).not.toContain(token);
    } finally {
      await stop(run);
    }
  });
});
