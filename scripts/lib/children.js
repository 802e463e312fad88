// The launcher's child processes: started with prefixed output, and all stopped (edge first) when one dies
// or the launcher is told to stop, with a SIGKILL for any that outlives its grace period.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

const children = [];
let stopping;
const cleanups = [];

/** A child is over once it exited by itself or by a signal (a signalled child has exitCode null). */
const over = (child) => child.exitCode !== null || child.signalCode !== null;

/** Runs `fn` (synchronously) once everything is stopped, before the launcher exits. */
export function onStopped(fn) {
  cleanups.push(fn);
}

export function isStopping() {
  return stopping !== undefined;
}

/**
 * Starts `cmd` with its stdout and stderr lines prefixed by `[name]` (or handed to `o.onLine` instead).
 * An exit before stop() stops everything with status 1. Returns the child and `alive()`.
 */
export function run(name, cmd, args, o = {}) {
  const child = spawn(cmd, args, { cwd: o.cwd, env: { ...process.env, ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => (o.onLine ? o.onLine(line) : process.stdout.write(`[${name}] ${line}\n`)));
  }
  child.once('error', (err) => {
    console.error(`[start] could not start ${name}: ${err.message}`);
    void stop(1);
  });
  child.once('exit', (code, signal) => {
    if (isStopping()) return;
    console.error(`[start] ${name} exited (${signal ?? `code ${code}`}); stopping everything`);
    o.onUnexpectedExit?.();
    void stop(1);
  });
  children.push({ name, child, exited });
  return { child, alive: () => !over(child) };
}

/**
 * Stops every child, newest first (edge, ingest, mock model, then Redis: clients are told before Redis goes),
 * each with SIGTERM and, past `graceMs`, SIGKILL; then runs the clean-ups and exits with `code`. A failure
 * stop uses a short grace: nothing is being drained for anyone.
 */
export function stop(code = 0) {
  stopping ??= (async () => {
    const graceMs = code === 0 ? 12_000 : 3_000;
    for (const { child, exited } of [...children].reverse()) {
      if (over(child)) continue;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    }
    for (const fn of cleanups) {
      try {
        fn();
      } catch {
        /* best effort: the process is leaving */
      }
    }
    process.exit(code);
  })();
  return stopping;
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => void stop(0));
