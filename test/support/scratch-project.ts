import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * A scratch npm project that depends on a packed rekey tarball (plus the
 * optional peers the constructs need), with a package-lock.json derived from
 * this repository's: `npm ci --prefer-offline` in it then installs the tarball
 * as any project would (extract, link `bin`) while every dependency comes, at
 * the version tested here, from the npm cache `npm ci` filled — no registry
 * metadata needed, so it also works offline after `npm ci`.
 */

interface LockEntry {
  readonly version?: string;
  readonly dependencies?: Record<string, string>;
  readonly optionalDependencies?: Record<string, string>;
  readonly peerDependencies?: Record<string, string>;
  readonly peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  readonly [field: string]: unknown;
}

interface PackageJson {
  readonly name: string;
  readonly version: string;
  readonly license?: string;
  readonly dependencies?: Record<string, string>;
  readonly peerDependencies?: Record<string, string>;
  readonly peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  readonly bin?: Record<string, string>;
  readonly engines?: Record<string, string>;
}

/** Writes package.json and package-lock.json into `dir`, which already holds `tarball` (a file name in `dir`). */
export function writeScratchProject(repoRoot: string, dir: string, tarball: string, peers: readonly string[]): void {
  const lock = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, LockEntry>;
  };
  const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as PackageJson;

  // Node's lookup over the lockfile's paths: <from>/node_modules/<name>, then each parent's.
  const resolve = (from: string, name: string): string | undefined => {
    for (let at = from; ;) {
      const candidate = `${at ? `${at}/` : ''}node_modules/${name}`;
      if (lock.packages[candidate]) return candidate;
      if (!at) return undefined;
      const parent = at.lastIndexOf('/node_modules/');
      at = parent < 0 ? '' : at.slice(0, parent);
    }
  };
  const kept = new Map<string, LockEntry>();
  const pending = [...Object.keys(pkg.dependencies ?? {}), ...peers].map((name) => resolve('', name));
  while (pending.length > 0) {
    const at = pending.pop();
    if (at === undefined || kept.has(at)) continue;
    const entry = lock.packages[at]!;
    kept.set(at, entry);
    for (const name of Object.keys({
      ...entry.dependencies,
      ...entry.optionalDependencies,
      ...entry.peerDependencies,
    })) {
      const found = resolve(at, name);
      if (found) pending.push(found);
      else if (!entry.optionalDependencies?.[name] && !entry.peerDependenciesMeta?.[name]?.optional) {
        throw new Error(`scratch project: ${at} needs ${name}, which package-lock.json does not hold`);
      }
    }
  }

  const dependencies: Record<string, string> = { [pkg.name]: `file:${tarball}` };
  for (const peer of peers) dependencies[peer] = lock.packages[`node_modules/${peer}`]!.version!;
  const packages: Record<string, unknown> = {
    '': { name: 'scratch', version: '1.0.0', dependencies },
    [`node_modules/${pkg.name}`]: {
      version: pkg.version,
      resolved: `file:${tarball}`,
      integrity: `sha512-${crypto
        .createHash('sha512')
        .update(fs.readFileSync(path.join(dir, tarball)))
        .digest('base64')}`,
      license: pkg.license,
      dependencies: pkg.dependencies,
      peerDependencies: pkg.peerDependencies,
      peerDependenciesMeta: pkg.peerDependenciesMeta,
      bin: pkg.bin,
      engines: pkg.engines,
    },
  };
  for (const [at, entry] of [...kept].sort(([a], [b]) => a.localeCompare(b))) {
    // In the scratch project these are production dependencies.
    const { dev: _dev, devOptional: _devOptional, peer: _peer, ...rest } = entry;
    packages[at] = rest;
  }
  fs.writeFileSync(
    path.join(dir, 'package.json'),
    `${JSON.stringify({ name: 'scratch', version: '1.0.0', private: true, dependencies }, null, 2)}\n`,
  );
  fs.writeFileSync(
    path.join(dir, 'package-lock.json'),
    `${JSON.stringify({ name: 'scratch', version: '1.0.0', lockfileVersion: 3, requires: true, packages }, null, 2)}\n`,
  );
}
