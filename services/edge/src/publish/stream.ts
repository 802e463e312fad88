import type { Request, Response } from 'express';
import { ERRORS } from '@relaycast/protocol';
import type { ProducerMeta } from '@relaycast/store';
import { clearDeadline } from '../deadline.js';
import { sendError } from '../http-error.js';
import { producerOf } from './auth.js';
import { charge, commit, PublishRefused, sendRefused, type Ack } from './commit.js';
import { parsePublishEvent, PublishInputError, type PublishEvent } from './events.js';
import { ndjsonReader, sseReader, type BodyReader } from './lines.js';
import { PublishRun, type ProcessorSpec } from './processors.js';
import type { PublishRouteDeps } from './routes.js';

/** How often a streaming publish looks whether the session was ended by someone else (a cancel, a timeout). */
const WATCH_MS = 250;
/** A blank line refreshes the producer's idle deadline at most this often. */
const KEEPALIVE_MS = 1_000;

export function isStreamBody(req: Request): boolean {
  return req.is(['application/x-ndjson', 'application/jsonl', 'application/ndjson', 'text/event-stream']) !== false;
}

const intParam = (req: Request, name: string): number | undefined => {
  const v = req.query[name] ?? req.get(`relaycast-${name}`);
  return typeof v === 'string' && /^\d{1,15}$/.test(v) ? Number(v) : undefined;
};

/**
 * `POST /v1/sessions/:id/publish?epoch=E&seq=S` with an NDJSON or SSE body: one long-lived request. The n-th
 * event of the body has producer seq S+n-1; the complete lines of each received chunk are appended before
 * the next chunk is read (that is the backpressure). A cut connection leaves every complete line appended;
 * `GET …/producer` then tells the producer where to resume. Lines at or below the last acknowledged seq are
 * skipped, so a producer may simply resend from its own last known point.
 */
export function publishStream(d: PublishRouteDeps) {
  return async (req: Request, res: Response): Promise<void> => {
    const p = await producerOf(d.producers, d.auth, req, res);
    if (!p) return;
    const epoch = intParam(req, 'epoch');
    const seq = intParam(req, 'seq');
    if (!epoch || !seq) return sendError(res, 'invalid_request', 'a streaming publish needs ?epoch=<n>&seq=<first seq> (or Relaycast-Epoch and Relaycast-Seq headers)');
    clearDeadline(res);
    const s = new StreamPublish(d, p.id, p.meta, epoch, seq, req.is('text/event-stream') ? sseReader(d.cfg.PUBLISH_MAX_EVENT_BYTES) : ndjsonReader(d.cfg.PUBLISH_MAX_EVENT_BYTES * 2 + 1024));
    await s.run(req, res);
  };
}

class StreamPublish {
  private readonly run_: PublishRun;
  private next: number;
  private firstPending: number;
  private pending = 0;
  private chain: Promise<void> = Promise.resolve();
  private failure: unknown;
  private ack: Ack;
  private lines = 0;
  private skipped = 0;
  private lastCommit = Date.now();
  /** Set when the request must stop (an answer was chosen); the body is no longer read. */
  private stop: PublishRefused | PublishInputError | undefined;

  constructor(private readonly d: PublishRouteDeps, private readonly id: string, private readonly meta: ProducerMeta, private readonly epoch: number, seq: number, private readonly reader: BodyReader) {
    this.run_ = new PublishRun(meta.processors as ProcessorSpec[], d.cfg, meta.outChars);
    this.run_.onLate = () => this.enqueue();
    this.next = seq;
    this.firstPending = seq;
    this.ack = { pseq: meta.pseq, nextSeq: meta.pseq + 1, lastEventId: String(meta.seq), duplicate: false, ended: false };
  }

