import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freshDatabase, type TestDatabase } from '../../support/database';

/**
 * `npm run demo` as a user runs it (a child process through tsx), on the
 * test's PostgreSQL given as DATABASE_URL: it must finish, run its three jobs
 * (encrypt, rk1 rotation, Fernet in place) to completion, verify, end with
 * the plan-against-outcome table, and never print a secret.
 */
const root = join(__dirname, '..', '..', '..');
const run = promisify(execFile);

describe('npm run demo', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await freshDatabase({ poolSize: 1 });
  });
  afterEach(async () => {
    await db.drop();
  });

  it('seeds three situations, prints their plans, runs encrypt, rk1 and Fernet jobs, verifies, and ends with plan against outcome', async () => {
    // On the PGlite fallback the demo's own rule picks the job runner; a DATABASE_URL looks like a server to it.
    const args = [
      'scripts/demo.ts',
      '--rows',
      '3000',
      ...(process.env.REKEY_TEST_PG_KIND === 'pglite' ? ['--job-runner'] : []),
    ];
    const { stdout, stderr } = await run(join(root, 'node_modules', '.bin', 'tsx'), args, {
      cwd: root,
      env: { ...process.env, DATABASE_URL: db.url, NO_COLOR: '1' },
      maxBuffer: 16 * 1024 * 1024,
    });
    const output = stdout + stderr;
    // The plans, printed by `rekey plan`'s printer, before anything runs.
    const plans = output.slice(output.indexOf('3. The plan of each job'), output.indexOf('4. Run the jobs'));
    expect(plans).toContain('PLAN: encrypt to kek-v2');
    expect(plans).toMatch(/demo_users +600 +600 +0 +0 +600 /);
    expect(plans).toMatch(/demo_llm_providers +3,000 +3,000 +3,000 /);
    // The Fernet tokens are re-encrypted in place, none counted as failing.
    expect(plans).toMatch(/demo_legacy_tokens +600 +600 +0 +600 +0 +0 +0 /);
    expect(plans.match(/Predicted duration: /g)).toHaveLength(3);
    expect(output).toMatch(/4\. Run the jobs through (the synthesized state machine|the engine's job runner)/);
    if (process.env.REKEY_TEST_MOTO_ENDPOINT && process.env.REKEY_TEST_PG_KIND !== 'pglite') {
      expect(output).toContain('through the synthesized state machine');
      // Planned for the runtime that runs them: the local one, not AWS's 30 s waits.
      expect(plans.match(/time model: local state-machine runtime/g)).toHaveLength(3);
      expect(output.match(/, 0 in the DLQ/g)).toHaveLength(3);
    }
    expect(output).toContain('OK: every row is on the primary key kek-v2 (Fernet tables: fernet:');
    expect(output).toMatch(/kek-v1 +retired/);

    // The final table: every job completed, every row, no errors, no KMS call, both durations with their ratios, the old keys retired.
    const table = output.slice(output.indexOf('7. Plan against outcome')).split('\n');
    const line = (label: string): string => table.find((l) => l.startsWith(label)) ?? `no line for ${label}`;
    const seconds = '[\\d.]+ s|\\d+ min \\d+ s';
    // Predicted ÷ measured, e.g. 0.71×.
    const ratio = '\\d+\\.\\d\\d×';
    const figures = (mode: string, rows: string, retired: string): RegExp =>
      new RegExp(
        ` +${mode} +completed +${rows} +[\\d,]+ +0 +0 / 0 +(${seconds}) / (${seconds}) +${ratio} +(${seconds}) / (${seconds}) +${ratio} +${retired}$`,
      );
    expect(line('plaintext → rk1')).toMatch(figures('encrypt', '600', 'none'));
    expect(line('rk1 kek-v1 → kek-v2')).toMatch(figures('rewrap', '3,000', 'kek-v1'));
    expect(line('Fernet old → new key')).toMatch(figures('rewrap', '600', 'fernet:[0-9a-f]{16}'));

    // Nothing secret printed: the rk1 secrets are `sk-` + 147 base64url characters, the Fernet ones `tok_` + 64, the emails `user-<12 hex>@`.
    expect(output).not.toMatch(/sk-[A-Za-z0-9_-]{40,}/);
    expect(output).not.toMatch(/tok_[A-Za-z0-9_-]{20,}/);
    expect(output).not.toMatch(/user-[0-9a-f]{12}@/);
    // Cleaned up: the demo tables are gone.
    const { rows } = await db.sql.query(
      "SELECT to_regclass('demo_llm_providers') AS a, to_regclass('demo_users') AS b, to_regclass('demo_legacy_tokens') AS c",
    );
    expect(rows).toEqual([{ a: null, b: null, c: null }]);
  });
});
