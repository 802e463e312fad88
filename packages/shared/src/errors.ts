/** Small error classes so callers branch with `instanceof`, never on message text. */

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly variable: string, message: string) {
    super(`${variable}: ${message}`);
  }
}
