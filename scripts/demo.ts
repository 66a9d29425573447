/**
 * `npm run demo` — rekey's main job on an embedded default, with nothing to
 * set up: a throwaway PostgreSQL (DATABASE_URL if you give one — a scratch
 * database, the demo creates and drops its own table; else an initdb/pg_ctl
 * cluster; else embedded PGlite), 50,000 secrets encrypted under kek-v1, and
 * the `rekey` CLI rotating them to kek-v2 exactly as an operator would:
 * dry run, re-encrypt, verify, key catalog, job status. Keys are generated in
 * memory for the run and never printed.
 *
 *   npm run demo                 # 50,000 rows
 *   npm run demo -- --rows 200000
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../functions/cli/main';
import { createPgSql } from '../functions/core/adapters/pg-sql';
import { EnvelopeCipher } from '../functions/core/crypto/envelope-cipher';
import { formatRawKey, RawKeyring } from '../functions/core/crypto/keyrings/raw';
import { migrate } from '../functions/core/schema/migrate';
import { runLocalPipeline } from '../functions/local/pipeline';
import { motoServerAvailable, startMotoServer } from '../test/support/moto-server';
import { findPostgresBinDir, startThrowawayPostgres } from '../test/support/postgres-cluster';
import { startPgliteServer } from '../test/support/pglite-server';

const rowsArg = process.argv.indexOf('--rows');
const ROWS = rowsArg > 0 ? Number(process.argv[rowsArg + 1]) : 50_000;

async function startDatabase(): Promise<{ url: string; kind: string; stop(): Promise<void>; poolSize: number }> {
  if (process.env.DATABASE_URL) return { url: process.env.DATABASE_URL, kind: 'DATABASE_URL', stop: async () => undefined, poolSize: 4 };
  if (findPostgresBinDir()) return { ...(await startThrowawayPostgres()), kind: 'throwaway PostgreSQL cluster', poolSize: 4 };
  return { ...(await startPgliteServer()), kind: 'embedded PGlite (one connection)', poolSize: 1 };
}

async function run(): Promise<number> {
  const db = await startDatabase();
  const dir = mkdtempSync(join(tmpdir(), 'rekey-demo-'));
  const sql = createPgSql({ connectionString: db.url, max: db.poolSize });
  try {
    const say = (text: string): void => void process.stdout.write(`\n\x1b[1m${text}\x1b[0m\n`);
    say(`1. Database: ${db.kind}; seeding ${ROWS.toLocaleString('en-US')} secrets encrypted under kek-v1`);
    const kekV1 = randomBytes(32);
    const kekV2 = randomBytes(32);
    await migrate(sql);
    await sql.query('DROP TABLE IF EXISTS demo_llm_providers');
    await sql.query('CREATE TABLE demo_llm_providers (id bigint PRIMARY KEY, name text, api_key_encrypted text)');
    const cipher = await EnvelopeCipher.create({ keyring: new RawKeyring([{ id: 'kek-v1', key: kekV1 }]) });
    for (let from = 1; from <= ROWS; from += 10_000) {
      const ids: string[] = [];
      const values: string[] = [];
      for (let id = from; id < Math.min(from + 10_000, ROWS + 1); id++) {
        ids.push(String(id));
        values.push(await cipher.encrypt(`sk-${randomBytes(24).toString('base64url')}`, { table: 'demo_llm_providers', column: 'api_key_encrypted', rowId: String(id) }));
      }
      await sql.query("INSERT INTO demo_llm_providers SELECT id, 'provider-' || id, v FROM unnest($1::bigint[], $2::text[]) AS t(id, v)", [ids, values]);
    }
    writeFileSync(
      join(dir, 'rekey.config.json'),
      JSON.stringify({ tables: [{ name: 'demo_llm_providers', idColumn: 'id', columns: ['api_key_encrypted'] }] }, null, 2),
    );
    // Phase 2 of the runbook: the new key is primary, the old one kept as previous.
    const env = {
      ...process.env,
      DATABASE_URL: db.url,
      SECRETS_ENCRYPTION_KEY: formatRawKey('kek-v2', kekV2),
      SECRETS_ENCRYPTION_KEY_PREVIOUS: formatRawKey('kek-v1', kekV1),
      REKEY_ACTOR: 'demo',
    };
    const io = {
      stdout: (t: string) => void process.stdout.write(t),
      stderr: (t: string) => void process.stderr.write(t),
      isTTY: Boolean(process.stderr.isTTY),
      env,
      cwd: dir,
    };
    const rekey = async (...args: string[]): Promise<number> => {
      process.stdout.write(`\n$ rekey ${args.join(' ')}\n`);
      return main(['--config', join(dir, 'rekey.config.json'), ...args], io);
    };
    say('2. Dry run (changes nothing)');
    await rekey('reencrypt', '--dry-run');
    say('3. Rotate: rewrap every value to kek-v2, verify, retire kek-v1');
    const code = await rekey('reencrypt', '--concurrency', '2');
    say('4. Verify, decrypting every value (prints counts, never plaintext)');
    const verified = await rekey('verify', '--decrypt');
    say('5. Key catalog and job history');
    await rekey('keys', 'list');
    await rekey('status');
    const pipeline = await viaStateMachine(db.url, kekV1, kekV2, say);
    await sql.query('DROP TABLE demo_llm_providers');
    return code || verified || pipeline;
  } finally {
    await sql.close();
    await db.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The next rotation (kek-v2 → kek-v3) as it runs on AWS: the state machine
 * definition from `cdk synth`, executed locally with the real Lambda handlers,
 * batches through SQS (moto_server) into the real worker handler.
 */
async function viaStateMachine(url: string, kekV1: Buffer, kekV2: Buffer, say: (t: string) => void): Promise<number> {
  say('6. The next rotation, kek-v2 → kek-v3, through the synthesized state machine (local runtime)');
  if (!motoServerAvailable()) {
    process.stdout.write('skipped: moto_server is not installed (pip install "moto[server]"); it stands in for SQS\n');
    return 0;
  }
  const moto = await startMotoServer();
  try {
    process.env.AWS_ACCESS_KEY_ID ??= 'demo';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'demo';
    process.env.AWS_REGION ??= 'us-east-1';
    const kekV3 = randomBytes(32);
    const started = Date.now();
    const run = await runLocalPipeline(
      { mode: 'rewrap' },
      {
        databaseUrl: url,
        sqsEndpoint: moto.endpoint,
        registry: { tables: [{ name: 'demo_llm_providers', idColumn: 'id', columns: ['api_key_encrypted'] }] },
        keyEnv: {
          SECRETS_ENCRYPTION_KEY: formatRawKey('kek-v3', kekV3),
          SECRETS_ENCRYPTION_KEY_PREVIOUS: [formatRawKey('kek-v2', kekV2), formatRawKey('kek-v1', kekV1)].join(','),
        },
      },
    );
    const states = run.history.filter((s, i, all) => all.indexOf(s) === i);
    process.stdout.write(`states: ${states.join(' → ')}\n`);
    process.stdout.write(`SQS: ${run.worker.messages} batch messages, ${run.worker.invocations} worker invocations\n`);
    process.stdout.write(`result: ${run.error ? `${run.error.name}: ${run.error.message}` : JSON.stringify(run.output)} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    return run.error ? 1 : 0;
  } finally {
    await moto.stop();
  }
}

run().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  },
);
