import { errorEvent } from '@relaycast/protocol';
import { EndProducerCode, type Limiter, type ProducerStore } from '@relaycast/store';
import type { Logger } from '@relaycast/shared';
import { toWire } from './events.js';

const BATCH = 100;

/**
 * Ends producer sessions whose producer went quiet for longer than their idle timeout, with
 * `error {code: 'producer_timeout'}`, so no subscriber waits forever. Runs on every edge; end-producer-3.lua
 * decides on Redis's clock and atomically, so edges sweeping together end a session once.
 */
export function startProducerSweeper(producers: ProducerStore, limiter: Limiter, log: Logger, everyMs: number): { stop(): void } {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    sweep(producers, limiter, log)
      .catch((err: unknown) => log.debug({ err }, 'producer sweep failed; will retry'))
      .finally(() => (running = false));
  }, everyMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

export async function sweep(producers: ProducerStore, limiter: Limiter, log: Logger): Promise<number> {
  const ids = await producers.due(Date.now(), BATCH);
  let ended = 0;
  for (const id of ids) {
    const terminal = toWire(errorEvent('producer_timeout', 'the producer sent nothing within its idle timeout'));
    const r = await producers.end(id, 'timeout', terminal);
    if (r.code !== EndProducerCode.Ended) continue;
    ended++;
    const meta = await producers.meta(id);
    if (meta) await limiter.release(meta.keyId, id).catch(() => undefined);
    log.info({ sessionId: id }, 'producer timed out; session ended with producer_timeout');
  }
  return ended;
}
