import { FencedError, SessionEndedError, SessionMissingError } from './errors.js';
import { eventData, type RelaycastEvent, type SessionStatus } from '@relaycast/protocol';
import { entryId, seqOfEntryId } from '@relaycast/protocol';
import { keySpace, type KeySpace } from './keys.js';
import type { RedisClient } from './redis.js';
import { AppendCode, BeginCode, CancelCode, commandsOf, type ScriptArg } from './scripts.js';

type ScriptReply = [number, number | string, ...(number | string)[]];
/** The Redis commands a session store runs, and nothing else: its scripts (append-3.lua, begin-1.lua, cancel-2.lua) and five plain commands. */
export interface SessionCommands extends Pick<RedisClient, 'multi' | 'hgetall' | 'xrange' | 'hget' | 'exists'> {
  rcAppend(...args: ScriptArg[]): Promise<ScriptReply>;
  rcBegin(...args: ScriptArg[]): Promise<ScriptReply>;
  rcCancel(...args: ScriptArg[]): Promise<ScriptReply>;
}

export interface SessionMeta {
  status: SessionStatus;
  model: string;
  createdAt: number;
  startedAt?: number;
  endedAt?: number;
  /** Last appended seq (0 when nothing was appended yet). */
  seq: number;
  /** Seq of the terminal event once the session ended. */
  terminal?: number;
  attempt: number;
  cancelRequested?: string;
  /** Owner of the session: the tenant of the API key that created it, and that key's id. */
  tenant?: string;
  keyId?: string;
}

/** One stored event: its sequence number and the two strings that travel on the wire. */
export interface StoredEntry {
  seq: number;
  type: string;
  data: string;
}

export interface StoreOptions {
  maxLen: number;
  retentionSeconds: number;
  openTtlSeconds: number;
}

/**
 * Everything Relaycast reads and writes in Redis for a session, in one place. Appends go through
 * append-3.lua (one round trip: XADD, metadata, TTL and the live notification together).
 */
export class SessionStore {
  readonly redis: SessionCommands;

  constructor(redis: RedisClient | SessionCommands, readonly keys: KeySpace, readonly opts: StoreOptions) {
    this.redis = commandsOf<SessionCommands>(redis);
  }

  async create(id: string, fields: { model: string; createdAt: number; tenant?: string; keyId?: string }): Promise<void> {
    const k = this.keys.session(id);
    const owner = { ...(fields.tenant !== undefined ? { tenant: fields.tenant } : {}), ...(fields.keyId !== undefined ? { keyId: fields.keyId } : {}) };
    await this.redis.multi().hset(k.meta, { status: 'queued', model: fields.model, createdAt: fields.createdAt, seq: 0, attempt: 0, ...owner }).expire(k.meta, this.opts.openTtlSeconds).exec();
  }

  async meta(id: string): Promise<SessionMeta | undefined> {
    const h = await this.redis.hgetall(this.keys.session(id).meta);
    if (!h.status) return undefined;
    return {
      status: h.status as SessionStatus,
      model: h.model ?? '',
      createdAt: Number(h.createdAt),
      ...(h.startedAt ? { startedAt: Number(h.startedAt) } : {}),
      ...(h.endedAt ? { endedAt: Number(h.endedAt) } : {}),
      seq: Number(h.seq ?? 0),
      ...(h.terminal ? { terminal: Number(h.terminal) } : {}),
      attempt: Number(h.attempt ?? 0),
      ...(h.cancelRequested ? { cancelRequested: h.cancelRequested } : {}),
      ...(h.tenant !== undefined ? { tenant: h.tenant } : {}),
      ...(h.keyId !== undefined ? { keyId: h.keyId } : {}),
    };
  }

  /** Takes the session for a new attempt; the returned attempt fences every earlier one. */
  async begin(id: string): Promise<{ attempt: number; seq: number; cancelRequested: boolean }> {
    const [code, attempt, seq, cancel] = await this.redis.rcBegin(this.keys.session(id).meta, Date.now(), this.opts.openTtlSeconds);
    if (code === BeginCode.Missing) throw new SessionMissingError(`session ${id} does not exist`);
    if (code === BeginCode.Ended) throw new SessionEndedError(`session ${id} already ended`);
    return { attempt: Number(attempt), seq: Number(seq), cancelRequested: Number(cancel) === 1 };
  }

