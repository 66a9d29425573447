import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EnvelopeCipher } from '../../../functions/core/crypto/envelope-cipher';
import { RawKeyring } from '../../../functions/core/crypto/keyrings/raw';
import { migratedDatabase, type TestDatabase } from '../../support/database';
import { seedCliFixture, TABLE, type CliFixture } from './fixture';

/**
 * A key is retired or destroyed only when no table rekey has ever known holds
 * a value under it — not only the tables of today's config. Here `tokens` is
 * configured once (a dry run), then a config listing only llm_providers
 * rotates that table: kek-v1 must stay decryptable for `tokens`.
 */
const ROWS = 40;
const TOKENS = 10;

describe('a narrower config cannot retire or destroy a key another table still uses', () => {
  let db: TestDatabase;
  let fx: CliFixture;

  beforeEach(async () => {
    db = await migratedDatabase();
    fx = await seedCliFixture(db.sql, db.url, ROWS);
    await db.sql.query('CREATE TABLE tokens (id bigint PRIMARY KEY, t text)');
    const old = await EnvelopeCipher.create({ keyring: new RawKeyring([{ id: 'kek-v1', key: fx.keys.v1 }]) });
    for (let i = 1; i <= TOKENS; i++) {
      await db.sql.query('INSERT INTO tokens VALUES ($1, $2)', [
        i,
        await old.encrypt(`tok-${i}`, { table: 'tokens', column: 't', rowId: String(i) }),
      ]);
    }
  });
  afterEach(async () => {
    fx.dispose();
    await db.drop();
  });

  const config = (tables: string[]): void =>
    writeFileSync(
      join(fx.dir, 'rekey.config.json'),
      JSON.stringify({
        tables: tables.map((name) => ({ name, idColumn: 'id', columns: [name === TABLE ? 'api_key_encrypted' : 't'] })),
      }),
    );

  it('keeps kek-v1 after a run on one table, completes that run, and refuses retire and destroy naming the other table', async () => {
    config([TABLE, 'tokens']);
    expect((await fx.rekey('reencrypt', '--dry-run')).code).toBe(0);

    config([TABLE]);
    const run = await fx.rekey('reencrypt', '-b', '20');
    expect(run.code).toBe(0); // this job's rows are all on kek-v2: completed, not completed_with_errors
    expect(run.out).toMatch(/completed/);
    expect(run.out).not.toContain('retired: kek-v1');
    expect(run.out).toContain(`kept (values remain): kek-v1 (${TOKENS})`);

    for (const action of ['retire', 'destroy']) {
      const refused = await fx.rekey('keys', action, 'kek-v1', ...(action === 'destroy' ? ['--yes'] : []));
      expect(refused.code).toBe(1);
      expect(refused.err).toContain(
        `Refusing to ${action} kek-v1: ${TOKENS} values are still under it (tokens: ${TOKENS}, a table this config does not list)`,
      );
    }
    const keys = JSON.parse((await fx.rekey('--json', 'keys', 'list')).out) as { id: string; status: string }[];
    expect(keys.find((k) => k.id === 'kek-v1')?.status).toBe('rotating');

    // Once that table is rotated too (with a config listing it), the key retires.
    config(['tokens']);
    const second = await fx.rekey('reencrypt');
    expect(second.code).toBe(0);
    expect(second.out).toContain('retired: kek-v1');
  });

  it('a table that no longer exists is noted and does not block', async () => {
    config([TABLE, 'tokens']);
    expect((await fx.rekey('reencrypt', '--dry-run')).code).toBe(0);
    await db.sql.query('DROP TABLE tokens');
    config([TABLE]);
    expect((await fx.rekey('reencrypt')).out).toContain('retired: kek-v1');
    const destroy = await fx.rekey('keys', 'destroy', 'kek-v1', '--yes');
    expect(destroy.code).toBe(0);
    expect(destroy.err).toContain('note: tokens is no longer in the database; its values are not counted.');
  });
});
