/** What the edge's main thread shares with its probe listener's thread (health-worker.ts): epoch ms and a flag. */
export const CELL = { beat: 0, redisOkAt: 1, draining: 2 } as const;
export const CELL_COUNT = 3;

export interface HealthWorkerData {
  port: number;
  host: string;
  /** BigInt64Array cells, indexed by CELL. */
  cells: SharedArrayBuffer;
  /** /healthz fails once the main loop has not turned for this long. */
  stallMs: number;
  /** /readyz fails once Redis has not answered a PING for this long. */
  readyMaxAgeMs: number;
  maxConnections: number;
}

export interface MetricsReply {
  id: number;
  body: string;
  contentType: string;
}
