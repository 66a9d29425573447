/**
 * The Data API path the stack runs on AWS, in one run:
 *
 * 1. Planning time against table size (key id column, small batch size): the
 *    planner through pg and through the Data API adapter, beside the batch
 *    boundary query it replaced (ordered by the window's row number, so every
 *    page re-read the rest of the table). Linear means the same seconds per
 *    million rows at every size.
 * 2. Engine throughput through the Data API adapter against the
 *    PostgreSQL-backed endpoint (its own process), beside the direct pg path,
 *    on the same table, with DESIGN.md's baselines.
 *
 *   npm run bench:data-api                                   # plan 1M and 4M rows; engine on 200,000 rows
 *   npm run bench:data-api -- --plan-sizes 1000000,10000000  # 10M: ~1.5 GB and several minutes on 2 cores
 *   npm run bench:data-api -- --rows 50000 --no-old          # smaller; skip the old boundary query
 *   npm run bench:data-api -- --rows 0                       # planning only
 *
 * Without DATABASE_URL it starts a throwaway cluster. Prints tables;
 * docs/performance.md records them.
 */
import { cpus, loadavg } from 'node:os';
import { RDSDataClient } from '@aws-sdk/client-rds-data';
import { createDataApiSql, type DataApiSqlPool } from '../functions/core/adapters/data-api/sql';
import { createPgSql } from '../functions/core/adapters/pg/sql';
import { EnvelopeCipher } from '../functions/core/crypto/envelope-cipher';
import { RawKeyring } from '../functions/core/crypto/keyrings/raw';
import type { Sql, SqlPool } from '../functions/core/ports/sql';
import { JOB_DEFAULTS } from '../functions/core/job-settings';
import type { Mode } from '../functions/core/reencrypt/values/modes';
import { planTable } from '../functions/core/reencrypt/batches/planner';
import { parseRegistry, type RegistryTable } from '../functions/core/reencrypt/config/registry';
import { describeTable } from '../functions/core/reencrypt/sql/table-shape';
import { migrate } from '../functions/core/schema/migrate';
import { createEngineRuntime } from '../functions/runtime/engine-runtime';
import { flag, numberOption, option } from './lib/bench-options';
import { startEndpointProcess } from './lib/data-api-endpoint';
import {
  benchDatabase,
  rawKeyChain,
  rawKeyringEnv,
  runTimedJob,
  seedEnvelopes,
  type BenchRow,
} from './lib/engine-setup';

const PLAN_SIZES = option('plan-sizes', '1000000,4000000').split(',').map(Number);
const PLAN_BATCH = numberOption('plan-batch-size', 100);
const ROWS = numberOption('rows', 200_000);
const BATCH = numberOption('batch-size', JOB_DEFAULTS.batchSize);
const OLD = !flag('no-old');
const ARNS = {
  resourceArn: 'arn:aws:rds:us-east-1:123456789012:cluster:bench',
  secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:bench',
};
const KEYS = rawKeyChain(8);
const TABLE = 'bench_dapi';
const REGISTRY = parseRegistry({ tables: [{ name: TABLE, idColumn: 'id', columns: ['secret'] }] }, 'bench');

interface PlanRow {
  readonly rows: number;
  readonly batches: number;
  readonly pg: number;
  readonly dataApi: number;
  readonly dataApiCalls: number;
  readonly old?: number;
}

async function main(): Promise<void> {
  const database = await benchDatabase();
  const url = database.url;
  const pg = createPgSql({ connectionString: url, max: 4 });
  // 8 connections, as the test harness gives the endpoint; the service's pool is larger, and 2 workers use at most 4.
  const endpoint = await startEndpointProcess(url, 8);
  const calls = { n: 0 };
  const client = new RDSDataClient({
    endpoint: endpoint.endpoint,
    region: 'us-east-1',
    maxAttempts: 1,
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
  });
  client.middlewareStack.add((next) => (a) => ((calls.n += 1), next(a)), { step: 'initialize', name: 'countCalls' });
  const dataApi = createDataApiSql({ client, ...ARNS, database: 'bench' });
  const plans: PlanRow[] = [];
  const runs: BenchRow[] = [];
  try {
    await migrate(pg);
    for (const size of PLAN_SIZES) plans.push(await planningAt(pg, dataApi, calls, size));
    if (ROWS > 0) runs.push(...(await throughput(url, pg, dataApi, calls)));
  } finally {
    await dataApi.close();
    client.destroy();
    await endpoint.stop();
    await pg.close();
    await database.stop();
  }
  print(plans, runs);
}

