import { EventEmitter } from 'node:events';
import type { Request, Response } from 'express';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { clearDeadline, deadline } from '../../services/edge/src/deadline.js';

// A response as far as the deadline middleware sees one: it listens for 'close' and reads headersSent.
function fakeResponse() {
  const res = new EventEmitter() as EventEmitter & { locals: Record<string, unknown>; headersSent: boolean };
  res.locals = {};
  res.headersSent = false;
  return res;
}

describe('request deadline', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('holds one timer and one close listener per request until the request closes', () => {
    const res = fakeResponse();
    const next = vi.fn();
    deadline(10_000)({} as Request, res as unknown as Response, next);
    expect(next).toHaveBeenCalledOnce();
    expect(vi.getTimerCount()).toBe(1);
    expect(res.listenerCount('close')).toBe(1);
    res.emit('close');
    expect(vi.getTimerCount()).toBe(0);
    expect(res.listenerCount('close')).toBe(0);
  });

  it('a stream whose headers are sent releases its timer and listener at once, not hours later at close', () => {
    const res = fakeResponse();
    deadline(10_000)({} as Request, res as unknown as Response, () => undefined);
    res.headersSent = true;
    clearDeadline(res as unknown as Response);
    expect(vi.getTimerCount()).toBe(0);
    expect(res.listenerCount('close')).toBe(0);
    // Safe to call again, and the close that comes later finds nothing left to do.
    clearDeadline(res as unknown as Response);
    res.emit('close');
    expect(vi.getTimerCount()).toBe(0);
  });
});
