// The Redis store warns when a server would lose tokens (no persistence, eviction) or refuses
// CONFIG, and the test Redis servers keep nothing on disk: those warnings are kept here, for the
// tests that expect them, instead of being printed. Any other warning prints as usual.

/** A process warning the Redis store emitted. */
export interface RedisWarning {
  message: string;
  code: string;
}

const captured: RedisWarning[] = [];
const emitWarning = process.emitWarning;

process.emitWarning = (warning: string | Error, ...rest: unknown[]): void => {
  const options = rest[0];
  const code = typeof options === 'object' && options !== null ? (options as { code?: unknown }).code : rest[1];
  if (typeof code === 'string' && code.startsWith('SAMSARA_REDIS_')) {
    captured.push({ message: String(warning), code });
    return;
  }
  Reflect.apply(emitWarning, process, [warning, ...rest]);
};

/** The Redis store's warnings so far (in this test process), oldest first. */
export function redisWarnings(): readonly RedisWarning[] {
  return captured;
}
