import { ConfigurationError } from './errors/index.js';

/** The range a numeric option must fall in. */
export interface NumberRange {
  /** The smallest allowed value. Default: just above 0 (a positive number). */
  min?: number;
  /** The largest allowed value. Default: none. */
  max?: number;
  /** Whether only whole numbers are allowed. Default false. */
  integer?: boolean;
}

/**
 * A numeric option, checked: finite and within `range` (default: positive), `fallback` when unset.
 * Anything else is a `ConfigurationError` that names the option, so `NaN`, `Infinity` and
 * negative values never reach the arithmetic that would misbehave on them.
 */
export function numberOption(
  owner: string,
  name: string,
  value: number | undefined,
  fallback: number,
  range: NumberRange = {},
): number {
  const chosen = value ?? fallback;
  const { min, max, integer = false } = range;
  const ok =
    typeof chosen === 'number' &&
    Number.isFinite(chosen) &&
    (min === undefined ? chosen > 0 : chosen >= min) &&
    (max === undefined || chosen <= max) &&
    (!integer || Number.isInteger(chosen));
  if (!ok) {
    const wanted = [
      integer ? 'a whole number' : 'a finite number',
      min === undefined ? 'above 0' : `of at least ${min}`,
      max === undefined ? '' : `and at most ${max}`,
    ]
      .filter(Boolean)
      .join(' ');
    throw new ConfigurationError(`${owner} option ${name} must be ${wanted}, not ${String(value)}.`);
  }
  return chosen;
}
