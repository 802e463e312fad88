import type { Job } from 'bullmq';

/**
 * Renews one attempt's BullMQ job lock with that attempt's own token, for as long as the attempt runs.
 *
 * Why not leave it to BullMQ alone: its lock manager (bullmq 6.7, `LockManager.trackedJobs`) tracks running
 * jobs by job id. After a Redis outage longer than the lock, the stalled check hands the job out again,
 * often to the worker whose old attempt is still running; that attempt is fenced and returns, BullMQ then
 * untracks the job id, and with it the new attempt, whose lock is never renewed again. The job stalls
 * attempt after attempt until it fails with `worker_failed` (issue 17). A renewal per attempt and token
 * cannot be untracked by another attempt. BullMQ's own renewal keeps running alongside; both are harmless.
 *
 * If a renewal finds the lock gone or held by another token, this attempt is stale (the lock expired while
 * Redis or this process was away): `onLost` runs once so it stops calling the model; BullMQ's stalled check
 * hands the job to a new attempt, which continues the session with a `reset`.
 */
export class JobLock {
  private timer: NodeJS.Timeout | undefined;
  private renewing = false;
  private stopped = false;

  constructor(
    private readonly job: Pick<Job, 'extendLock'>,
    private readonly token: string,
    private readonly durationMs: number,
    private readonly onLost: () => void,
  ) {}

  start(): this {
    // Three renewals per lock period: one may be slow (a busy Redis) and the lock still holds.
    this.timer = setInterval(() => void this.renew(), Math.max(100, Math.floor(this.durationMs / 3)));
    this.timer.unref();
    return this;
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  private async renew(): Promise<void> {
    // While Redis is unreachable a renewal waits in ioredis's queue; one at a time is enough.
    if (this.renewing || this.stopped) return;
    this.renewing = true;
    try {
      const extended = await this.job.extendLock(this.token, this.durationMs);
      if (!extended && !this.stopped) {
        this.stop();
        this.onLost();
      }
    } catch {
      // Redis unreachable: the next tick tries again; if the lock expires meanwhile, a renewal says so.
    } finally {
      this.renewing = false;
    }
  }
}
