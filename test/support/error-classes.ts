import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Error classes of the code the Lambda functions run (functions/core,
 * functions/handlers, functions/runtime), read from the source: name, parent,
 * whether abstract, and what the class body says about `retryable` (`true`,
 * per instance, or nothing: inherited).
 */
export interface ErrorClass {
  readonly name: string;
  readonly parent: string;
  readonly abstract: boolean;
  readonly retryable: 'true' | 'per-instance' | 'inherited';
  readonly file: string;
}

const ROOTS = ['functions/core', 'functions/handlers', 'functions/runtime'];
const CLASS = /^(export\s+)?(abstract\s+)?class\s+(\w+Error)\s+extends\s+(\w+)/gm;

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

export function errorClasses(projectRoot: string): ErrorClass[] {
  const found: ErrorClass[] = [];
  for (const file of ROOTS.flatMap((r) => files(join(projectRoot, r)))) {
    const text = readFileSync(file, 'utf8');
    const matches = [...text.matchAll(CLASS)];
    matches.forEach((m, i) => {
      const body = text.slice(m.index, matches[i + 1]?.index ?? text.length);
      const retryable = /readonly retryable\s*=\s*true/.test(body)
        ? 'true'
        : /readonly retryable\s*:\s*boolean/.test(body)
          ? 'per-instance'
          : 'inherited';
      found.push({
        name: m[3]!,
        parent: m[4]!,
        abstract: Boolean(m[2]),
        retryable,
        file: file.slice(projectRoot.length + 1),
      });
    });
  }
  return found;
}

/** Concrete classes whose every instance is not retryable: nothing in the class or its ancestors sets `retryable`. */
export function neverRetryable(classes: readonly ErrorClass[]): string[] {
  const byName = new Map(classes.map((c) => [c.name, c]));
  const fixedFalse = (c: ErrorClass): boolean => {
    if (c.name === 'RekeyError') return true; // the root: `retryable = false` unless a subclass says otherwise
    if (c.retryable !== 'inherited') return false;
    const parent = byName.get(c.parent);
    return parent ? fixedFalse(parent) : true; // a plain Error: nobody retries it on purpose
  };
  return classes
    .filter((c) => !c.abstract && fixedFalse(c))
    .map((c) => c.name)
    .sort();
}
