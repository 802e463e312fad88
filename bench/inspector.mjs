// The benchmark's window into a service started with --inspect: full garbage collections, then memory and
// heap snapshots, through the DevTools protocol. Without a forced collection an idle-memory figure is
// mostly the garbage collector's timing (the same run gave 11 to 16 KB per connection).
import { WebSocket } from 'undici';

export async function inspect(address) {
  const [target] = await (await fetch(`http://${address}/json/list`)).json();
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  const pending = new Map();
  const listeners = new Map();
  let next = 1;
  ws.addEventListener('message', (m) => {
    const msg = JSON.parse(String(m.data));
    if (msg.id !== undefined) pending.get(msg.id)?.(msg);
    else listeners.get(msg.method)?.(msg.params);
  });
  await new Promise((resolve, reject) => {
    ws.addEventListener('open', resolve);
    ws.addEventListener('error', () => reject(new Error(`cannot reach the inspector at ${address}`)));
  });
  const call = (method, params = {}) =>
    new Promise((resolve, reject) => {
      const id = next++;
      const timer = setTimeout(() => reject(new Error(`inspector ${method} timed out`)), 120_000);
      pending.set(id, (msg) => {
        clearTimeout(timer);
        pending.delete(id);
        if (msg.error) reject(new Error(`${method}: ${msg.error.message}`));
        else resolve(msg.result);
      });
      ws.send(JSON.stringify({ id, method, params }));
    });
  const gc = async () => {
    // Twice: the first pass can leave objects whose finalizers free more.
    await call('HeapProfiler.collectGarbage');
    await call('HeapProfiler.collectGarbage');
  };
  return {
    /** process.memoryUsage() after full collections. */
    async memoryAfterGc() {
      await gc();
      const r = await call('Runtime.evaluate', { expression: 'JSON.stringify(process.memoryUsage())', returnByValue: true });
      return JSON.parse(r.result.value);
    },
    /** A heap snapshot (the .heapsnapshot JSON text), taken after full collections. */
    async heapSnapshot() {
      await gc();
      const chunks = [];
      listeners.set('HeapProfiler.addHeapSnapshotChunk', (p) => chunks.push(p.chunk));
      await call('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
      listeners.delete('HeapProfiler.addHeapSnapshotChunk');
      return chunks.join('');
    },
    /** An expression's value in the service, as a string. */
    async evaluate(expression) {
      return (await call('Runtime.evaluate', { expression, returnByValue: true })).result.value;
    },
    /** Starts V8's sampling profiler; the returned function stops it and resolves with the .cpuprofile object. */
    async startProfile(intervalUs = 200) {
      await call('Profiler.enable');
      await call('Profiler.setSamplingInterval', { interval: intervalUs });
      await call('Profiler.start');
      return async () => (await call('Profiler.stop')).profile;
    },
    close: () => ws.close(),
  };
}
