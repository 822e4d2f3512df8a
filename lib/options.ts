import { ConfigurationError } from './errors.js';

/** An option that must be a positive, finite number; `fallback` when it is unset. */
export function positiveOption(owner: string, name: string, value: number | undefined, fallback: number): number {
  const chosen = value ?? fallback;
  if (!(chosen > 0) || !Number.isFinite(chosen)) {
    throw new ConfigurationError(`${owner} option ${name} must be a positive number, not ${String(value)}.`);
  }
  return chosen;
}
