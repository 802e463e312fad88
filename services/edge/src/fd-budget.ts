import { readFileSync } from 'node:fs';

/**
 * File descriptors the edge needs besides client sockets: its three Redis connections, the listening
 * socket, stdio, libuv's own (epoll, signal pipes, thread pool), the inspector, the web page's files.
 */
export const RESERVED_FDS = 64;

export interface FdBudget {
  /** The open-file limit this process runs under (soft, hard), when the platform tells. */
  soft?: number;
  hard?: number;
  /** Client sockets the edge holds at most, whatever they are doing: accept() must never meet EMFILE. */
  maxSockets: number;
  /** Event streams (MAX_CONNECTIONS, lowered to fit): the rest of maxSockets is for API calls and health checks. */
  maxStreams: number;
}

/**
 * The soft and hard RLIMIT_NOFILE from /proc/self/limits (Linux); undefined elsewhere. Node itself raises
 * the soft limit to the hard one when the process starts (PlatformInit in src/node.cc), and offers no
 * setrlimit to a script, so what is read here is already the most this process can have.
 */
export function readFdLimits(read: () => string = () => readFileSync('/proc/self/limits', 'utf8')): { soft: number; hard: number } | undefined {
  let text: string;
  try {
    text = read();
  } catch {
    return undefined;
  }
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text);
  if (!m) return undefined;
  const num = (v: string) => (v === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(v));
  const soft = num(m[1]!);
  const hard = num(m[2]!);
  return Number.isFinite(soft) && Number.isFinite(hard) ? { soft, hard } : undefined;
}

/**
 * Splits the fd limit: RESERVED_FDS for the process, then client sockets; of those, at least 5% (64 or
 * more) stay free of event streams for API requests and health checks. With 20,000 fds: 19,936 sockets,
 * of which 18,939 streams. An unknown limit caps nothing beyond MAX_CONNECTIONS.
 */
export function fdBudget(maxConnections: number, limits: { soft: number; hard: number } | undefined): FdBudget {
  if (!limits) return { maxSockets: maxConnections + Math.max(64, Math.ceil(maxConnections * 0.05)), maxStreams: maxConnections };
  const maxSockets = Math.max(2, limits.soft - RESERVED_FDS);
  const headroom = Math.max(Math.min(64, Math.floor(maxSockets / 2)), Math.ceil(maxSockets * 0.05));
  return { ...limits, maxSockets, maxStreams: Math.max(1, Math.min(maxConnections, maxSockets - headroom)) };
}
