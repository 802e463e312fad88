/** A minimal typed event emitter (the same code in browsers and Node, no dependency). */
export class Emitter<M extends object> {
  private readonly handlers = new Map<keyof M, Set<(payload: never) => void>>();

  /** Adds a handler; returns a function that removes it. */
  on<K extends keyof M>(type: K, handler: (payload: M[K]) => void): () => void {
    let set = this.handlers.get(type);
    if (!set) this.handlers.set(type, (set = new Set()));
    set.add(handler as (payload: never) => void);
    return () => set.delete(handler as (payload: never) => void);
  }

  protected emit<K extends keyof M>(type: K, payload: M[K]): void {
    for (const h of [...(this.handlers.get(type) ?? [])]) {
      try {
        (h as (p: M[K]) => void)(payload);
      } catch (err) {
        // A throwing handler must not break the stream for the others; surface it without swallowing it.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }
}
