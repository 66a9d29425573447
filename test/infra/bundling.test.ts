import * as fs from 'node:fs';
import * as path from 'node:path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { loadCdkJsonContext } from '../../lib/app';
import { FUNCTION_DEFAULTS } from '../../lib/defaults';
import { BUNDLING, PROJECT_ROOT, RekeyFunction } from '../../lib/rekey-function';
import { ENV, SYNTH_TIMEOUT_MS, testOutdir } from './support';
import { lambdaContext } from '../support/lambda';

jest.setTimeout(SYNTH_TIMEOUT_MS);

/** The one infra test that really bundles (local esbuild, no Docker), as `cdk synth` does. */
describe('bundling', () => {
  let outdir: string;
  let assets: Record<string, string>;
  beforeAll(() => {
    outdir = testOutdir();
    const app = new App({ outdir, context: loadCdkJsonContext() });
    const stack = new Stack(app, 'Bundled', { env: ENV });
    const key = new Key(stack, 'Key', { enableKeyRotation: true });
    const worker = new RekeyFunction(stack, 'Worker', { handler: 'worker', key, timeout: Duration.seconds(30) });
    const validate = new RekeyFunction(stack, 'Validate', {
      handler: 'validate-input',
      key,
      timeout: Duration.seconds(30),
    });
    const sdk = new NodejsFunction(stack, 'SdkUser', {
      entry: path.join(__dirname, 'fixtures', 'sdk-entry.ts'),
      projectRoot: PROJECT_ROOT,
      runtime: FUNCTION_DEFAULTS.runtime,
      depsLockFilePath: path.join(PROJECT_ROOT, 'package-lock.json'),
      bundling: BUNDLING,
    });
    const template = Template.fromStack(stack).toJSON() as {
      Resources: Record<string, { Properties: { Code?: { S3Key?: string } } }>;
    };
    const assetDir = (fn: LambdaFunction): string => {
      const key = template.Resources[stack.getLogicalId(fn.node.defaultChild as never)]!.Properties.Code!.S3Key!;
      return path.join(outdir, `asset.${key.replace(/\.zip$/, '')}`);
    };
    assets = { worker: assetDir(worker.function), validate: assetDir(validate.function), sdk: assetDir(sdk) };
  });

  test('a handler entry becomes a minified CommonJS index.js with a source map, exporting handler', async () => {
    const files = fs.readdirSync(assets.worker!).sort();
    expect(files).toEqual(['index.js', 'index.js.map']);
    const bundle = (await import(path.join(assets.worker!, 'index.js'))) as { handler?: unknown };
    expect(typeof bundle.handler).toBe('function');
  });

  test('minified, errors keep their class names: what Lambda reports and Step Functions matches', async () => {
    const saved = { ...process.env };
    for (const k of ['DATABASE_URL', 'DB_CLUSTER_ARN', 'DB_SECRET_ARN', 'DB_NAME', 'REKEY_REGISTRY', 'KEYRING_KIND'])
      delete process.env[k];
    Object.assign(process.env, {
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      POWERTOOLS_TRACE_ENABLED: 'false',
      POWERTOOLS_METRICS_DISABLED: 'true',
    });
    try {
      const bundle = (await import(path.join(assets.validate!, 'index.js'))) as {
        handler: (e: unknown, c: unknown) => Promise<unknown>;
      };
      const context = lambdaContext('validate', { remainingMs: 30_000 });
      const err = (await bundle
        .handler({ executionId: 'arn:exec', input: {} }, context)
        .catch((e: unknown) => e)) as Error & { code?: string };
      expect(err).toBeInstanceOf(Error);
      expect(err.name).toMatch(/^[A-Z][A-Za-z]+Error$/);
      expect(err.name).toBe(err.constructor.name);
      expect(err.code).toBeDefined();
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  });

  test('the AWS SDK v3 is inside the bundle, not left to the runtime', async () => {
    const code = fs.readFileSync(path.join(assets.sdk!, 'index.js'), 'utf8');
    const required = [...code.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]!);
    // Only node: built-ins stay outside, and the SDK's optional CRT signer (loaded in a try, never installed).
    expect([...new Set(required.filter((r) => !r.startsWith('node:')))]).toEqual(['@aws-sdk/signature-v4-crt']);
    // The asset directory has no node_modules: the client loads from the bundle alone.
    const bundle = (await import(path.join(assets.sdk!, 'index.js'))) as { handler: () => Promise<string> };
    await expect(bundle.handler()).resolves.toBe('bundled');
  });
});
