import { pino, type Logger } from 'pino';

export type { Logger };

/** JSON logs on stdout; the level comes from config. Secrets are redacted by path, not by hope. */
export function createLogger(service: string, level: string): Logger {
  return pino({
    name: service,
    level,
    base: { service, pid: process.pid },
    redact: { paths: ['req.headers.authorization', 'headers.authorization', 'token', 'apiKey', '*.apiKey'], censor: '[redacted]' },
  });
}
