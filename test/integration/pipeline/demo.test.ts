import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freshDatabase, type TestDatabase } from '../../support/database';

/**
 * `npm run demo` as a user runs it (a child process through tsx), on the
 * test's PostgreSQL given as DATABASE_URL: it must finish, rotate every row,
 * verify, and never print a secret.
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

  it('seeds, dry-runs, rotates kek-v1 → kek-v2, verifies and cleans up', async () => {
    // On the PGlite fallback the demo's own rule picks the job runner; a DATABASE_URL looks like a server to it.
    const args = ['scripts/demo.ts', '--rows', '3000', ...(process.env.REKEY_TEST_PG_KIND === 'pglite' ? ['--job-runner'] : [])];
    const { stdout, stderr } = await run(join(root, 'node_modules', '.bin', 'tsx'), args, {
      cwd: root,
      env: { ...process.env, DATABASE_URL: db.url, NO_COLOR: '1' },
      maxBuffer: 16 * 1024 * 1024,
    });
    const output = stdout + stderr;
    expect(output).toContain('DRY RUN: Would re-encrypt 3000 of 3000 records');
    expect(output).toMatch(/3\. Rotate kek-v1 → kek-v2 through (the synthesized state machine|the engine's job runner)/);
    if (process.env.REKEY_TEST_MOTO_ENDPOINT && process.env.REKEY_TEST_PG_KIND !== 'pglite') {
      expect(output).toContain('through the synthesized state machine');
      expect(output).toMatch(/Job [0-9a-f-]{36}: completed\n {2}re-encrypted 3000 rows in [\d.]+ s — \d+ rows\/s/);
      expect(output).toContain('0 in the DLQ');
    }
    expect(output).toContain('retired: kek-v1');
    expect(output).toContain('OK: every row is on the primary key kek-v2 and decrypts');
    expect(output).toMatch(/kek-v1 +retired/);
    // The secrets are `sk-` + 147 base64url characters; none may be printed.
    expect(output).not.toMatch(/sk-[A-Za-z0-9_-]{40,}/);
    // Cleaned up: the demo table is gone.
    const { rows } = await db.sql.query("SELECT to_regclass('demo_llm_providers') AS t");
    expect(rows).toEqual([{ t: null }]);
  });
});
