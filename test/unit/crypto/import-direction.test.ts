import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

/**
 * functions/core/crypto is the bottom of the domain: the key catalog (keys/),
 * the engine and the handlers build on it, never the other way round. Every
 * file it reaches through its imports, directly or not, lies in crypto/,
 * ports/, the root errors module or keyring-kinds.ts (plain values that
 * import nothing), so no cycle through crypto/ can come back.
 */
const CORE = path.resolve(__dirname, '../../../functions/core');
const CRYPTO = path.join(CORE, 'crypto');
const ALLOWED = [
  CRYPTO + path.sep,
  path.join(CORE, 'ports') + path.sep,
  path.join(CORE, 'errors.ts'),
  path.join(CORE, 'keyring-kinds.ts'),
];
const RELATIVE_IMPORT = /(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']*)'/g;

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return tsFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

function resolveImport(from: string, specifier: string): string {
  const base = path.resolve(path.dirname(from), specifier);
  const candidate = [base + '.ts', path.join(base, 'index.ts'), base].find((file) => existsSync(file));
  if (!candidate) throw new Error(`${path.relative(CORE, from)} imports ${specifier}, which does not resolve`);
  return candidate;
}

function relativeImports(file: string): string[] {
  return [...readFileSync(file, 'utf8').matchAll(RELATIVE_IMPORT)].map((m) => resolveImport(file, m[1]!));
}

/** Every file reachable from crypto/, each with the import chain that reaches it. */
function closure(): Map<string, string[]> {
  const chains = new Map<string, string[]>();
  const queue = tsFiles(CRYPTO);
  for (const file of queue) chains.set(file, [file]);
  while (queue.length > 0) {
    const file = queue.shift()!;
    for (const target of relativeImports(file)) {
      if (chains.has(target)) continue;
      chains.set(target, [...chains.get(file)!, target]);
      queue.push(target);
    }
  }
  return chains;
}

describe('functions/core/crypto imports', () => {
  it('reach only crypto/, ports/, errors.ts and keyring-kinds.ts (never keys/ or anything built on crypto)', () => {
    const outside = [...closure()]
      .filter(([file]) => !ALLOWED.some((allowed) => file === allowed || file.startsWith(allowed)))
      .map(([, chain]) => chain.map((f) => path.relative(CORE, f)).join(' -> '));
    expect(outside).toEqual([]);
  });

  it('the walk sees real imports (a check that finds nothing proves nothing)', () => {
    const reached = [...closure().keys()].map((f) => path.relative(CORE, f));
    expect(reached).toEqual(expect.arrayContaining(['crypto/key-policy.ts', 'ports/kms.ts', 'errors.ts']));
    expect(relativeImports(path.join(CORE, 'keys/catalog.ts')).map((f) => path.relative(CORE, f))).toContain(
      'crypto/key-policy.ts',
    );
  });
});
