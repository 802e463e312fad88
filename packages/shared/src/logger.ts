import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * JSON logs on stdout (or `destination`); the level comes from config. Secrets are redacted by path, not by
 * hope, and request logs never include headers, query strings or bodies in the first place (they carry
 * API keys and subscribe tokens).
 */
export function createLogger(service: string, level: string, destination?: DestinationStream): Logger {
  const options = {
    name: service,
    level,
    base: { service, pid: process.pid },
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'headers.authorization',
        'headers.cookie',
        '*.headers.authorization',
        'authorization',
        '*.authorization',
        'token',
        '*.token',
        'apiKey',
        '*.apiKey',
        'query',
        '*.query',
        'tokenSecret',
        '*.tokenSecret',
        'TOKEN_SECRET',
        '*.TOKEN_SECRET',
        'TOKEN_SECRET_PREVIOUS',
        '*.TOKEN_SECRET_PREVIOUS',
      ],
      censor: '[redacted]',
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
