/**
 * In-place rotation benchmark: Fernet tokens and JSON key_id envelopes
 * rotated in their own format by the engine, beside rk1 rewrap and
 * re-encrypt of the same rows and the runbooks' approach (one row at a time),
 * on one PostgreSQL in one run.
 *
 *   npm run bench:formats                       # 100,000 rows per table
 *   npm run bench:formats -- --rows 20000       # smaller
 *   DATABASE_URL=postgres://… npm run bench:formats   # an existing server (a scratch database!)
 *
 * Bounded: three tables of --rows rows (≈ 100-byte secrets), each rotated once;
 * the per-row loop runs on a 2,000-row sample. One worker (the CLI's default
 * without --concurrency). Prints one table; docs/performance.md records it.
 */
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { createPgSql } from '../functions/core/adapters/pg/sql';
import { EnvelopeCipher } from '../functions/core/crypto/envelope-cipher';
import { formatRawKey, RawKeyring } from '../functions/core/crypto/keyrings/raw';
import { fernetEncrypt, FernetReader, fernetTimestamp } from '../functions/core/crypto/legacy/fernet';
import { jsonKeyIdEncrypt } from '../functions/core/crypto/legacy/json-key-id';
import type { SqlPool } from '../functions/core/ports/sql';
import { runJob } from '../functions/core/reencrypt/jobs/job-runner';
import { createJob, planJob } from '../functions/core/reencrypt/jobs/jobs';
import type { Mode } from '../functions/core/reencrypt/values/modes';
import { parseRegistry } from '../functions/core/reencrypt/config/registry';
import { migrate } from '../functions/core/schema/migrate';
import { createEngineRuntime } from '../functions/runtime/engine-runtime';
import { numberOption } from './lib/bench-options';
import { benchDatabase, type BenchRow } from './lib/engine-setup';

const ROWS = numberOption('rows', 100_000);
const SAMPLE = Math.min(2000, ROWS);
const F = { old: `${randomBytes(32).toString('base64url')}=`, current: `${randomBytes(32).toString('base64url')}=` };
const K = { v1: randomBytes(32), v2: randomBytes(32), v3: randomBytes(32) };
const REGISTRY = parseRegistry({
  tables: [
    { name: 'bench_fernet', idColumn: 'id', columns: ['secret'], format: 'fernet' },
    { name: 'bench_json', idColumn: 'id', columns: ['secret'], format: 'json-key-id' },
    { name: 'bench_rk1', idColumn: 'id', columns: ['secret'] },
  ],
});
const secretOf = (i: number): string => `sk-bench-${i}-${'z'.repeat(80)}`;

const results: BenchRow[] = [];

