import type { SessionStore, StoredEntry } from '@relaycast/store';
import type { EdgeStats } from './stats.js';
import type { LiveEntry, Subscriber } from './subscriber.js';
import { gapEntry, STREAM_LOST, toLiveEntry, type Topic } from './topic.js';

// A replay page is written in runs of about this many bytes, each one socket write.
const RUN_BYTES = 65_536;

/**
 * Brings a registered subscriber from its cursor to live without a gap or a duplicate:
 *   1. it is already registered with the topic, so every live entry since then is in its buffer;
 *   2. read history after the cursor in pages (the next page read while the current one is written),
 *      each written in runs of joined frames (a resume storm's runs come joined from the topic's cache),
 *      paced by the socket ('drain') once half the slow-consumer bound is queued, so what waits in memory
 *      is bounded by that plus one run and one page read ahead, whatever the events' size;
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
  // The next page, asked for while the current one is written (a backlog's reads overlap its writes).
  let next: Promise<StoredEntry[]> | undefined;
  for (let idle = 0; ; ) {
    const before = sub.lastSeq;
    const cached = next ? undefined : topic.recentRun(sub.lastSeq + 1, pageSize);
    let atEnd: boolean;
    if (cached) {
      first = false;
      streamSeq = Math.max(streamSeq, cached.entries[cached.entries.length - 1]!.seq);
      count(stats, cached.entries);
      sub.deliverRun(cached.entries, cached.bytes);
      // Whatever the cache did not hold is read from the stream on the next pass; past what the stream is
      // known to hold, the live buffer takes over (an entry dispatched before this subscriber registered
      // leaves the topic ahead of it, and promote() then sends it back to read).
      atEnd = sub.lastSeq >= streamSeq;
    } else {
      const page = await (next ?? store.range(topic.sessionId, sub.lastSeq + 1, pageSize));
      next = undefined;
      if (sub.closed) return;
      if (first) {
        first = false;
        // Metadata says events exist past the cursor but the stream has none: Redis lost it. Never replay a
        // different stream under old ids; tell the client in-band and end.
        if (page.length === 0 && knownSeq > cursor && (await confirmedLost(store, topic.sessionId, cursor))) {
          if (sub.closed) return;
          sub.write(STREAM_LOST);
          sub.end();
          return;
        }
      }
      atEnd = page.length < pageSize;
      if (!atEnd) next = store.range(topic.sessionId, page[page.length - 1]!.seq + 1, pageSize);
      streamSeq = Math.max(streamSeq, page.at(-1)?.seq ?? 0);
      await writePage(sub, topic, page, stats);
    }
    if (sub.backedUp) await sub.drained();
    if (sub.closed) return;
    if (!atEnd) continue;
    // Reached the end of the stream as of that read; join up with the live buffer.
    const joined = joinLive(sub, topic, stats, streamSeq);
    if (joined === 'live' || sub.closed) return;
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
 * A page read from the stream: encoded, cached, a gap notice where entries are missing, sent in runs of
 * about RUN_BYTES, each one write, paced by the socket like single events were.
 */
async function writePage(sub: Subscriber, topic: Topic, page: readonly StoredEntry[], stats: EdgeStats): Promise<void> {
  let run: LiveEntry[] = [];
  let bytes = 0;
  const send = () => {
    count(stats, run);
    sub.deliverRun(run, run.length === 1 ? run[0]!.frame : Buffer.concat(run.map((e) => e.frame), bytes));
    run = [];
    bytes = 0;
  };
  let last = sub.lastSeq;
  for (const e of page) {
    if (sub.closed) return;
    if (e.seq <= last) continue;
    // Entries missing before `e` were trimmed (MAXLEN) or lost by Redis: say so, never skip silently.
    if (e.seq > last + 1) {
      stats.gaps++;
      const gap = gapEntry(last, e.seq);
      run.push(gap);
      bytes += gap.frame.length;
    }
    const le = toLiveEntry(e);
    topic.remember(le);
    run.push(le);
    bytes += le.frame.length;
    last = e.seq;
    // What waits for the socket stays bounded by half the slow-consumer bound plus one run.
    if (bytes >= RUN_BYTES) {
      send();
      if (sub.backedUp) await sub.drained();
    }
  }
  if (run.length) send();
}

/** Gap notices are not counted as delivered events, as before. */
function count(stats: EdgeStats, run: readonly LiveEntry[]): void {
  for (const e of run) {
    if (e.gap) continue;
    stats.eventsReplayed++;
    stats.eventsDelivered++;
    stats.bytesDelivered += e.frame.length;
  }
}

/**
 * Flushes the live buffer, skipping seqs already written, and joins the live set when nothing the topic
 * dispatched is missing. 'again' when the buffer overflowed or does not join up with what was written:
 * the caller reads history again from the last written seq. No await inside, so no live entry can slip
 * past unseen.
 */
function joinLive(sub: Subscriber, topic: Topic, stats: EdgeStats, streamSeq: number): 'live' | 'again' {
  const buffered = sub.takeHeld();
  if (buffered === null) return 'again';
  for (const e of buffered) {
    if (e.seq <= sub.lastSeq) {
      // A terminal entry at or before the cursor: nothing will follow it (see Subscriber.deliver).
      sub.deliver(e);
      if (sub.closed) return 'again';
      continue;
    }
    if (e.seq !== sub.lastSeq + 1) return 'again';
    sub.deliver(e);
    stats.eventsDelivered++;
    stats.bytesDelivered += e.frame.length;
    if (sub.closed) return 'again';
    // Live entries piled up during the replay: send them paced too, then join on a later pass (the rest
    // of the buffer is read again from the cache or the stream).
    if (sub.backedUp) return 'again';
  }
  return topic.promote(sub, streamSeq) ? 'live' : 'again';
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
