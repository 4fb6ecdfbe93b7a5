import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, name = 'autodevhub'): Logger {
  return pino({
    name,
    level,
    // Secrets never reach the logs, whatever a caller passes in.
    redact: {
      paths: ['*.token', '*.botToken', '*.signingSecret', '*.apiKey', '*.secret', '*.password', 'headers.authorization'],
      censor: '[redacted]',
    },
  });
}