/** A `size`-row table with a key id column, planned for a rewrap to kek-v2 with PLAN_BATCH-row batches, three ways. */
async function planningAt(pg: SqlPool, dataApi: DataApiSqlPool, calls: { n: number }, size: number): Promise<PlanRow> {
  const name = `bench_plan_${size}`;
  const t0 = Date.now();
  await pg.query(`DROP TABLE IF EXISTS ${name}`);
  await pg.query(`CREATE TABLE ${name} (id bigint PRIMARY KEY, key_id text NOT NULL, secret text NOT NULL)`);
  // Planning reads ids and key ids only: short placeholder values keep the seeding fast.
  for (let from = 1; from <= size; from += 1_000_000) {
    await pg.query(`INSERT INTO ${name} SELECT g, 'kek-v1', 'v' || g FROM generate_series($1::bigint, $2::bigint) g`, [
      from,
      Math.min(size, from + 999_999),
    ]);
  }
  await pg.query(`VACUUM ANALYZE ${name}`);
  console.error(`seeded ${size.toLocaleString('en-US')} planning rows in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const table = parseRegistry(
    { tables: [{ name, idColumn: 'id', columns: ['secret'], keyIdColumn: 'key_id' }] },
    'bench',
  ).tables[0]!;

  const viaPg = await timePlan(pg, table, size);
  const before = calls.n;
  const viaDataApi = await timePlan(dataApi, table, size);
  const row: PlanRow = {
    rows: size,
    batches: viaPg.batches,
    pg: viaPg.seconds,
    dataApi: viaDataApi.seconds,
    dataApiCalls: calls.n - before,
  };
  if (viaDataApi.batches !== viaPg.batches)
    throw new Error(`the Data API planned ${viaDataApi.batches} batches, pg ${viaPg.batches}`);
  const old = OLD ? await oldBoundaries(pg, name, size) : undefined;
  await pg.query(`DROP TABLE ${name}`);
  return old === undefined ? row : { ...row, old };
}

async function timePlan(sql: Sql, table: RegistryTable, size: number): Promise<{ seconds: number; batches: number }> {
  const shape = await describeTable(sql, table);
  const t = process.hrtime.bigint();
  const plan = await planTable(
    { sql, crypto: { classify: () => ({ kind: 'null' }) as never } },
    table,
    shape,
    'rewrap',
    'kek-v2',
    PLAN_BATCH,
  );
  const seconds = Number(process.hrtime.bigint() - t) / 1e9;
  if (plan.rowsPending !== size) throw new Error(`planned ${plan.rowsPending} pending rows of ${size}`);
  return { seconds, batches: plan.ranges.length };
}

/** The boundary query before this change (outer ORDER BY rn), paged as the planner pages it on pg: every page sorts the rest of the table. */
async function oldBoundaries(pg: SqlPool, name: string, size: number): Promise<number> {
  const page = 2000;
  const t = process.hrtime.bigint();
  let after: string | null = null;
  let found = 0;
  for (;;) {
    const where: string = `key_id IS DISTINCT FROM $1::text AND secret IS NOT NULL${after === null ? '' : ' AND id > $4::bigint'}`;
    const text: string = `SELECT id FROM (SELECT id::text AS id, row_number() OVER (ORDER BY id) AS rn FROM ${name} WHERE ${where}) s WHERE rn % $2 = 0 ORDER BY rn LIMIT $3`;
    const params: (string | number)[] =
      after === null ? ['kek-v2', PLAN_BATCH, page] : ['kek-v2', PLAN_BATCH, page, after];
    const { rows }: { rows: { id: string }[] } = await pg.query<{ id: string }>(text, params);
    found += rows.length;
    if (rows.length < page) break;
    after = rows[rows.length - 1]!.id;
  }
  if (found !== Math.floor(size / PLAN_BATCH)) throw new Error(`old boundary query found ${found}`);
  return Number(process.hrtime.bigint() - t) / 1e9;
}

/** Engine jobs on ROWS real envelopes, alternating pg and the Data API so each run finds all rows to move to a fresh key. */
async function throughput(
  url: string,
  pg: SqlPool,
  dataApi: DataApiSqlPool,
  calls: { n: number },
): Promise<BenchRow[]> {
  await pg.query(`DROP TABLE IF EXISTS ${TABLE}`);
  await pg.query(`CREATE TABLE ${TABLE} (id bigint PRIMARY KEY, secret text NOT NULL)`);
  const cipher = await EnvelopeCipher.create({ keyring: new RawKeyring([KEYS[0]!]) });
  await seedEnvelopes(pg, cipher, { table: TABLE, rows: ROWS, analyze: true });
  let keyIndex = 0;
  const run = async (transport: 'pg' | 'Data API', mode: Mode): Promise<BenchRow> => {
    const target = keyIndex + 1;
    const runtime = await createEngineRuntime({
      env: rawKeyringEnv(KEYS, target),
      registry: REGISTRY,
      actor: 'bench',
      ...(transport === 'pg' ? { databaseUrl: url, poolSize: 4 } : { sql: dataApi }),
    });
    try {
      const callsBefore = calls.n;
      const { outcome, batchSeconds, wholeSeconds } = await runTimedJob(runtime.deps, {
        mode,
        targetKeyId: KEYS[target]!.id,
        batchSize: BATCH,
      });
      if (outcome.job.status !== 'completed' || outcome.job.counters.rowsDone !== ROWS)
        throw new Error(
          `${transport} ${mode} ended ${outcome.job.status} with ${outcome.job.counters.rowsDone} rows done`,
        );
      keyIndex = target;
      const batches = Math.ceil(ROWS / BATCH);
      const dataApiCalls = calls.n - callsBefore;
      return {
        what: `rekey ${mode} via ${transport}, 1 worker, 2 batches at a time (batch ${BATCH})`,
        rows: ROWS,
        seconds: batchSeconds,
        note:
          `whole job incl. plan + verify ${wholeSeconds.toFixed(1)} s` +
          (transport === 'Data API'
            ? `; ${dataApiCalls} Data API calls, ≈ ${(dataApiCalls / batches).toFixed(1)} per batch`
            : ''),
      };
    } finally {
      await runtime.close();
    }
  };
  const out: BenchRow[] = [];
  for (const mode of ['rewrap', 'reencrypt'] as const) {
    out.push(await run('pg', mode));
    out.push(await run('Data API', mode));
  }
  return out;
}

function print(plans: readonly PlanRow[], runs: readonly BenchRow[]): void {
  const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
  const perM = (s: number, rows: number): string => (s / (rows / 1e6)).toFixed(2);
  console.log(
    `\nrekey Data API benchmark — ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load ${loadavg()[0]!.toFixed(2)}, node ${process.version}`,
  );
  console.log(
    "Data API: the project's PostgreSQL-backed endpoint (functions/local/services/data-api/server.ts) in its own process, over loopback HTTP; AWS adds network and service time per call.\n",
  );
  console.log(
    `Planning a rewrap, key id column, batch size ${PLAN_BATCH} (seconds; s/M = seconds per million rows, constant when linear):\n`,
  );
  console.log(
    '| rows | batches | pg | pg s/M | Data API | Data API s/M | Data API calls | old boundary query (ORDER BY rn), pg | old s/M |',
  );
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const p of plans) {
    const old = p.old === undefined ? '— | —' : `${p.old.toFixed(2)} | ${perM(p.old, p.rows)}`;
    console.log(
      `| ${fmt(p.rows)} | ${fmt(p.batches)} | ${p.pg.toFixed(2)} | ${perM(p.pg, p.rows)} | ${p.dataApi.toFixed(2)} | ${perM(p.dataApi, p.rows)} | ${fmt(p.dataApiCalls)} | ${old} |`,
    );
  }
  if (runs.length === 0) return;
  console.log(
    `\nEngine throughput on ${fmt(ROWS)} rows (~150-byte text envelopes), batch phase (plan → last batch):\n`,
  );
  console.log('| case | rows | seconds | rows/s | note |');
  console.log('|---|---:|---:|---:|---|');
  for (const r of runs)
    console.log(`| ${r.what} | ${fmt(r.rows)} | ${r.seconds.toFixed(2)} | ${fmt(r.rows / r.seconds)} | ${r.note} |`);
  console.log('\nBaselines from DESIGN.md (same machine class, measured outside the project):');
  console.log('| baseline | rows/s |\n|---|---:|');
  for (const [what, n] of [
    ['batched keyset + CAS via pg, 1 client', '≈ 68,000'],
    ['prototype rewrap worker', '≈ 30,000'],
    ['prototype full re-encrypt', '≈ 20,000'],
    ["runbooks' migration scripts", '33 – 167'],
  ])
    console.log(`| ${what} | ${n} |`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
