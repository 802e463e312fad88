import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ports.js';
import { shellSnippets } from '../helpers/readme.js';
import { waitFor } from '../helpers/wait.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const README = join(root, 'README.md');

/**
 * The README is executable documentation: every shell snippet runs, in order, in one bash (variables carry
 * over, as in the terminal of a person following it), against a system started by `npm start`'s script.
 * The only change made to them: the README's address (port 8080) becomes the started edge's port. `curl`
 * fails on an error status, so a snippet missing its Authorization header fails here.
 */
describe('README.md shell snippets', () => {
  let dir: string;
  let port: number;
  let launcher: ReturnType<typeof spawn>;
  let output = '';
  beforeAll(async () => {
    for (const tool of ['curl', 'jq']) expect(spawnSync(tool, ['--version']).status, `${tool} must be installed (.ci/run installs it)`).toBe(0);
    dir = mkdtempSync(join(tmpdir(), 'rc-readme-'));
    port = await freePort();
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(REDIS_URL|PORT|METRICS_PORT|MOCK_PORT|API_KEYS|API_KEYS_FILE|TOKEN_SECRET|MOCK_MODEL_URL|RELAYCAST_URL|RELAYCAST_API_KEY)$/.test(k)));
    launcher = spawn(process.execPath, ['scripts/start.js'], { cwd: root, env: { ...env, PORT: String(port), RELAYCAST_DATA_DIR: dir, DRAIN_WINDOW_MS: '0', INGEST_DRAIN_MS: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
    for (const s of [launcher.stdout!, launcher.stderr!]) s.on('data', (b: Buffer) => (output += b.toString()));
    await waitFor(() => output.includes('Relaycast is up') || launcher.exitCode !== null, 45_000, 'npm start', 100);
    expect(output).toContain('Relaycast is up');
  }, 60_000);
  afterAll(async () => {
    if (launcher && launcher.exitCode === null) {
      const exited = new Promise((r) => launcher.once('exit', r));
      launcher.kill('SIGTERM');
      await exited;
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('every skipped snippet says why; the rest run in order and succeed', async () => {
    const snippets = shellSnippets(README);
    expect(snippets.length).toBeGreaterThanOrEqual(4);
    for (const s of snippets.filter((x) => x.skip !== undefined)) expect(s.skip!.trim().length, `README.md:${s.line}`).toBeGreaterThan(10);
    const runnable = snippets.filter((s) => s.skip === undefined);
    const script = [
      'set -euo pipefail',
      'curl() { command curl --fail-with-body --max-time 60 "$@"; }',
      ...runnable.map((s) => `echo "@@ README.md:${s.line}" >&2\n${s.code.replace(/(localhost|127\.0\.0\.1):8080\b/g, `127.0.0.1:${port}`)}`),
      'echo "@@ end" >&2',
    ].join('\n');
    const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const sh = spawn('bash', ['-c', script], { cwd: root, env: { ...process.env, RELAYCAST_DATA_DIR: dir, RELAYCAST_URL: '', RELAYCAST_API_KEY: '' } });
      let stdout = '';
      let stderr = '';
      sh.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
      sh.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      sh.once('exit', (code) => resolve({ code, stdout, stderr }));
    });
    const failedAt = [...r.stderr.matchAll(/^@@ (.+)$/gm)].at(-1)?.[1];
    expect(r.code, `the snippet at ${failedAt} failed:\n${r.stderr.slice(-2000)}\n--- stdout ---\n${r.stdout.slice(-2000)}`).toBe(0);
    expect(failedAt).toBe('end');
    // What they print is what the README says they print.
    expect(r.stdout).toMatch(/"id":"[\w-]+","model":"mock","token":"rt1\./);
    expect(r.stdout).toContain('event: done');
    expect(r.stdout).toContain('"cancelled":false');
    expect(r.stderr).toMatch(/relaycast: done \(length, 100 tokens\)/);
    expect(r.stdout).toContain('"model":"mock-anthropic"');
  }, 120_000);
});
