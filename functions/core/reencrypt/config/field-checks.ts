import type { RegistryProblem } from '../errors';
import { identifierProblem } from '../sql/identifiers';

/**
 * The small checks every part of registry validation repeats. Each records a
 * problem (with its path) instead of throwing, so one RegistryError can list
 * every mistake in the file at once.
 */

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function unknownKeys(
  obj: Record<string, unknown>,
  allowed: ReadonlySet<string>,
  at: string,
  problems: RegistryProblem[],
): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.has(key)) {
      problems.push({
        path: at ? `${at}.${key}` : key,
        message: `unknown key (allowed: ${[...allowed].filter((k) => k !== '$schema').join(', ')})`,
      });
    }
  }
}

export function requiredIdentifier(
  obj: Record<string, unknown>,
  key: string,
  at: string,
  problems: RegistryProblem[],
): string | undefined {
  const value = obj[key];
  if (value === undefined) {
    problems.push({ path: `${at}.${key}`, message: 'required' });
    return undefined;
  }
  const problem = identifierProblem(value);
  if (problem) {
    problems.push({ path: `${at}.${key}`, message: problem });
    return undefined;
  }
  return value as string;
}

export function optionalIdentifier(
  obj: Record<string, unknown>,
  key: string,
  at: string,
  problems: RegistryProblem[],
): string | undefined {
  return obj[key] === undefined ? undefined : requiredIdentifier(obj, key, at, problems);
}