async function main(): Promise<void> {
  const database = await benchDatabase();
  const url = database.url;
  const sql = createPgSql({ connectionString: url, max: 4 });
  try {
    await migrate(sql);
    const started = Date.now();
    await seed(sql);
    console.error(`seeded 3 × ${ROWS} rows in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    results.push(await perRowLoop(sql));
    const env = (primary: Buffer, primaryId: string): NodeJS.ProcessEnv => ({
      ...process.env,
      SECRETS_ENCRYPTION_KEY: formatRawKey(primaryId, primary),
      SECRETS_ENCRYPTION_KEY_PREVIOUS: [
        formatRawKey('kek-v1', K.v1),
        ...(primaryId === 'kek-v3' ? [formatRawKey('kek-v2', K.v2)] : []),
      ].join(','),
      ENCRYPTION_KEY: F.current,
      ENCRYPTION_KEY_FALLBACK: F.old,
    });
    const cases: [Buffer, string, Mode, string, string][] = [
      [K.v2, 'kek-v2', 'rewrap', 'bench_fernet', 'Fernet in place (MultiFernet.rotate semantics)'],
      [K.v2, 'kek-v2', 'rewrap', 'bench_json', 'JSON key_id in place (new DEK + nonces, kek-v1 → kek-v2)'],
      [K.v2, 'kek-v2', 'rewrap', 'bench_rk1', 'rk1 rewrap (kek-v1 → kek-v2), for comparison'],
      [K.v3, 'kek-v3', 'reencrypt', 'bench_rk1', 'rk1 re-encrypt (kek-v2 → kek-v3), for comparison'],
    ];
    for (const [key, keyId, mode, table, what] of cases)
      results.push(await engineRun(url, env(key, keyId), mode, [table], what));
  } finally {
    await sql.close();
    await database.stop();
  }
  print();
}

async function seed(sql: SqlPool): Promise<void> {
  const cipher = await EnvelopeCipher.create({ keyring: new RawKeyring([{ id: 'kek-v1', key: K.v1 }]) });
  for (const t of REGISTRY.tables) {
    await sql.query(`DROP TABLE IF EXISTS ${t.name}`);
    await sql.query(`CREATE TABLE ${t.name} (id bigint PRIMARY KEY, secret text)`);
  }
  for (let lo = 1; lo <= ROWS; lo += 10_000) {
    const ids = Array.from({ length: Math.min(10_000, ROWS - lo + 1) }, (_, i) => lo + i);
    const insert = (table: string, values: string[]): Promise<unknown> =>
      sql.query(`INSERT INTO ${table} SELECT * FROM unnest($1::bigint[], $2::text[])`, [ids.map(String), values]);
    await insert(
      'bench_fernet',
      ids.map((i) => fernetEncrypt(F.old, secretOf(i))),
    );
    await insert(
      'bench_json',
      ids.map((i) => jsonKeyIdEncrypt(K.v1, 'kek-v1', secretOf(i))),
    );
    await insert(
      'bench_rk1',
      await Promise.all(
        ids.map((i) => cipher.encrypt(secretOf(i), { table: 'bench_rk1', column: 'secret', rowId: String(i) })),
      ),
    );
  }
}

/**
 * The runbooks' way, measured: a script that reads a row, rotates it
 * (MultiFernet.rotate: decrypt with any key, encrypt under the primary with
 * the old timestamp) and writes it back with one UPDATE, row after row.
 */
async function perRowLoop(sql: SqlPool): Promise<BenchRow> {
  const reader = FernetReader.fromEnv({ ENCRYPTION_KEY: F.current, ENCRYPTION_KEY_FALLBACK: F.old });
  const started = process.hrtime.bigint();
  for (let id = 1; id <= SAMPLE; id++) {
    const { rows } = await sql.query<{ secret: string }>('SELECT secret FROM bench_fernet WHERE id = $1', [id]);
    const token = rows[0]!.secret;
    const rotated = reader.encrypt(reader.primaryKeyId(), reader.decryptSync(token), fernetTimestamp(token));
    await sql.query('UPDATE bench_fernet SET secret = $2 WHERE id = $1', [id, rotated]);
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return {
    what: `runbook-style per-row loop, Fernet rotate (${SAMPLE.toLocaleString('en-US')}-row sample)`,
    rows: SAMPLE,
    seconds,
    note: 'SELECT + rotate + UPDATE per row, as reencrypt_with_new_key.py / reencrypt-secrets do',
  };
}

async function engineRun(
  url: string,
  env: NodeJS.ProcessEnv,
  mode: Mode,
  tables: string[],
  what: string,
): Promise<BenchRow> {
  const runtime = await createEngineRuntime({ env, databaseUrl: url, registry: REGISTRY, actor: 'bench', poolSize: 4 });
  try {
    const job = await createJob(runtime.deps, {
      mode,
      targetKeyId: runtime.primaryKeyId(),
      fernetTargetKeyId: runtime.fernetPrimaryKeyId(),
      tables,
      requestedBy: 'bench',
    });
    const started = process.hrtime.bigint();
    const planned = await planJob(runtime.deps, job.id);
    const afterPlan = process.hrtime.bigint();
    let batchEnd = 0n;
    const outcome = await runJob(runtime.deps, job.id, {
      concurrency: 2,
      onProgress: (p) => void (p.batchesDone === p.batchesTotal && (batchEnd = process.hrtime.bigint())),
    });
    const finished = process.hrtime.bigint();
    const rowsDone = outcome.job.counters.rowsDone;
    // The per-row sample of the Fernet table is on the new key already: those rows are skipped, not counted.
    if (outcome.job.status !== 'completed')
      throw new Error(`${what}: job ended ${outcome.job.status} (${outcome.job.error ?? ''})`);
    const seconds = Number((batchEnd || finished) - afterPlan) / 1e9;
    return {
      what: `rekey ${what}, 1 worker`,
      rows: rowsDone,
      seconds,
      note: `plan ${(Number(afterPlan - started) / 1e9).toFixed(1)} s (${planned.summary[0]?.rowsPending ?? 0} pending); whole job incl. verify + retire ${(Number(finished - started) / 1e9).toFixed(1)} s`,
    };
  } finally {
    await runtime.close();
  }
}

function print(): void {
  const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
  console.log(
    `\nrekey in-place rotation benchmark — ${ROWS.toLocaleString('en-US')} rows per table, ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load ${loadavg()[0]!.toFixed(2)}, node ${process.version}\n`,
  );
  console.log('| case | rows | seconds | rows/s | note |');
  console.log('|---|---:|---:|---:|---|');
  for (const r of results)
    console.log(
      `| ${r.what} | ${fmt(r.rows)} | ${r.seconds.toFixed(2)} | ${fmt(r.rows / r.seconds)} | ${r.note ?? ''} |`,
    );
  console.log(
    '\nBaselines from DESIGN.md: the runbooks quote 33 – 167 rows/s for their migrations; Python Fernet ≈ 31,000 encrypt+decrypt/s; prototype full re-encrypt ≈ 20,000 rows/s.',
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
