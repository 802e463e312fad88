import { ui } from './ui.js';

const MAX_DELAY_S = 30;

/**
 * Retrying while the edge cannot be reached: exponential backoff (1, 2, 4 … 30 s), a visible countdown and a
 * "Retry now" button, for as long as it takes. Never a dead end: the page goes on by itself once the edge is
 * back, or at once when the person asks.
 */
export class Retry {
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private ticker: ReturnType<typeof setInterval> | undefined;
  private run: (() => void) | undefined;

  constructor() {
    ui.retry.addEventListener('click', () => this.now());
  }

  /** Schedules `run` after the next backoff delay and shows the countdown; `what` says what failed. */
  schedule(what: string, run: () => void): void {
    this.cancel();
    const delayS = Math.min(2 ** this.attempt, MAX_DELAY_S);
    this.attempt++;
    this.run = run;
    const due = Date.now() + delayS * 1000;
    const show = () => {
      const left = Math.max(0, Math.ceil((due - Date.now()) / 1000));
      ui.offlineText.textContent = `${what} Trying again in ${left} s (attempt ${this.attempt}).`;
    };
    show();
    ui.offline.dataset.attempt = String(this.attempt);
    ui.offline.hidden = false;
    this.ticker = setInterval(show, 1000);
    this.timer = setTimeout(() => this.now(), delayS * 1000);
  }

  /** Runs the pending retry at once (the Retry button). */
  now(): void {
    const run = this.run;
    this.stopTimers();
    if (!run) return;
    this.run = undefined;
    ui.offlineText.textContent = 'Trying again…';
    run();
  }

  /** The edge answered: the next failure starts the backoff from the beginning. */
  succeeded(): void {
    this.attempt = 0;
    this.cancel();
  }

  cancel(): void {
    this.stopTimers();
    this.run = undefined;
    ui.offline.hidden = true;
    delete ui.offline.dataset.attempt;
  }

  private stopTimers(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.ticker) clearInterval(this.ticker);
    this.timer = this.ticker = undefined;
  }
}
