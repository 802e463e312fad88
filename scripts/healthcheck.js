#!/usr/bin/env node
// Container healthcheck: exits 0 when the URL answers 2xx within 2 s, 1 otherwise (no curl in the image).
const url = process.argv[2] ?? `http://127.0.0.1:${process.env.PORT ?? 8080}/healthz`;
try {
  const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  process.exit(res.ok ? 0 : 1);
} catch {
  process.exit(1);
}
