import { encodeFrame, type SessionStore } from '@relaycast/shared';
import type { Subscriber } from './subscriber.js';
import { toLiveEntry, type Topic } from './topic.js';

/**
 * Brings a registered subscriber from its cursor to live without a gap or a duplicate:
 *   1. it is already registered with the topic, so every live entry since then is in its buffer;
 *   2. read history after the cursor in pages, each page paced by the socket ('drain');
 *   3. flush the buffer, skipping seqs already written; if the buffer overflowed or does not join up
 *      with what was read, read history again from the last written seq;
 *   4. join the live set only when nothing the topic dispatched is missing.
 * Step 3-4 run without an await in between, so no live entry can slip past unseen.
 */
export async function replayThenGoLive(sub: Subscriber, topic: Topic, store: SessionStore, pageSize: number, knownSeq: number): Promise<void> {
  const cursor = sub.lastSeq;
  let first = true;
  for (;;) {
    const page = await store.range(topic.sessionId, sub.lastSeq + 1, pageSize);
    if (sub.closed) return;
    if (first) {
      first = false;
      const head = page[0];
      // Metadata says events exist past the cursor but the stream has none: Redis lost it. Never replay a
      // different stream under old ids; tell the client in-band and end.
      if (!head && knownSeq > cursor) {
        sub.write(encodeFrame({ event: 'error', data: JSON.stringify({ code: 'stream_lost', message: 'the session stream was lost', retryable: false }) }));
        sub.end();
        return;
      }
      // Entries before `head` were trimmed (MAXLEN) or never existed: say so in-band, never skip silently.
      if (head && head.seq > cursor + 1) {
        sub.write(encodeFrame({ id: String(head.seq - 1), event: 'gap', data: JSON.stringify({ requested: String(cursor), resumedFrom: String(head.seq) }) }));
        topic.counters.gaps++;
      }
    }
    for (const e of page) {
      if (e.seq <= sub.lastSeq) continue;
      const le = toLiveEntry(e);
      sub.deliver(le);
      topic.counters.replayedEvents++;
      topic.counters.eventsDelivered++;
      topic.counters.bytesDelivered += le.frame.length;
      if (sub.closed) return;
    }
    if (page.length === pageSize) {
      await sub.drained();
      if (sub.closed) return;
      continue;
    }
    // Reached the end of the stream as of that read; join up with the live buffer.
    const buffered = sub.buffer;
    sub.buffer = [];
    if (buffered === null) continue;
    let joined = true;
    for (const e of buffered) {
      if (e.seq <= sub.lastSeq) continue;
      if (e.seq !== sub.lastSeq + 1) {
        joined = false;
        break;
      }
      sub.deliver(e);
      topic.counters.eventsDelivered++;
      topic.counters.bytesDelivered += e.frame.length;
      if (sub.closed) return;
    }
    if (joined && topic.promote(sub)) return;
  }
}
