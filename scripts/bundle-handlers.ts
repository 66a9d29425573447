/**
 * Bundles every Lambda entry in functions/handlers into dist/handlers/<name>/index.js
 * (with its source map), with the same esbuild settings NodejsFunction uses at
 * synth in this repository (BUNDLING). `npm pack` runs it (prepack), so the
 * installed package synthesizes its functions from these files: a user's
 * `cdk synth` needs neither esbuild nor TypeScript sources, and deploys the
 * code that was built and tested here rather than a re-resolution of the
 * user's dependency tree.
 *
 * Usage: npx tsx scripts/bundle-handlers.ts [outdir]   (default: dist/handlers)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { build } from 'esbuild';
import { BUNDLING, PROJECT_ROOT, PREBUNDLED_HANDLERS_DIR, handlerEntry } from '../lib/rekey-function';

/** The handler names: each .ts file directly in functions/handlers (shared/ holds their common code). */
export function handlerNames(): string[] {
  const dir = path.dirname(handlerEntry('x'));
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => e.name.slice(0, -'.ts'.length))
    .sort();
}

export async function bundleHandlers(outdir: string): Promise<string[]> {
  const names = handlerNames();
  fs.rmSync(outdir, { recursive: true, force: true });
  await build({
    entryPoints: Object.fromEntries(names.map((name) => [`${name}/index`, handlerEntry(name)])),
    outdir,
    bundle: true,
    platform: 'node',
    format: BUNDLING.format === 'esm' ? 'esm' : 'cjs',
    target: BUNDLING.target,
    minify: BUNDLING.minify,
    keepNames: BUNDLING.keepNames,
    sourcemap: BUNDLING.sourceMap,
    sourcesContent: BUNDLING.sourcesContent,
    external: [...(BUNDLING.externalModules ?? [])],
    mainFields: [...(BUNDLING.mainFields ?? [])],
    tsconfig: BUNDLING.tsconfig,
    absWorkingDir: PROJECT_ROOT,
    logLevel: 'warning',
  });
  return names;
}

if (require.main === module) {
  const outdir = path.resolve(process.argv[2] ?? path.join(PROJECT_ROOT, PREBUNDLED_HANDLERS_DIR));
  bundleHandlers(outdir).then(
    (names) =>
      console.log(
        `bundled ${names.length} handlers into ${path.relative(process.cwd(), outdir) || '.'}: ${names.join(', ')}`,
      ),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exitCode = 1;
    },
  );
}
