import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokensFor } from '../../services/mock-model/src/index.js';
import { mintToken } from '../helpers/auth.js';
import { freePort } from '../helpers/ports.js';
import { startProcCluster, type ProcCluster } from '../helpers/procs.js';
import { waitFor } from '../helpers/redis-cluster.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
// What `npx relaycast` runs from the repository root: the workspace bin npm links into node_modules/.bin.
const BIN = `${root}node_modules/.bin/relaycast`;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI as a real child process; `during` gets the live process and its output so far. */
function relaycast(args: string[], o: { env?: Record<string, string>; during?: (p: ReturnType<typeof spawn>, out: { stderr: string; stdout: string }) => Promise<void> } = {}): Promise<Run> {
  const child = spawn(BIN, args, { cwd: root, env: { ...process.env, ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out.stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out.stderr += d));
  const exited = new Promise<Run>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`relaycast ${args.join(' ')} did not exit within 45 s\nstderr: ${out.stderr}`));
    }, 45_000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      // Let the pipes drain before reporting.
      setImmediate(() => resolve({ code, signal, ...out }));
    });
  });
  return Promise.all([exited, o.during?.(child, out)]).then(([r]) => r);
}

const sessionIdOf = (stderr: string) => /session (\S+)/.exec(stderr)?.[1];

