/**
 * Command-line options of the bench scripts (`--rows 50000`, `--no-old`):
 * one parser, so every bench reads its flags the same way.
 */

/** The value after `--name`, or `fallback` when the flag is absent or has no value. */
export function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  const value = at >= 0 ? process.argv[at + 1] : undefined;
  return value ?? fallback;
}

/** The number after `--name`, or `fallback`; anything else is an error naming the flag. */
export function numberOption(name: string, fallback: number): number {
  const value = Number(option(name, String(fallback)));
  if (!Number.isFinite(value)) throw new Error(`--${name} takes a number, got ${option(name, '')}`);
  return value;
}

/** Whether `--name` was given. */
export function flag(name: string): boolean {
  return process.argv.includes(`--${name}`);
}
