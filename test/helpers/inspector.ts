import { WebSocket } from 'undici';
import type { Proc } from './procs.js';

export interface MemoryAfterGc {
  heapUsed: number;
  rss: number;
  external: number;
  /** process.getActiveResourcesInfo(), counted by type: what keeps the event loop alive (sockets, timers). */
  resources: Record<string, number>;
}

/**
 * Forces full garbage collections in a process started with `--inspect` (the harness's `inspectEdges`)
 * through the DevTools protocol, then reads its memory. No debug endpoint in the service is needed; the
 * inspector is only ever on in tests.
 */
export async function memoryAfterGc(p: Proc): Promise<MemoryAfterGc> {
  const arg = p.nodeArgs.find((a) => a.startsWith('--inspect='));
  if (!arg) throw new Error(`${p.name} was not started with --inspect`);
  const targets = (await (await fetch(`http://${arg.slice('--inspect='.length)}/json/list`)).json()) as { webSocketDebuggerUrl: string }[];
  const ws = new WebSocket(targets[0]!.webSocketDebuggerUrl);
  const pending = new Map<number, (v: unknown) => void>();
  let next = 1;
  ws.addEventListener('message', (m) => {
    const msg = JSON.parse(String(m.data)) as { id?: number; result?: unknown };
    if (msg.id !== undefined) pending.get(msg.id)?.(msg.result);
  });
  const call = (method: string, params: object = {}) =>
    new Promise<unknown>((resolve, reject) => {
      const id = next++;
      const timer = setTimeout(() => reject(new Error(`inspector ${method} timed out`)), 30_000);
      pending.set(id, (v) => {
        clearTimeout(timer);
        resolve(v);
      });
      ws.send(JSON.stringify({ id, method, params }));
    });
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener('open', () => resolve());
    ws.addEventListener('error', () => reject(new Error(`cannot reach ${p.name}'s inspector`)));
  });
  try {
    // Twice: the first pass can leave objects whose finalizers free more.
    await call('HeapProfiler.collectGarbage');
    await call('HeapProfiler.collectGarbage');
    const expression = `JSON.stringify({ m: process.memoryUsage(), r: process.getActiveResourcesInfo() })`;
    const result = (await call('Runtime.evaluate', { expression, returnByValue: true })) as { result: { value: string } };
    const { m, r } = JSON.parse(result.result.value) as { m: NodeJS.MemoryUsage; r: string[] };
    const resources: Record<string, number> = {};
    for (const type of r) resources[type] = (resources[type] ?? 0) + 1;
    return { heapUsed: m.heapUsed, rss: m.rss, external: m.external, resources };
  } finally {
    ws.close();
  }
}
