/**
 * Plan versus measurement: `rekey plan` predicts a rotation, then
 * `rekey reencrypt` runs it, on a real PostgreSQL, in one process, for a few
 * modes and concurrencies — first with no job history (the documented
 * defaults), then learning from the runs before. Prints one table; the issue's
 * bar is a prediction within 2× of the measured time.
 *
 *   npx tsx bench/plan.bench.ts                 # 50,000 rows (the demo's size)
 *   npx tsx bench/plan.bench.ts --rows 200000
 *
 * Without DATABASE_URL it starts a throwaway cluster (initdb/pg_ctl).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { main as rekey } from '../functions/cli/main';
import type { CliIo } from '../functions/cli/io';
import { createPgSql } from '../functions/core/adapters/pg/sql';
import { EnvelopeCipher } from '../functions/core/crypto/envelope-cipher';
import { formatRawKey, RawKeyring } from '../functions/core/crypto/keyrings/raw';
import type { RotationPlan } from '../functions/core/plan/estimate';
import type { Mode } from '../functions/core/reencrypt/values/modes';
import { migrate } from '../functions/core/schema/migrate';
import { numberOption } from './lib/bench-options';
import { benchDatabase, rawKeyChain, seedEnvelopes } from './lib/engine-setup';

const ROWS = numberOption('rows', 50_000);
const KEYS = rawKeyChain(10);
const TABLE = 'plan_secrets';

interface Case {
  readonly mode: Mode;
  readonly concurrency: number;
}
const CASES: readonly Case[] = [
  { mode: 'rewrap', concurrency: 1 },
  { mode: 'rewrap', concurrency: 1 },
  { mode: 'reencrypt', concurrency: 1 },
  { mode: 'reencrypt', concurrency: 1 },
  { mode: 'rewrap', concurrency: 2 },
  { mode: 'rewrap', concurrency: 2 },
];

async function main(): Promise<void> {
  const database = await benchDatabase();
  const url = database.url;
  const sql = createPgSql({ connectionString: url, max: 2 });
  const dir = mkdtempSync(join(tmpdir(), 'rekey-plan-bench-'));
  const table: string[] = [];
  try {
    await migrate(sql);
    await sql.query(`DROP TABLE IF EXISTS ${TABLE}`);
    await sql.query(`CREATE TABLE ${TABLE} (id bigint PRIMARY KEY, secret text NOT NULL)`);
    await seed(sql);
    writeFileSync(
      join(dir, 'rekey.config.json'),
      JSON.stringify({ tables: [{ name: TABLE, idColumn: 'id', columns: ['secret'] }] }),
    );
    for (const [i, c] of CASES.entries()) {
      const target = i + 1; // every run moves all rows to a fresh key
      const env: NodeJS.ProcessEnv = {
        PATH: process.env.PATH,
        DATABASE_URL: url,
        USER: 'plan-bench',
        SECRETS_ENCRYPTION_KEY: formatRawKey(KEYS[target]!.id, KEYS[target]!.key),
        SECRETS_ENCRYPTION_KEY_PREVIOUS: KEYS.slice(0, target)
          .reverse()
          .map((k) => formatRawKey(k.id, k.key))
          .join(','),
      };
      const cli = async (...argv: string[]): Promise<string> => {
        let out = '';
        const io: CliIo = { stdout: (t) => void (out += t), stderr: () => undefined, isTTY: false, env, cwd: dir };
        const code = await rekey(['--config', join(dir, 'rekey.config.json'), '--json', ...argv], io);
        if (code !== 0) throw new Error(`rekey ${argv.join(' ')} exited ${code}: ${out}`);
        return out;
      };
      const plan = JSON.parse(
        await cli('plan', '--mode', c.mode, '--concurrency', String(c.concurrency)),
      ) as RotationPlan;
      const started = process.hrtime.bigint();
      const run = JSON.parse(await cli('reencrypt', '--mode', c.mode, '--concurrency', String(c.concurrency))) as {
        status: string;
        counters: { rowsDone: number };
      };
      const actual = Number(process.hrtime.bigint() - started) / 1e9;
      if (run.status !== 'completed' || run.counters.rowsDone !== ROWS)
        throw new Error(`run ${i + 1}: ${run.status}, ${run.counters.rowsDone} rows`);
      const predicted = plan.duration.seconds;
      const ratio = Math.max(predicted, actual) / Math.min(predicted, actual);
      table.push(
        `| ${c.mode}, ${c.concurrency} worker${c.concurrency > 1 ? 's' : ''} | ${ROWS.toLocaleString('en-US')} | ${plan.throughput.source} | ${Math.round(plan.throughput.rowsPerSecond).toLocaleString('en-US')} | ${predicted.toFixed(2)} | ${actual.toFixed(2)} | ${ratio.toFixed(2)}× ${ratio <= 2 ? '(within 2×)' : '(OUTSIDE 2×)'}, ${predicted < actual ? 'optimistic' : 'pessimistic'} (plan ÷ run ${(predicted / actual).toFixed(2)}) |`,
      );
      console.error(table[table.length - 1]);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await sql.close();
    await database.stop();
  }
  console.log(
    `\nplan vs actual, ${ROWS.toLocaleString('en-US')} rows, ${cpus().length} cores (${cpus()[0]?.model.trim()}), load ${loadavg()[0]!.toFixed(2)}, node ${process.version}\n`,
  );
  console.log('| run | rows | throughput from | planned rows/s | predicted s | measured s | predicted vs measured |');
  console.log('|---|---:|---|---:|---:|---:|---|');
  for (const line of table) console.log(line);
}

/** Rows of ~150-byte secrets under kek-v1, like the demo's. */
async function seed(sql: ReturnType<typeof createPgSql>): Promise<void> {
  const cipher = await EnvelopeCipher.create({ keyring: new RawKeyring([KEYS[0]!]) });
  await seedEnvelopes(sql, cipher, {
    table: TABLE,
    rows: ROWS,
    chunk: 5000,
    secret: (id) => `sk-live-${id}-${'x'.repeat(120)}`,
  });
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
