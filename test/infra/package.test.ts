import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SERVICE_NAME } from '../../functions/core/metrics-names';
import { PROJECT_ROOT } from '../../lib/rekey-function';
import { handlerNames } from '../../scripts/bundle-handlers';
import { writeScratchProject } from '../support/scratch-project';
import { DATABASE, ENV, REGISTRY } from './support';

/**
 * rekey used from another project: `npm pack` (its prepack builds dist/ and
 * bundles the handlers), the tarball installed into a scratch project, then
 * the CLI, the library and the constructs used from there — nothing resolved
 * from this repository. About a minute or two: one real build, one install,
 * one synthesis.
 */
jest.setTimeout(600_000);

const PEERS = ['aws-cdk-lib', 'constructs', 'cdk-nag'];
let work: string;
let scratch: string;
let tarball: string;
let installLog: string;

/**
 * The environment of a shell in the scratch project: without the npm_* variables of the npm that
 * started jest (`npm test`, `npx jest`), which would configure the npm commands run here.
 */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name))), ...extra };
}

/** Runs a command, failing with its output when it exits non-zero. */
function run(command: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = cleanEnv()): string {
  const result = spawnSync(command, args, {
    cwd,
    env,
    encoding: 'utf8',
    timeout: 300_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
  if (result.status !== 0)
    throw new Error(`${command} ${args.join(' ')} (in ${cwd}) exited ${result.status ?? result.signal}:\n${output}`);
  return output;
}

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'rekey-package-'));
  run('npm', ['pack', '--pack-destination', work], PROJECT_ROOT);
  const packed = fs.readdirSync(work).filter((f) => f.endsWith('.tgz'));
  expect(packed).toHaveLength(1);
  scratch = path.join(work, 'scratch');
  fs.mkdirSync(scratch);
  tarball = packed[0]!;
  fs.copyFileSync(path.join(work, tarball), path.join(scratch, tarball));
  writeScratchProject(PROJECT_ROOT, scratch, tarball, PEERS);
  installLog = run('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund'], scratch);
});

afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe('the npm package', () => {
  test('ships compiled JavaScript with declarations and one pre-bundled handler per entry, no TypeScript sources or tests', () => {
    const files = execFileSync('tar', ['-tzf', path.join(work, tarball)], {
      encoding: 'utf8',
      maxBuffer: 16 * 1024 * 1024,
    })
      .split('\n')
      .filter(Boolean)
      .map((f) => f.replace(/^package\//, ''));
    expect(files).toEqual(
      expect.arrayContaining([
        'package.json',
        'README.md',
        'dist/bin/rekey.js',
        'dist/functions/core/index.js',
        'dist/functions/core/index.d.ts',
        'dist/lib/index.js',
        'dist/lib/index.d.ts',
      ]),
    );
    for (const name of handlerNames())
      expect(files).toEqual(
        expect.arrayContaining([`dist/handlers/${name}/index.js`, `dist/handlers/${name}/index.js.map`]),
      );
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
    expect(files.filter((f) => /^(test|bench|scripts|node_modules)\//.test(f) || f.startsWith('dist/test'))).toEqual(
      [],
    );
  });

  test('installs on this Node without an engine mismatch', () => {
    expect(installLog).not.toMatch(/EBADENGINE/);
    expect(fs.existsSync(path.join(scratch, 'node_modules', 'rekey', 'package.json'))).toBe(true);
  });

  test('`rekey --help` runs from the PATH an install gives, and through npx', () => {
    const bin = path.join(scratch, 'node_modules', '.bin');
    const env = cleanEnv({ PATH: `${bin}${path.delimiter}${process.env.PATH ?? ''}` });
    expect(run('rekey', ['--help'], scratch, env)).toMatch(/^Usage: rekey /m);
    expect(run('npx', ['--no-install', 'rekey', '--help'], scratch)).toMatch(/^Usage: rekey /m);
  });

  test('the library encrypts and decrypts from the package name, from CommonJS and ES modules', () => {
    const roundTrip = `
      const { RawKeyring, createFieldEncryption, formatRawKey } = LIB;
      const key = formatRawKey('kek-v1', require('node:crypto').randomBytes(32));
      (async () => {
        const app = await createFieldEncryption({ keyring: RawKeyring.fromEnv({ SECRETS_ENCRYPTION_KEY: key }) });
        const where = { table: 'users', column: 'email', rowId: '42' };
        const stored = await app.encryptField('alice@example.com', where);
        process.stdout.write(stored.startsWith('alice') ? 'plaintext stored' : await app.decryptField(stored, where));
      })().catch((e) => { console.error(e); process.exit(1); });`;
    fs.writeFileSync(path.join(scratch, 'cjs.js'), roundTrip.replace('LIB', "require('rekey')"));
    fs.writeFileSync(
      path.join(scratch, 'esm.mjs'),
      `import * as lib from 'rekey';\nimport { createRequire } from 'node:module';\nconst require = createRequire(import.meta.url);\n${roundTrip.replace('LIB', 'lib')}`,
    );
    expect(run('node', ['cjs.js'], scratch)).toBe('alice@example.com');
    expect(run('node', ['esm.mjs'], scratch)).toBe('alice@example.com');
  });

  test('TypeScript finds the declarations of the library and of the constructs through the package exports', () => {
    fs.writeFileSync(
      path.join(scratch, 'consumer.ts'),
      `import { createFieldEncryption, RawKeyring, type FieldEncryptionOptions } from 'rekey';
import { RekeyStack, type RekeyStackProps } from 'rekey/constructs';
const options: Partial<FieldEncryptionOptions> = {};
const props: Partial<RekeyStackProps> = { registry: { tables: [] } };
export const used = [createFieldEncryption, RawKeyring, RekeyStack, options, props];
`,
    );
    // This repository's compiler and Node types; the package's own declarations come from the install.
    const tsc = path.join(PROJECT_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const typeRoots = path.join(PROJECT_ROOT, 'node_modules', '@types');
    run(
      'node',
      [
        tsc,
        '--noEmit',
        '--strict',
        '--skipLibCheck',
        '--module',
        'node16',
        '--moduleResolution',
        'node16',
        '--target',
        'es2022',
        '--typeRoots',
        typeRoots,
        '--types',
        'node',
        'consumer.ts',
      ],
      scratch,
    );
  });

  test('a CDK app synthesizes RekeyStack from the installed constructs, its functions from the pre-bundled code', () => {
    const outdir = path.join(scratch, 'cdk.out');
    fs.writeFileSync(
      path.join(scratch, 'app.js'),
      `const { App } = require('aws-cdk-lib');
const { RekeyStack } = require('rekey/constructs');
const app = new App({ outdir: ${JSON.stringify(outdir)} });
new RekeyStack(app, 'Scratch', { env: ${JSON.stringify(ENV)}, database: ${JSON.stringify(DATABASE)}, registry: ${JSON.stringify(REGISTRY)} });
app.synth();
`,
    );
    run('node', ['app.js'], scratch);

    type Resource = {
      Type: string;
      Properties: { Code?: { S3Key?: string }; Environment?: { Variables?: Record<string, string> } };
    };
    const template = JSON.parse(fs.readFileSync(path.join(outdir, 'Scratch.template.json'), 'utf8')) as {
      Resources: Record<string, Resource>;
    };
    const resources = Object.values(template.Resources);
    expect(resources.filter((r) => r.Type === 'AWS::StepFunctions::StateMachine')).toHaveLength(1);

    // Every rekey function's code is one of the package's bundles, byte for byte.
    const sha = (file: string): string => createHash('sha256').update(fs.readFileSync(file)).digest('hex');
    const shipped = new Set(
      handlerNames().map((name) =>
        sha(path.join(scratch, 'node_modules', 'rekey', 'dist', 'handlers', name, 'index.js')),
      ),
    );
    const rekeyFunctions = resources.filter(
      (r) =>
        r.Type === 'AWS::Lambda::Function' &&
        r.Properties.Environment?.Variables?.POWERTOOLS_SERVICE_NAME === SERVICE_NAME,
    );
    expect(rekeyFunctions.length).toBeGreaterThan(0);
    const bundles = rekeyFunctions.map((fn) =>
      path.join(outdir, `asset.${fn.Properties.Code!.S3Key!.replace(/\.zip$/, '')}`, 'index.js'),
    );
    for (const bundle of bundles) expect(shipped.has(sha(bundle))).toBe(true);
    // A bundle loads on its own (no node_modules beside it) and exports the handler.
    expect(
      run('node', ['-e', `process.stdout.write(typeof require(${JSON.stringify(bundles[0])}).handler)`], os.tmpdir()),
    ).toBe('function');
  });
});
