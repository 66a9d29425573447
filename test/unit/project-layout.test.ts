import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, posix, relative, resolve } from 'node:path';

/**
 * Issue 13's "done means", checked mechanically on every file of the
 * repository (tracked, or new and not ignored), one test per rule. Each test
 * fails with the list of the files that break its rule, so the message is the
 * work list.
 */
const ROOT = resolve(__dirname, '..', '..');

/** Repository-relative paths (with `/`) of every tracked file and every untracked one git does not ignore. */
function repositoryFiles(): string[] {
  const listed = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  // A file deleted in the working tree but still in the index is not part of the layout any more.
  const files = listed.split('\0').filter((f) => f !== '' && exists(f));
  if (files.length === 0) throw new Error(`git ls-files listed no files under ${ROOT}`);
  return files;
}

function exists(file: string): boolean {
  try {
    readFileSync(join(ROOT, file));
    return true;
  } catch {
    return false;
  }
}

function lineCount(file: string): number {
  const text = readFileSync(join(ROOT, file), 'utf8');
  return text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
}

const FILES = repositoryFiles();
const under = (folder: string) => FILES.filter((f) => f.startsWith(`${folder}/`));
const overLines = (files: readonly string[], max: number): string[] =>
  files
    .map((f) => ({ f, n: lineCount(f) }))
    .filter(({ n }) => n > max)
    .sort((a, b) => b.n - a.n)
    .map(({ f, n }) => `${f} (${n} lines)`);

describe('project layout (issue 13)', () => {
  it('no handler (an entry file functions/handlers/*.ts, one per Lambda) is over 40 lines', () => {
    // A handler parses, calls domain code and maps errors; what handlers share lives in functions/handlers/shared/,
    // under the 300-line rule like the rest of functions/.
    const handlers = under('functions/handlers').filter((f) => /^functions\/handlers\/[^/]+\.ts$/.test(f));
    if (handlers.length === 0) throw new Error('no handler files found in functions/handlers/');
    expect(overLines(handlers, 40)).toEqual([]);
  });

  it('no .ts file in functions/ is over 300 lines', () => {
    expect(
      overLines(
        under('functions').filter((f) => f.endsWith('.ts')),
        300,
      ),
    ).toEqual([]);
  });

  it('every file and folder name under functions/, lib/, bin/, bench/, scripts/ and test/ is kebab-case', () => {
    const names = new Map<string, string>(); // path → the name in it that is checked
    for (const file of ['functions', 'lib', 'bin', 'bench', 'scripts', 'test'].flatMap(under)) {
      const parts = file.split('/');
      parts.forEach((name, i) => names.set(parts.slice(0, i + 1).join('/'), name));
    }
    const offenders = [...names]
      .filter(([path, name]) => !kebabCaseName(path, name))
      .map(([path]) => path)
      .sort();
    expect(offenders).toEqual([]);
  });

  it('nothing outside test/ imports from test/', () => {
    const sources = FILES.filter((f) => !f.startsWith('test/') && /\.(ts|mts|cts|js|mjs|cjs)$/.test(f))
      .filter((f) => !f.startsWith('node_modules/'))
      .filter((f) => f !== 'jest.config.js'); // jest's own config names the test folders it runs
    const offenders = sources.flatMap((file) =>
      importedPaths(readFileSync(join(ROOT, file), 'utf8'))
        .filter((spec) => spec.startsWith('.'))
        .filter((spec) => {
          const target = relative(ROOT, resolve(ROOT, dirname(file), spec))
            .split('\\')
            .join('/');
          return target === 'test' || target.startsWith('test/');
        })
        .map((spec) => `${file} imports ${spec}`),
    );
    expect(offenders).toEqual([]);
  });

  it('the ESLint config keeps the no-test-imports rule on bin, lib, functions, bench, scripts and examples', () => {
    // The test above catches an import at `npm test`; the ESLint rule catches it in the editor. Both must stay.
    const config = readFileSync(join(ROOT, 'eslint.config.mjs'), 'utf8');
    const block =
      /files:\s*\[([^\]]*)\],\s*rules:\s*\{\s*'no-restricted-imports':\s*\['error',\s*\{\s*patterns:\s*\[noTestImports\]/.exec(
        config,
      );
    expect(block).not.toBeNull();
    const globs = [...block![1]!.matchAll(/'([^']+)'/g)].map((m) => m[1]);
    const missing = ['bin', 'lib', 'functions', 'bench', 'scripts', 'examples'].filter(
      (folder) => !globs.includes(`${folder}/**/*.ts`),
    );
    expect(missing).toEqual([]);
    expect(config).toMatch(/const noTestImports = \{\s*group: \['\*\*\/test', '\*\*\/test\/\*\*'\]/);
  });
});

/** kebab-case: lower-case words of letters and digits joined by `-`, then the endings (`.test.ts`, `.bench.ts`, `.d.ts`). */
const KEBAB = /^[a-z0-9]+(-[a-z0-9]+)*(\.[a-z0-9]+)*$/;

/**
 * The few names that follow another tool's convention, each for a reason:
 * - migrations `0001_key_catalog.ts`: the number orders them and the rest is the
 *   migration's `name`, the snake_case key recorded in the database's migration
 *   table (renaming the file would not rename the recorded name);
 * - Python modules (`legacy_oracle.py`): Python imports a module by its file
 *   name, and a `-` is not allowed in an import (PEP 8: lower_case_with_underscores);
 * - `README.md`: the name GitHub and npm look for.
 */
function kebabCaseName(path: string, name: string): boolean {
  if (KEBAB.test(name)) return true;
  if (posix.dirname(path) === 'functions/core/schema/migrations')
    return /^\d{4}_[a-z0-9]+(_[a-z0-9]+)*\.ts$/.test(name);
  if (name.endsWith('.py')) return /^[a-z0-9]+(_[a-z0-9]+)*\.py$/.test(name);
  return name === 'README.md';
}

/** The module specifiers a source file imports, re-exports, requires or imports dynamically. */
function importedPaths(source: string): string[] {
  const specs: string[] = [];
  for (const m of source.matchAll(/\b(?:import|export)\s[^'";]*?\bfrom\s*['"]([^'"]+)['"]/g)) specs.push(m[1]!);
  for (const m of source.matchAll(/\bimport\s*['"]([^'"]+)['"]/g)) specs.push(m[1]!);
  for (const m of source.matchAll(/\b(?:require|import)\s*\(\s*['"]([^'"]+)['"]\s*\)/g)) specs.push(m[1]!);
  return specs;
}
