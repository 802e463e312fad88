import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '@relaycast/shared';
import { keptOnDetach } from './raw-http.js';

/** What the guard did, as plain counters for /metrics. */
export interface SocketGuardStats {
  /** Client sockets open now. */
  open: number;
  /** Closed for not completing their first request's headers within the timeout. */
  headersTimeouts: number;
  /** Closed, oldest first, to make room for a new connection while the edge held maxSockets. */
  evicted: number;
  /** New connections closed at once: the edge held maxSockets and every one of them had sent its request. */
  refused: number;
}

const LOG_EVERY_MS = 10_000;
const SWEEP_BATCH = 500;

/**
 * Guards the edge's file descriptors against connections that never speak. Every socket is "waiting"
 * from accept until its first request's headers are complete; one still waiting after `headersTimeoutMs`
 * is closed. The edge never holds more than `maxSockets`: at the cap, a new connection closes the oldest
 * waiting one (so a flood of silent sockets cannot keep a health check or a real client out), or, when
 * none is waiting, is itself closed at once. Node's own headersTimeout is checked only every 30 s and
 * counts nothing, hence this.
 *
 * Cost: one Map entry per waiting socket; a sweep visits only the sockets it closes (insertion order is
 * arrival order), so 100,000 waiting sockets cost no timers and no per-tick scans.
 */
export class SocketGuard {
  private readonly waiting = new Map<Socket, number>();
  private readonly timer: NodeJS.Timeout;
  private readonly logTimer: NodeJS.Timeout;
  private logged = 0;
  private sweeping = false;

  constructor(
    server: Server,
    readonly stats: SocketGuardStats,
    readonly maxSockets: number,
    private readonly headersTimeoutMs: number,
    private readonly log: Logger,
  ) {
    server.on('connection', (socket: Socket) => this.accept(socket));
    server.on('request', (req: { socket: Socket }) => this.waiting.delete(req.socket));
    this.timer = setInterval(() => this.sweep(), Math.min(1_000, Math.max(25, Math.floor(headersTimeoutMs / 4))));
    this.timer.unref();
    this.logTimer = setInterval(() => this.report(), LOG_EVERY_MS);
    this.logTimer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    clearInterval(this.logTimer);
  }

  private accept(socket: Socket): void {
    if (this.stats.open >= this.maxSockets) {
      const oldest = this.waiting.keys().next();
      if (oldest.done) {
        this.stats.refused++;
        socket.destroy();
        return;
      }
      this.waiting.delete(oldest.value);
      this.stats.evicted++;
      oldest.value.destroy();
    }
    this.stats.open++;
    this.waiting.set(socket, Date.now());
    // Kept when the events route takes the socket out of node's HTTP server (raw-http.ts), or the count
    // would never come down and the edge would refuse every connection once it had seen maxSockets.
    socket.once('close', keptOnDetach(() => {
      this.stats.open--;
      this.waiting.delete(socket);
    }));
  }

  /**
   * Closes the expired sockets SWEEP_BATCH at a time, yielding between batches: a flood's sockets all expire
   * together, and closing tens of thousands in one tick would hold up every other request that long.
   */
  private sweep(): void {
    if (this.sweeping) return;
    const expired = Date.now() - this.headersTimeoutMs;
    let n = 0;
    for (const [socket, at] of this.waiting) {
      if (at > expired) return;
      if (n++ === SWEEP_BATCH) {
        this.sweeping = true;
        setImmediate(() => {
          this.sweeping = false;
          this.sweep();
        });
        return;
      }
      this.waiting.delete(socket);
      this.stats.headersTimeouts++;
      socket.destroy();
    }
  }

  /** A flood is logged (one line per LOG_EVERY_MS at most), never per socket. */
  private report(): void {
    const { headersTimeouts, evicted, refused, open } = this.stats;
    const closed = headersTimeouts + evicted + refused;
    if (closed === this.logged) return;
    this.log.warn({ closed: closed - this.logged, headersTimeouts, evicted, refused, open, maxSockets: this.maxSockets, headersTimeoutMs: this.headersTimeoutMs }, 'closed connections that sent no complete request headers in time (silent or slow clients)');
    this.logged = closed;
  }
}
