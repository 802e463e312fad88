import { encodeFrame, type SessionStore } from '@relaycast/shared';
import type { EdgeStats } from './stats.js';
import type { Subscriber } from './subscriber.js';
import { gapEntry, toLiveEntry, type Topic } from './topic.js';

/**
 * Brings a registered subscriber from its cursor to live without a gap or a duplicate:
 *   1. it is already registered with the topic, so every live entry since then is in its buffer;
 *   2. read history after the cursor in pages, writes paced by the socket ('drain') once half the
 *      slow-consumer bound is queued, so what waits in memory is bounded by that plus one event, whatever
 *      the events' size;
 *   3. flush the buffer, skipping seqs already written; if the buffer overflowed or does not join up
 *      with what was read, read history again from the last written seq;
 *   4. join the live set only when nothing the topic dispatched is missing.
 * Step 3-4 run without an await in between, so no live entry can slip past unseen.
 */
export async function replayThenGoLive(sub: Subscriber, topic: Topic, store: SessionStore, pageSize: number, knownSeq: number, stats: EdgeStats): Promise<void> {
  const cursor = sub.lastSeq;
  // The stream reaches at least this far: the metadata said so, or an entry was read.
  let streamSeq = knownSeq;
  let first = true;
  for (let idle = 0; ; ) {
    const before = sub.lastSeq;
    const cached = topic.recentRun(sub.lastSeq + 1, pageSize);
    if (cached.length) {
      first = false;
      for (const le of cached) {
        streamSeq = Math.max(streamSeq, le.seq);
        sub.deliver(le);
        stats.eventsReplayed++;
        stats.eventsDelivered++;
        stats.bytesDelivered += le.frame.length;
        if (sub.backedUp) await sub.drained();
        if (sub.closed) return;
      }
      // Whatever the cache did not hold is read from the stream on the next pass.
      continue;
    }
    const page = await store.range(topic.sessionId, sub.lastSeq + 1, pageSize);
    if (sub.closed) return;
    if (first) {
      first = false;
      // Metadata says events exist past the cursor but the stream has none: Redis lost it. Never replay a
      // different stream under old ids; tell the client in-band and end.
      if (page.length === 0 && knownSeq > cursor && (await confirmedLost(store, topic.sessionId, cursor))) {
        if (sub.closed) return;
        sub.write(encodeFrame({ event: 'error', data: JSON.stringify({ code: 'stream_lost', message: 'the session stream was lost', retryable: false }) }));
        sub.end();
        return;
      }
    }
    for (const e of page) {
      if (e.seq <= sub.lastSeq) continue;
      // Entries missing before `e` were trimmed (MAXLEN) or lost by Redis: say so, never skip silently.
      if (e.seq > sub.lastSeq + 1) {
        stats.gaps++;
        sub.deliver(gapEntry(sub.lastSeq, e.seq));
      }
      streamSeq = Math.max(streamSeq, e.seq);
      const le = toLiveEntry(e);
      topic.remember(le);
      sub.deliver(le);
      stats.eventsReplayed++;
      stats.eventsDelivered++;
      stats.bytesDelivered += le.frame.length;
      if (sub.backedUp) await sub.drained();
      if (sub.closed) return;
    }
    if (page.length === pageSize) continue;
    // Reached the end of the stream as of that read; join up with the live buffer.
    const buffered = sub.buffer;
    sub.buffer = [];
    if (buffered === null) continue;
    let joined = true;
    for (const e of buffered) {
      if (e.seq <= sub.lastSeq) {
        // A terminal entry at or before the cursor: nothing will follow it (see Subscriber.deliver).
        sub.deliver(e);
        if (sub.closed) return;
        continue;
      }
      if (e.seq !== sub.lastSeq + 1) {
        joined = false;
        break;
      }
      sub.deliver(e);
      stats.eventsDelivered++;
      stats.bytesDelivered += e.frame.length;
      if (sub.closed) return;
      // Live entries piled up during the replay: send them paced too, then join on a later pass (the
      // rest of the buffer is read again from the cache or the stream).
      if (sub.backedUp) {
        joined = false;
        break;
      }
    }
    if (joined && topic.promote(sub, streamSeq)) return;
    if (sub.backedUp) await sub.drained();
    if (sub.closed) return;
    // Nothing new was read and the topic is still ahead (entries it dispatched are not in the stream, as
    // when Redis lost data): wait a little before reading again rather than spin on Redis. The liveness
    // check ends the session if the stream is gone.
    idle = sub.lastSeq === before ? idle + 1 : 0;
    if (idle > 1) await new Promise((r) => setTimeout(r, Math.min(10 * idle, 200)));
    if (sub.closed) return;
  }
}

/**
 * Metadata said events exist past the cursor but the stream returned none. That is final only if it still
 * holds a moment later: a read during a failover can answer from a node that is not the owner yet.
 */
async function confirmedLost(store: SessionStore, sessionId: string, cursor: number): Promise<boolean> {
  await new Promise((r) => setTimeout(r, 250));
  const meta = await store.meta(sessionId);
  if (!meta) return true;
  if (meta.seq <= cursor) return false;
  return (await store.range(sessionId, cursor + 1, 1)).length === 0;
}
