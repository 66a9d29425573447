/**
 * Where the time of a job on the local state-machine runtime goes
 * (functions/local/pipeline.ts: the synthesized definition run by
 * aws-local-stepfunctions, real handlers, SQS in moto_server): the figures
 * the planner's local-runtime model is built from (functions/core/plan/local-runtime.ts).
 *
 * Each case runs one execution on a fresh database and prints, beside the
 * speed probe of the moment, the seconds of each part: the run's set-up and
 * tear-down outside the execution (queues, handler modules, stopping the
 * pollers), each Task state, the progress loop, and the batch phase. The
 * "ref" columns divide by the probe's factor: seconds on the reference
 * machine the plan's defaults are expressed for.
 *
 *   npx tsx bench/local-runtime.bench.ts            # 20,000 rows
 *   npx tsx bench/local-runtime.bench.ts --rows 50000
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CliIo } from '../functions/cli/io';
import { main as rekey } from '../functions/cli/main';
import { createPgSql } from '../functions/core/adapters/pg/sql';
import { probeSpeed } from '../functions/core/plan/speed-probe';
import { migrate } from '../functions/core/schema/migrate';
import { runLocalPipeline } from '../functions/local/pipeline';
import { startMotoServer } from '../functions/local/services/moto-server';
import { startThrowawayPostgres } from '../functions/local/services/postgres-cluster';
import { synthesizeStateMachineDefinition } from '../lib/synthesize-definition';
import { formatRawKey } from '../functions/core/crypto/keyrings/raw';
import { makeKeys, REGISTRY, RK1_TABLE, seedTables } from '../scripts/demo/seed';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const args = process.argv.slice(2);
const ROWS = args.includes('--rows') ? Number(args[args.indexOf('--rows') + 1]) : 20_000;

interface Case {
  readonly name: string;
  readonly rows: number;
  readonly batchSize: number;
  /** The CLI's job runner (`rekey reencrypt`, 1 worker) instead of the local runtime: the same rows beside it, same load. */
  readonly cli?: boolean;
}
const CASES: readonly Case[] = [
  { name: 'local: first execution in the process, 1 row', rows: 1, batchSize: 2000 },
  { name: 'local: next execution, 1 row', rows: 1, batchSize: 2000 },
  { name: `CLI, 1 worker: ${ROWS} rows`, rows: ROWS, batchSize: 2000, cli: true },
  { name: `local: ${ROWS} rows`, rows: ROWS, batchSize: 2000 },
  { name: `CLI, 1 worker: ${ROWS} rows`, rows: ROWS, batchSize: 2000, cli: true },
  { name: `local: ${ROWS} rows`, rows: ROWS, batchSize: 2000 },
  { name: `local: ${ROWS} rows, batch 250`, rows: ROWS, batchSize: 250 },
];

