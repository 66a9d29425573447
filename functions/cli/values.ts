import { InvalidArgumentError } from 'commander';
import { JOB_BOUNDS, withinBound } from '../core/job-settings';

/** commander value parsers: a bad value is a usage error (exit 2) naming the flag's expectation. */
export function positiveInt(max: number) {
  return (value: string): number => {
    if (!/^\d+$/.test(value))
      throw new InvalidArgumentError(`expected a whole number from 1 to ${max}, got ${JSON.stringify(value)}`);
    const n = Number(value);
    if (n < 1 || n > max) throw new InvalidArgumentError(`expected a whole number from 1 to ${max}, got ${value}`);
    return n;
  };
}

/** A whole number from 0 to `max` (0 meaning "none", e.g. `--wait 0`). */
export function wholeNumber(max: number) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) > max)
      throw new InvalidArgumentError(`expected a whole number from 0 to ${max}, got ${JSON.stringify(value)}`);
    return Number(value);
  };
}

/** `--max-error-rate`: within JOB_BOUNDS.maxErrorRate. */
export function rate(value: string): number {
  const n = Number(value);
  const { min, max, hint } = JOB_BOUNDS.maxErrorRate;
  if (value.trim() === '' || !withinBound(n, JOB_BOUNDS.maxErrorRate)) {
    throw new InvalidArgumentError(`expected a fraction from ${min} to ${max} (${hint}), got ${JSON.stringify(value)}`);
  }
  return n;
}

export function collect(value: string, previous: string[] = []): string[] {
  if (value.trim() === '') throw new InvalidArgumentError('expected a table name');
  return [...previous, value];
}

export function oneOf<T extends string>(allowed: readonly T[]) {
  return (value: string): T => {
    if (!(allowed as readonly string[]).includes(value)) {
      throw new InvalidArgumentError(`expected one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
    }
    return value as T;
  };
}

export function positiveNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0)
    throw new InvalidArgumentError(`expected a positive number, got ${JSON.stringify(value)}`);
  return n;
}
