// run.mjs's `publish` scenario: bench/publish.mjs in its own process (it starts its own Redis and edge, so
// its numbers do not share a Redis with the other scenarios), its rows read back from the file it writes.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { root } from './lib.mjs';

export async function publishScenario(quick) {
  const dir = mkdtempSync(join(tmpdir(), 'relaycast-publish-bench-'));
  const out = join(dir, 'publish.json');
  try {
    await new Promise((resolve, reject) => {
      const args = [join(root, 'bench/publish.mjs'), `--out=${out}`, ...(quick ? ['--quick'] : [])];
      const child = execFile(process.execPath, args, { cwd: root, timeout: 15 * 60_000 }, (err) => (err ? reject(err) : resolve()));
      child.stderr?.pipe(process.stderr);
    });
    return JSON.parse(readFileSync(out, 'utf8')).results;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