async function main(): Promise<void> {
  const pg = await startThrowawayPostgres();
  const moto = await startMotoServer();
  const admin = createPgSql({ connectionString: pg.url, max: 1 });
  const definition = synthesizeStateMachineDefinition();
  const lines: string[] = [];
  try {
    for (const [i, c] of CASES.entries()) {
      const dbName = `case${i}`;
      await admin.query(`CREATE DATABASE ${dbName}`);
      const url = pg.url.replace(/\/[^/?]*(\?|$)/, `/${dbName}$1`);
      const sql = createPgSql({ connectionString: url, max: 1 });
      const keys = makeKeys();
      await migrate(sql);
      await seedTables(sql, keys, [{ label: 'rk1', table: RK1_TABLE, mode: 'rewrap', rows: c.rows }]);
      const keyEnv = {
        SECRETS_ENCRYPTION_KEY: formatRawKey('kek-v2', keys.kekV2),
        SECRETS_ENCRYPTION_KEY_PREVIOUS: formatRawKey('kek-v1', keys.kekV1),
      };
      // The load moves within seconds: the probe before and after the run, averaged, stands for the run.
      const before = await probeSpeed();
      const spans = new Map<string, { ms: number; n: number }>();
      const entered = new Map<string, number>();
      let first = 0;
      let last = 0;
      const started = Date.now();
      const run = c.cli
        ? await runCli(url, keyEnv, c)
        : await runLocalPipeline({
            input: { mode: 'rewrap', tables: [RK1_TABLE], batchSize: c.batchSize },
            databaseUrl: url,
            sqsEndpoint: moto.endpoint,
            registry: REGISTRY,
            keyEnv,
            definition,
            workers: 2,
            onEvent: (e) => {
              const name = (e.state as { name?: string } | undefined)?.name;
              if (!name) return;
              const now = Date.now();
              if (e.type === 'StateEntered') {
                entered.set(name, now);
                first ||= now;
              }
              if (e.type === 'StateExited') {
                const s = spans.get(name) ?? { ms: 0, n: 0 };
                spans.set(name, { ms: s.ms + now - (entered.get(name) ?? now), n: s.n + 1 });
                last = now;
              }
            },
          });
      const wall = (Date.now() - started) / 1000;
      const after = await probeSpeed();
      const speed = { factor: (before.factor + after.factor) / 2 };
      if (run.error) throw new Error(`${c.name}: ${run.error.name}: ${run.error.message}`);
      const { rows } = await sql.query<{ batch_s: string | null; job_s: string }>(
        `SELECT (SELECT EXTRACT(EPOCH FROM max(b.finished_at) - min(b.started_at)) FROM rekey_job_batches b WHERE b.job_id = j.id) AS batch_s,
                EXTRACT(EPOCH FROM j.finished_at - j.started_at) AS job_s
           FROM rekey_jobs j WHERE NOT j.dry_run`,
      );
      await sql.close();
      const execution = c.cli ? wall : (last - first) / 1000;
      const f = speed.factor;
      const cell = (s: number): string => `${s.toFixed(2)} (ref ${(s * f).toFixed(3)})`;
      const state = (n: string): string => {
        const s = spans.get(n);
        return s ? `${cell(s.ms / 1000 / s.n)}${s.n > 1 ? ` ×${s.n}` : ''}` : '-';
      };
      lines.push(
        `| ${c.name} | ${f.toFixed(3)} | ${cell(wall)} | ${cell(wall - execution)} | ${cell(execution)} | ${state('ValidateInput')} | ${state('Plan')} | ${state('Enqueue')} | ${state('CheckProgress')} | ${state('WaitForProgress')} | ${state('Verify')} | ${state('Finalize')} | ${cell(Number(rows[0]?.batch_s ?? 0))} | ${Math.round(c.rows / Number(rows[0]?.batch_s ?? 1)).toLocaleString('en-US')} (ref ${Math.round(c.rows / Number(rows[0]?.batch_s ?? 1) / f).toLocaleString('en-US')}) | ${cell(Number(rows[0]?.job_s ?? 0))} | ${run.worker.invocations} |`,
      );
      console.error(lines[lines.length - 1]);
    }
  } finally {
    await admin.close();
    await moto.stop();
    await pg.stop();
  }
  console.log(
    `\nlocal runtime, ${cpus().length} cores (${cpus()[0]?.model.trim()}), load ${loadavg()[0]!.toFixed(2)}, node ${process.version}; seconds (ref = × probe factor)\n`,
  );
  console.log(
    '| case | probe factor | wall | outside the execution | execution | ValidateInput | Plan | Enqueue | CheckProgress (each) | WaitForProgress (each) | Verify | Finalize | batch phase | job row | worker invocations |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const l of lines) console.log(l);
}

/** The same job through the CLI's job runner, as `rekey reencrypt --concurrency 1` runs it. */
async function runCli(
  url: string,
  keyEnv: Record<string, string>,
  c: Case,
): Promise<{ error?: { name: string; message: string }; worker: { invocations: number } }> {
  const dir = mkdtempSync(join(tmpdir(), 'rekey-local-bench-'));
  try {
    writeFileSync(join(dir, 'rekey.config.json'), JSON.stringify(REGISTRY));
    let err = '';
    const io: CliIo = {
      stdout: () => undefined,
      stderr: (t) => void (err += t),
      isTTY: false,
      env: { PATH: process.env.PATH, DATABASE_URL: url, USER: 'bench', ...keyEnv },
      cwd: dir,
    };
    const argv = ['--config', join(dir, 'rekey.config.json'), 'reencrypt', '--mode', 'rewrap', '-t', RK1_TABLE];
    const code = await rekey([...argv, '-b', String(c.batchSize), '--concurrency', '1'], io);
    return { ...(code === 0 ? {} : { error: { name: `exit ${code}`, message: err } }), worker: { invocations: 0 } };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
