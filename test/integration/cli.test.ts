import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokensFor } from '../../services/mock-model/src/index.js';
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

  const lastId = async (id: string) => Number(((await (await fetch(`${url}/v1/sessions/${id}`)).json()) as { lastEventId: string }).lastEventId);

  it('ask streams the answer to stdout and exits 0 on done (URL from RELAYCAST_URL)', async () => {
    const r = await relaycast(['ask', 'cli hello', '--max-tokens', '30', '--mock', '{"intervalMs":5}'], { env: { RELAYCAST_URL: url } });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${tokensFor('cli hello', 0, 30).join('')}\n`);
    expect(r.stderr).toMatch(/relaycast: done \(length, 30 tokens\)/);
    const id = sessionIdOf(r.stderr)!;
    expect(((await (await fetch(`${url}/v1/sessions/${id}`)).json()) as { text: string }).text).toBe(r.stdout.trimEnd());
  });

  it('ask resumes across the edge being SIGKILLed and restarted mid-stream: exact text, exit 0', async () => {
    const r = await relaycast(['ask', 'survive the edge', '--url', url, '--max-tokens', '300', '--mock', '{"intervalMs":10}'], {
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

  it('watch follows an existing session to the end and exits 0', async () => {
    const s = await c.create({ messages: [{ role: 'user', content: 'watch me' }], max_tokens: 40, mock: { intervalMs: 10 } });
    const r = await relaycast(['watch', s.id, '--url', url]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${tokensFor('watch me', 0, 40).join('')}\n`);
  });

  it('exits 1 when the session ends with an error event', async () => {
    const r = await relaycast(['ask', 'break', '--url', url, '--max-tokens', '20', '--mock', '{"fault":"error:3"}']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/relaycast: error \S+: /);
  });

  it('Ctrl-C during ask cancels the session and exits 3', async () => {
    const r = await relaycast(['ask', 'interrupt me', '--url', url, '--max-tokens', '2000', '--mock', '{"intervalMs":10}'], {
      during: async (p, out) => {
        await waitFor(async () => out.stdout.length > 0, 10_000, 'the answer to start');
        p.kill('SIGINT');
      },
    });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/relaycast: cancelled \(client_request\)/);
    expect(((await (await fetch(`${url}/v1/sessions/${sessionIdOf(r.stderr)!}`)).json()) as { status: string }).status).toBe('cancelled');
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
    const unreachable = await relaycast(['ask', 'anyone there', '--url', closed]);
    expect(unreachable.code).toBe(4);
    // Ids are base64url: one may begin with "-" and must still be taken as the id, not as a flag.
    for (const id of ['AAAAAAAAAAAAAAAAAAAAAA', '-AAAAAAAAAAAAAAAAAAAAA', '--AAAAAAAAAAAAAAAAAAAA']) {
      const missing = await relaycast(['watch', id, '--url', url]);
      expect(missing.code, id).toBe(4);
      expect(missing.stderr).toMatch(/session_not_found/);
    }
  });
});