  /**
   * Appends events with seqs firstSeq, firstSeq+1, … as attempt `attempt`. Safe to retry with the same
   * arguments: entries already present are skipped. Returns the session's last seq.
   */
  async append(id: string, attempt: number, firstSeq: number, events: readonly RelaycastEvent[]): Promise<number> {
    const k = this.keys.session(id);
    const args: (string | number)[] = [k.stream, k.meta, k.live, attempt, firstSeq, this.opts.maxLen, this.opts.retentionSeconds, this.opts.openTtlSeconds, Date.now()];
    for (const e of events) args.push(e.type, eventData(e));
    const [code, seq] = await this.redis.rcAppend(...args);
    switch (code) {
      case AppendCode.AppendedAfterLoss:
      case AppendCode.Appended:
      case AppendCode.Duplicate:
        return Number(seq);
      case AppendCode.Missing: throw new SessionMissingError(`session ${id} does not exist`);
      case AppendCode.Fenced: throw new FencedError(`session ${id} is owned by attempt ${seq}, not ${attempt}`);
      case AppendCode.Ended: throw new SessionEndedError(`session ${id} already ended`);
      default: throw new Error(`append-3 returned ${code} for session ${id} at seq ${firstSeq} (stream at ${seq})`);
    }
  }

  /** Records a cancel request and notifies the running worker. Returns the status seen, or undefined if missing. */
  async requestCancel(id: string, reason: string): Promise<{ status: string; attempt: number; seq: number; ended: boolean; watchers: number } | undefined> {
    const k = this.keys.session(id);
    const [code, status, attempt, seq, watchers] = await this.redis.rcCancel(k.meta, k.control, reason);
    if (code === CancelCode.Missing) return undefined;
    return { status: String(status), attempt: Number(attempt), seq: Number(seq), ended: code === CancelCode.Ended, watchers: Number(watchers ?? 0) };
  }

  /** Entries with seq in [fromSeq, toSeq], at most `count`. */
  async range(id: string, fromSeq: number, count: number, toSeq?: number): Promise<StoredEntry[]> {
    const raw = (await this.redis.xrange(this.keys.session(id).stream, entryId(fromSeq), toSeq === undefined ? '+' : entryId(toSeq), 'COUNT', count)) as [string, string[]][];
    return raw.map(toEntry);
  }

  /** Last appended seq of each session, or null where its metadata is gone; one pipelined round trip. */
  async lastSeqs(ids: readonly string[]): Promise<(number | null)[]> {
    if (ids.length === 0) return [];
    // One HGET per session; on a cluster each goes to the shard that owns it.
    const replies = await Promise.all(ids.map((id) => this.redis.hget(this.keys.session(id).meta, 'seq')));
    return replies.map((r) => (r === null ? null : Number(r)));
  }

  async streamExists(id: string): Promise<boolean> {
    return (await this.redis.exists(this.keys.session(id).stream)) === 1;
  }
}

export function toEntry([id, fields]: [string, string[]]): StoredEntry {
  let type = '';
  let data = '';
  for (let i = 0; i < fields.length; i += 2) {
    if (fields[i] === 't') type = fields[i + 1]!;
    else if (fields[i] === 'd') data = fields[i + 1]!;
  }
  return { seq: seqOfEntryId(id), type, data };
}

/** Parses a live notification published by append-3.lua: first seq, then type/data pairs, one per line. */
export function parseLiveMessage(message: string): StoredEntry[] {
  const parts = message.split('\n');
  const first = Number(parts[0]);
  const out: StoredEntry[] = [];
  for (let i = 1; i + 1 < parts.length; i += 2) out.push({ seq: first + (i - 1) / 2, type: parts[i]!, data: parts[i + 1]! });
  return out;
}

/** The settings a session store takes from a service's config. */
export interface StoreSettings {
  REDIS_KEY_PREFIX: string;
  STREAM_MAXLEN: number;
  RETENTION_SECONDS: number;
  QUEUED_TTL_SECONDS: number;
}

/** The session store every service uses, with retention and limits from config. */
export function storeFor(cfg: StoreSettings, redis: RedisClient): SessionStore {
  return new SessionStore(redis, keySpace(cfg.REDIS_KEY_PREFIX), { maxLen: cfg.STREAM_MAXLEN, retentionSeconds: cfg.RETENTION_SECONDS, openTtlSeconds: cfg.QUEUED_TTL_SECONDS });
}