  async run(req: Request, res: Response): Promise<void> {
    let stopped!: () => void;
    const stopping = new Promise<void>((r) => (stopped = r));
    const abort = (e: PublishRefused | PublishInputError) => {
      this.stop ??= e;
      stopped();
    };
    const idleError = () => new PublishInputError('stream_idle', `no line for ${this.d.cfg.PUBLISH_STREAM_IDLE_MS} ms`);
    let idle = setTimeout(() => abort(idleError()), this.d.cfg.PUBLISH_STREAM_IDLE_MS);
    const max = setTimeout(() => abort(new PublishInputError('stream_too_long', `a streaming publish lasts at most ${this.d.cfg.PUBLISH_STREAM_MAX_MS} ms; continue in a new request`)), this.d.cfg.PUBLISH_STREAM_MAX_MS);
    const watch = setInterval(() => void this.watch().then((e) => e && abort(e), () => undefined), WATCH_MS);
    let cut = false;
    const read = (async () => {
      for await (const chunk of req as AsyncIterable<Buffer>) {
        if (this.stop) return;
        clearTimeout(idle);
        idle = setTimeout(() => abort(idleError()), this.d.cfg.PUBLISH_STREAM_IDLE_MS);
        this.take(this.reader.push(chunk));
        await this.settle();
        if (this.run_.ended || this.stop) return;
      }
      if (!this.run_.ended && !this.stop) this.take(this.reader.end());
    })().catch((e: unknown) => {
      if (e instanceof PublishInputError || e instanceof PublishRefused) this.stop ??= e;
      else if (!this.stop) cut = true;
    });
    await Promise.race([read, stopping]);
    clearTimeout(idle);
    clearTimeout(max);
    clearInterval(watch);
    // Whatever the processors still hold came from lines that were acknowledged: append it now.
    if (!(this.stop instanceof PublishRefused)) {
      this.run_.flush();
      this.enqueue(true);
    }
    this.run_.close();
    await this.chain;
    if (cut || res.destroyed) return;
    // The body may still be arriving: answer, then let go of the connection.
    res.once('finish', () => req.destroy());
    res.set('Connection', 'close');
    const failure = this.failure;
    if (failure && !(failure instanceof PublishRefused)) throw failure;
    const stop = this.stop ?? (failure as PublishRefused | undefined);
    const progress = { pseq: this.ack.pseq, nextSeq: this.ack.pseq + 1, lastEventId: this.ack.lastEventId, lines: this.lines, skipped: this.skipped };
    if (stop instanceof PublishRefused) return sendRefused(res, new PublishRefused(stop.code, stop.message, { ...stop.extra, ...progress }));
    if (stop) return void res.status(ERRORS[stop.code].status).json({ error: { code: stop.code, message: stop.message, ...progress } });
    res.json({ ...progress, ended: this.ack.ended || this.run_.ended, ...(this.run_.finishedBy ? { finishReason: this.run_.finishedBy } : {}) });
  }

  private take(items: ReturnType<BodyReader['push']>): void {
    for (const item of items) {
      if (this.run_.ended || this.stop) break;
      if (item.kind === 'bad') throw item.error;
      if (item.kind === 'keepalive') {
        if (this.pending === 0 && Date.now() - this.lastCommit > KEEPALIVE_MS) this.enqueue();
        continue;
      }
      const ev: PublishEvent = parsePublishEvent(item.raw, `${item.where} (seq ${this.next})`, this.d.cfg.PUBLISH_MAX_EVENT_BYTES);
      const pseq = this.next++;
      this.lines++;
      if (pseq <= this.meta.pseq) {
        this.skipped++;
        this.firstPending = this.next;
        continue;
      }
      this.run_.feed(ev);
      this.pending++;
    }
    this.enqueue();
  }

  /** Queues an append of the output so far, covering the pending lines. Appends run one at a time, in order. */
  private enqueue(onlyOutput = false): void {
    const out = this.run_.out;
    const chars = this.run_.outChars;
    const covers = this.pending;
    const first = this.firstPending;
    if (covers === 0 && out.length === 0 && (onlyOutput || Date.now() - this.lastCommit <= KEEPALIVE_MS)) return;
    this.run_.out = [];
    this.run_.outChars = 0;
    this.pending = 0;
    this.firstPending = first + covers;
    this.lastCommit = Date.now();
    this.chain = this.chain.then(async () => {
      if (this.failure) return;
      try {
        if (covers > 0) await charge(this.d, this.meta, covers);
        this.ack = await commit(this.d, this.id, this.meta, this.epoch, first, covers, out, chars);
      } catch (e) {
        this.failure = e;
      }
    });
  }

  private async settle(): Promise<void> {
    await this.chain;
    if (this.failure instanceof PublishRefused) throw this.failure;
    if (this.failure) throw this.failure;
  }

  /** Someone else ended the session (a cancel, the idle timeout): the producer is told and stops. */
  private async watch(): Promise<PublishRefused | undefined> {
    const m = await this.d.producers.meta(this.id);
    if (!m || m.terminal === undefined || this.run_.ended) return undefined;
    if (m.status === 'cancelled') return new PublishRefused('session_cancelled', `the session was cancelled (${m.cancelRequested ?? 'cancelled'}); stop the upstream`, { reason: m.cancelRequested ?? null });
    return new PublishRefused('session_ended', `the session already ended (${m.status})`, { status: m.status });
  }
}