describe('relaycast CLI as a child process against real processes', () => {
  let c: ProcCluster;
  let url: string;
  beforeAll(async () => {
    c = await startProcCluster({ edges: 1, workers: 1, env: { SSE_RETRY_MS: '50', COALESCE_MS: '0' } });
    url = c.edges[0]!.url;
  }, 60_000);
  afterAll(() => c?.close());

  /** The status endpoint, with the cluster's API key. */
  const status = async (id: string) => (await (await fetch(`${url}/v1/sessions/${id}`, { headers: c.auth })).json()) as { lastEventId: string; text: string; status: string };
  const lastId = async (id: string) => Number((await status(id)).lastEventId);

  it('ask streams the answer to stdout and exits 0 on done (URL and key from RELAYCAST_URL, RELAYCAST_API_KEY)', async () => {
    const r = await relaycast(['ask', 'cli hello', '--max-tokens', '30', '--mock', '{"intervalMs":5}'], { env: { RELAYCAST_URL: url, RELAYCAST_API_KEY: c.apiKey } });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${tokensFor('cli hello', 0, 30).join('')}\n`);
    expect(r.stderr).toMatch(/relaycast: done \(length, 30 tokens\)/);
    // It tells how to watch the session: its id and subscribe token.
    expect(r.stderr).toMatch(/watch it: relaycast watch \S+ --token rt1\.\S+\)/);
    const id = sessionIdOf(r.stderr)!;
    expect((await status(id)).text).toBe(r.stdout.trimEnd());
  });

  it('ask without an API key exits 4 and says where the key comes from', async () => {
    for (const key of [[], ['--key', 'rk_not_a_configured_key']]) {
      const r = await relaycast(['ask', 'no key', '--url', url, ...key], { env: { RELAYCAST_API_KEY: '' } });
      expect(r.code, key.join(' ')).toBe(4);
      expect(r.stderr).toMatch(/relaycast: 401 unauthorized: /);
      expect(r.stderr).toContain('--key or $RELAYCAST_API_KEY (npm start prints a development key)');
      expect(r.stdout).toBe('');
    }
  });

  it('ask resumes across the edge being SIGKILLed and restarted mid-stream: exact text, exit 0', async () => {
    const r = await relaycast(['ask', 'survive the edge', '--url', url, '--key', c.apiKey, '--max-tokens', '300', '--mock', '{"intervalMs":10}'], {
      during: async (_p, out) => {
        await waitFor(async () => sessionIdOf(out.stderr) !== undefined && out.stdout.length > 0, 10_000, 'the answer to start');
        await waitFor(async () => (await lastId(sessionIdOf(out.stderr)!)) >= 30, 10_000, '30 events');
        await c.edges[0]!.kill('SIGKILL');
        await c.edges[0]!.start();
      },
    });
    expect(r.code).toBe(0);
    expect(r.stderr.match(/connection lost after event \d+; resuming/g)).toHaveLength(1);
    expect(r.stderr).toMatch(/resumed after event \d+/);
    expect(r.stdout).toBe(`${tokensFor('survive the edge', 0, 300).join('')}\n`);
  });

  it('watch follows an existing session to the end and exits 0: with its --token, or with an API key alone', async () => {
    const s = await c.create({ messages: [{ role: 'user', content: 'watch me' }], max_tokens: 40, mock: { intervalMs: 10 } });
    const [byToken, byKey] = await Promise.all([
      relaycast(['watch', s.id, '--url', url, '--token', s.token], { env: { RELAYCAST_API_KEY: '' } }),
      relaycast(['watch', s.id, '--url', url], { env: { RELAYCAST_API_KEY: c.apiKey } }),
    ]);
    for (const r of [byToken, byKey]) {
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe(`${tokensFor('watch me', 0, 40).join('')}\n`);
    }
  });

  it('watch whose token expires mid-stream: with a key it mints a fresh one and finishes; without, it exits 4 saying so', async () => {
    const s = await c.create({ messages: [{ role: 'user', content: 'watch it expire' }], max_tokens: 500, mock: { intervalMs: 20 } });
    await waitFor(async () => (await lastId(s.id)) >= 5, 10_000, 'the generation to start');
    // Tokens as an edge mints them, living 4 s (time for a CLI process to start on a busy machine): both
    // expire while the 10 s generation still streams.
    const [withKey, without] = await Promise.all([
      relaycast(['watch', s.id, '--url', url, '--token', mintToken(s.id, 'test', 4_000), '--key', c.apiKey]),
      relaycast(['watch', s.id, '--url', url, '--token', mintToken(s.id, 'test', 4_000)], { env: { RELAYCAST_API_KEY: '' } }),
    ]);
    expect(withKey.code, withKey.stderr).toBe(0);
    expect(withKey.stderr).toContain('relaycast: subscribe token refreshed');
    expect(withKey.stdout).toBe(`${tokensFor('watch it expire', 0, 500).join('')}\n`);
    expect(without.code).toBe(4);
    expect(without.stderr).toMatch(/relaycast: error unauthorized: the subscribe token was refused \(token expired/);
    expect(without.stderr).toContain('pass its --token');
    // It streamed until the expiry, and what it printed is the start of the answer.
    expect(without.stdout.length).toBeGreaterThan(0);
    expect(withKey.stdout.startsWith(without.stdout.trimEnd())).toBe(true);
  });

  it('exits 1 when the session ends with an error event', async () => {
    const r = await relaycast(['ask', 'break', '--url', url, '--key', c.apiKey, '--max-tokens', '20', '--mock', '{"fault":"error:3"}']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/relaycast: error \S+: /);
  });

  it('Ctrl-C during ask cancels the session and exits 3', async () => {
    const r = await relaycast(['ask', 'interrupt me', '--url', url, '--key', c.apiKey, '--max-tokens', '2000', '--mock', '{"intervalMs":10}'], {
      during: async (p, out) => {
        await waitFor(async () => out.stdout.length > 0, 10_000, 'the answer to start');
        p.kill('SIGINT');
      },
    });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/relaycast: cancelled \(client_request\)/);
    expect((await status(sessionIdOf(r.stderr)!)).status).toBe('cancelled');
  });

  it('exits 2 with the usage text on bad arguments', async () => {
    for (const args of [[], ['ask'], ['ask', 'x', '--max-tokens', 'many'], ['ask', 'x', '--mock', '{'], ['frobnicate'], ['ask', 'x', '--nope']]) {
      const r = await relaycast([...args, '--url', url]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toContain('Usage:');
    }
    const help = await relaycast(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Exit codes');
  });

  it('exits 4 when the server is unreachable or the session does not exist', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const unreachable = await relaycast(['ask', 'anyone there', '--url', closed, '--key', c.apiKey]);
    expect(unreachable.code).toBe(4);
    // Names the address tried and both ways to change it, not just Node's "fetch failed".
    expect(unreachable.stderr).toContain(`relaycast: cannot reach ${closed}; set RELAYCAST_URL or --url`);
    // Ids are base64url: one may begin with "-" and must still be taken as the id, not as a flag.
    for (const id of ['AAAAAAAAAAAAAAAAAAAAAA', '-AAAAAAAAAAAAAAAAAAAAA', '--AAAAAAAAAAAAAAAAAAAA']) {
      const missing = await relaycast(['watch', id, '--url', url, '--key', c.apiKey]);
      expect(missing.code, id).toBe(4);
      expect(missing.stderr).toMatch(/session_not_found/);
    }
    // Neither a token nor a key: the edge refuses, and the CLI says what it needs.
    const s = await c.create({ messages: [{ role: 'user', content: 'no credential' }], max_tokens: 5 });
    const anonymous = await relaycast(['watch', s.id, '--url', url], { env: { RELAYCAST_API_KEY: '' } });
    expect(anonymous.code).toBe(4);
    expect(anonymous.stderr).toMatch(/relaycast: error unauthorized: this session needs its subscribe token/);
    expect(anonymous.stderr).toContain('pass its --token');
  });
});
