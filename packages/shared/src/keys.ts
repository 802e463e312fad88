/**
 * The one place that builds Redis keys. Every key of a session carries `{id}` as a hash tag so that
 * all of them share a cluster slot: the append script touches several of them atomically.
 */
export interface SessionKeys {
  /** Redis Stream of the session's events; entry id `<seq>-0`. */
  stream: string;
  /** Hash: status, model, attempt, seq, terminal seq, timestamps. */
  meta: string;
  /** Pub/sub channel carrying each appended batch to the edges. */
  live: string;
  /** Pub/sub channel carrying cancel requests to the worker running the session. */
  control: string;
}

export interface KeySpace {
  readonly prefix: string;
  session(id: string): SessionKeys;
  /** BullMQ queue prefix; hash-tagged so every queue key lands in one slot, as BullMQ requires on a cluster. */
  readonly queuePrefix: string;
  readonly queueName: string;
}

export function keySpace(prefix: string): KeySpace {
  if (!/^[A-Za-z0-9:_-]{1,64}$/.test(prefix)) throw new Error(`invalid key prefix ${JSON.stringify(prefix)}`);
  return {
    prefix,
    session(id) {
      const base = `${prefix}:s:{${id}}`;
      return { stream: `${base}:events`, meta: `${base}:meta`, live: `${base}:live`, control: `${base}:control` };
    },
    queuePrefix: `{${prefix}:q}`,
    queueName: 'generate',
  };
}
