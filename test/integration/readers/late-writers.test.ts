import { writeHeartbeat, listReaders } from '../../../functions/core/readers/store';
import { migratedDatabase, type TestDatabase } from '../../support/database';
import { seedCliFixture, type CliFixture } from '../cli/fixture';

/**
 * A late writer during a rotation: a live reader still encrypts with kek-v1
 * (its heartbeat says so). The job moves every row and completes, but keeps
 * kek-v1 (rotating, still decrypting) and says why; once that reader has
 * moved to kek-v2, retiring kek-v1 succeeds.
 */
describe('late writers and automatic retirement', () => {
  let db: TestDatabase;
  let fx: CliFixture;
  beforeEach(async () => {
    db = await migratedDatabase();
    fx = await seedCliFixture(db.sql, db.url, 300);
  });
  afterEach(async () => {
    fx.dispose();
    await db.drop();
  });

  const lateReader = (primaryKeyId: string) =>
    writeHeartbeat(db.sql, {
      readerId: 'library:web-7:42:abcd',
      kind: 'library',
      host: 'web-7',
      pid: 42,
      keyIds: ['kek-v1', 'kek-v2'],
      keysetVersion: 'ids:x',
      primaryKeyId,
      intervalSeconds: 60,
    });

  it('keeps the old key while a live reader writes with it, and retires it once the reader has moved', async () => {
    await lateReader('kek-v1');
    const run = await fx.rekey('reencrypt');
    expect(run.code).toBe(0);
    expect(run.out).toContain(': completed');
    expect(run.out).toContain(
      'kept (live readers still encrypt with it — `rekey readers`): kek-v1 (library:web-7:42:abcd)',
    );
    const status = async (id: string) =>
      (await db.sql.query<{ status: string }>('SELECT status FROM rekey_keys WHERE id = $1', [id])).rows[0]?.status;
    expect(await status('kek-v1')).toBe('rotating');

    const refused = await fx.rekey('keys', 'retire', 'kek-v1');
    expect([refused.code, refused.err]).toEqual([
      1,
      expect.stringContaining(
        '1 live reader still encrypts new values with kek-v1: library:web-7:42:abcd (library on web-7',
      ),
    ]);

    await lateReader('kek-v2'); // redeployed with the new primary
    expect((await listReaders(db.sql)).map((r) => r.primaryKeyId)).toEqual(['kek-v2']);
    const retired = await fx.rekey('keys', 'retire', 'kek-v1');
    expect(retired.code).toBe(0);
    expect(await status('kek-v1')).toBe('retired');
  });
});

describe('a deploy that makes a new key primary while readers lag', () => {
  let db: TestDatabase;
  let fx: CliFixture;
  beforeEach(async () => {
    db = await migratedDatabase();
    fx = await seedCliFixture(db.sql, db.url, 10);
  });
  afterEach(async () => {
    fx.dispose();
    await db.drop();
  });

  it('warns, naming the readers that cannot decrypt the new primary (dry run and real run)', async () => {
    await writeHeartbeat(db.sql, {
      readerId: 'library:old-1:7:ffff',
      kind: 'library',
      host: 'old-1',
      pid: 7,
      keyIds: ['kek-v1'],
      keysetVersion: null,
      primaryKeyId: 'kek-v1',
      intervalSeconds: 60,
    });
    const dry = await fx.rekey('reencrypt', '-n');
    expect(dry.err).toContain(
      'WARNING: 1 live reader(s) cannot decrypt kek-v2, which would become the primary key: library:old-1:7:ffff (old-1)',
    );
    const run = await fx.rekey('reencrypt');
    expect(run.err).toContain('WARNING: 1 live reader(s) cannot decrypt kek-v2, which is now the primary key');
    const again = await fx.rekey('verify'); // nothing changes in the catalog any more: no warning
    expect(again.err).not.toContain('WARNING: 1 live reader');
  });
});
