import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EnvelopeCipher } from '../../functions/core/crypto/envelope-cipher';
import { peekKeyId } from '../../functions/core/crypto/envelope';
import { formatRawKey, RawKeyring } from '../../functions/core/crypto/keyrings/raw';
import { AuditLog } from '../../functions/core/keys/audit';
import { KeyCatalog } from '../../functions/core/keys/catalog';
import { migratedDatabase, requireRealPostgres, type TestDatabase } from '../support/database';
import { recordFigure } from './support/figures';
import { runCli, type CliRun } from '../support/cli';

/**
 * Tenants: row-level security on the audit log for reads and writes, and
 * crypto-shredding one tenant with `rekey keys destroy --force --yes`.
 */

let db: TestDatabase;

beforeAll(async () => {
  db = await migratedDatabase();
});
afterAll(async () => {
  await db.drop();
});

const TENANTS = ['acme', 'globex', 'initech'] as const;
const PER_TENANT = 40;
const secretOf = (tenant: string, id: number): string => `tenant-secret-${tenant}-${id}`;

describe('row-level security on the audit log', () => {
  it('a session scoped to one tenant reads, inserts, updates and deletes only that tenant’s audit rows', async () => {
    requireRealPostgres('roles and row-level security for a non-owner role');
    await db.sql.query('TRUNCATE rekey_audit_log, rekey_keys');
    const audit = new AuditLog(db.sql);
    const catalog = new KeyCatalog(db.sql, { audit });
    await catalog.add({ id: 'kek-v1', keyring: 'raw', status: 'active' }, 'setup');
    await catalog.add({ id: 'acme-v1', keyring: 'raw', tenant: 'acme', status: 'active' }, 'setup');
    await catalog.add({ id: 'globex-v1', keyring: 'raw', tenant: 'globex', status: 'active' }, 'setup');
    const role = `rekey_app_${Math.random().toString(36).slice(2, 8)}`;
    await db.sql.query(`CREATE ROLE ${role} NOLOGIN`);
    const attempts: { what: string; refused: boolean }[] = [];
    try {
      await db.sql.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON rekey_audit_log TO ${role}`);
      await db.sql.query(`GRANT USAGE ON SEQUENCE rekey_audit_log_id_seq TO ${role}`);
      /** Runs `statement` as the role scoped to acme; returns the rows affected, or the SQLSTATE it was refused with. */
      const asAcme = async (statement: string): Promise<{ rows: number; state?: string }> => {
        try {
          return await db.sql.transaction(async (tx) => {
            await tx.query(`SET LOCAL ROLE ${role}`);
            await tx.query("SELECT set_config('rekey.tenant', 'acme', true)");
            const r = await tx.query(statement);
            return { rows: r.rowCount };
          });
        } catch (err) {
          return {
            rows: 0,
            state:
              (err as { code?: string; cause?: { code?: string } }).cause?.code ??
              (err as { code?: string }).code ??
              'error',
          };
        }
      };
      const count = async (tenant: string | null): Promise<number> => {
        const { rows } = await db.sql.query<{ n: string }>(
          'SELECT count(*)::text AS n FROM rekey_audit_log WHERE tenant IS NOT DISTINCT FROM $1',
          [tenant],
        );
        return Number(rows[0]!.n);
      };
      const before = { acme: await count('acme'), globex: await count('globex'), global: await count(null) };
      const digestOthers = async (): Promise<string> =>
        JSON.stringify(
          (
            await db.sql.query(
              "SELECT id, actor, action, subject, tenant, details FROM rekey_audit_log WHERE tenant IS DISTINCT FROM 'acme' ORDER BY id",
            )
          ).rows,
        );
      const othersBefore = await digestOthers();

      const read = await asAcme('SELECT * FROM rekey_audit_log');
      expect(read.rows).toBe(before.acme);
      const readOthers = await asAcme("SELECT * FROM rekey_audit_log WHERE tenant = 'globex' OR tenant IS NULL");
      attempts.push({ what: 'read globex and global rows', refused: readOthers.rows === 0 });

      const insertOwn = await asAcme(
        "INSERT INTO rekey_audit_log (actor, action, subject, tenant) VALUES ('app', 'key.noted', 'key:acme-v1', 'acme')",
      );
      expect(insertOwn).toEqual({ rows: 1 });
      const insertOther = await asAcme(
        "INSERT INTO rekey_audit_log (actor, action, subject, tenant) VALUES ('app', 'key.destroyed', 'key:globex-v1', 'globex')",
      );
      attempts.push({ what: 'insert a globex row', refused: insertOther.state === '42501' });
      const insertGlobal = await asAcme(
        "INSERT INTO rekey_audit_log (actor, action, subject, tenant) VALUES ('app', 'key.destroyed', 'key:kek-v1', NULL)",
      );
      attempts.push({ what: 'insert a global row', refused: insertGlobal.state === '42501' });
      const updateOther = await asAcme("UPDATE rekey_audit_log SET actor = 'forged' WHERE tenant = 'globex'");
      attempts.push({ what: 'update globex rows', refused: updateOther.rows === 0 });
      const moveOwn = await asAcme("UPDATE rekey_audit_log SET tenant = 'globex' WHERE tenant = 'acme'");
      attempts.push({ what: 'move own rows to globex', refused: moveOwn.state === '42501' });
      const deleteOther = await asAcme("DELETE FROM rekey_audit_log WHERE tenant = 'globex' OR tenant IS NULL");
      attempts.push({ what: 'delete globex and global rows', refused: deleteOther.rows === 0 });

      expect(await digestOthers()).toBe(othersBefore);
      expect(await count('acme')).toBe(before.acme + 1);
    } finally {
      await db.sql.query(`REVOKE ALL ON rekey_audit_log FROM ${role}`);
      await db.sql.query(`REVOKE ALL ON SEQUENCE rekey_audit_log_id_seq FROM ${role}`);
      await db.sql.query(`DROP ROLE ${role}`);
    }
    const refused = attempts.filter((a) => a.refused).length;
    recordFigure({
      area: 'Tenants',
      figure: 'cross-tenant audit reads/writes refused / tried',
      value: `${refused} / ${attempts.length}`,
      goal: 'all',
    });
    expect(attempts.filter((a) => !a.refused)).toEqual([]);
  });
});

describe('crypto-shredding one tenant', () => {
  it('`rekey keys destroy --force --yes` of the tenant’s key: its rows never decrypt again, every other tenant’s do, and the audit log says so', async () => {
    await db.sql.query('TRUNCATE rekey_audit_log, rekey_keys');
    await db.sql.query('DROP TABLE IF EXISTS accounts');
    await db.sql.query('CREATE TABLE accounts (id bigint PRIMARY KEY, tenant_id text, secret text)');
    const material = {
      'kek-v1': randomBytes(32),
      ...Object.fromEntries(TENANTS.map((t) => [`${t}-v1`, randomBytes(32)])),
    } as Record<string, Buffer>;
    const dir = mkdtempSync(join(tmpdir(), 'rekey-shred-'));
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      DATABASE_URL: db.url,
      SECRETS_ENCRYPTION_KEY: formatRawKey('kek-v1', material['kek-v1']!),
      USER: 'shred-test',
    };
    writeFileSync(
      join(dir, 'rekey.config.json'),
      JSON.stringify({
        tables: [{ name: 'accounts', idColumn: 'id', columns: ['secret'], tenantColumn: 'tenant_id' }],
      }),
    );
    const rekey = async (...args: string[]): Promise<CliRun> => {
      const run = await runCli(['--config', join(dir, 'rekey.config.json'), ...args], { env, cwd: dir });
      expect(run.out + run.err).not.toMatch(/tenant-secret-/);
      for (const key of Object.values(material)) expect(run.out + run.err).not.toContain(key.toString('base64'));
      return run;
    };
    try {
      expect((await rekey('migrate')).code).toBe(0);
      // First deployment with the global key only; then each tenant's key is added and activated in the catalog,
      // and its material deployed (a key the catalog does not know would be registered as a global one).
      expect((await rekey('keys', 'list')).code).toBe(0); // registers kek-v1 (the deployed primary)
      for (const t of TENANTS) {
        const added = await rekey('keys', 'add', `${t}-v1`, '--tenant', t);
        expect(added.code).toBe(0);
        const activated = await rekey('keys', 'activate', `${t}-v1`);
        expect(activated.code).toBe(0);
      }
      env.SECRETS_ENCRYPTION_KEY_PREVIOUS = TENANTS.map((t) => formatRawKey(`${t}-v1`, material[`${t}-v1`]!)).join(',');
      expect((await rekey('keys', 'list')).out).toMatch(/acme-v1\s+active/);
      // The application writes each tenant's rows under that tenant's own key, as the catalog's policy says.
      const keyring = new RawKeyring(
        Object.entries(material).map(([id, key]) => ({ id, key })),
        'kek-v1',
      );
      const catalog = new KeyCatalog(db.sql, { audit: new AuditLog(db.sql) });
      const app = new EnvelopeCipher({ keyring, policy: await catalog.policy() });
      let id = 0;
      for (const t of TENANTS) {
        for (let i = 0; i < PER_TENANT; i++) {
          id++;
          await db.sql.query('INSERT INTO accounts VALUES ($1, $2, $3)', [
            id,
            t,
            await app.encrypt(secretOf(t, id), { table: 'accounts', column: 'secret', rowId: String(id), tenant: t }),
          ]);
        }
      }

      const refusedWithoutForce = await rekey('keys', 'destroy', 'acme-v1', '--yes');
      expect(refusedWithoutForce.code).toBe(1);
      expect(refusedWithoutForce.err).toContain(`${PER_TENANT} values are still under it`);
      const shred = await rekey('keys', 'destroy', 'acme-v1', '--force', '--yes');
      expect(shred.err).toContain(`WARNING: --force: ${PER_TENANT} values under acme-v1`);
      expect(shred.code).toBe(0);
      expect((await catalog.get('acme-v1'))?.status).toBe('destroyed');

      // Read back as the application does after the shred (a fresh policy from the catalog).
      const reader = new EnvelopeCipher({ keyring, policy: await catalog.policy() });
      const { rows } = await db.sql.query<{ id: string; tenant_id: string; secret: string }>(
        'SELECT id::text AS id, tenant_id, secret FROM accounts ORDER BY id',
      );
      const readable: Record<string, number> = {};
      const refused: Record<string, string[]> = {};
      for (const r of rows) {
        try {
          const plain = (
            await reader.decrypt(r.secret, { table: 'accounts', column: 'secret', rowId: r.id, tenant: r.tenant_id })
          ).toString();
          if (plain === secretOf(r.tenant_id, Number(r.id))) readable[r.tenant_id] = (readable[r.tenant_id] ?? 0) + 1;
        } catch (err) {
          (refused[r.tenant_id] ??= []).push((err as { code?: string }).code ?? 'error');
        }
      }
      expect(readable).toEqual({ globex: PER_TENANT, initech: PER_TENANT });
      expect(refused).toEqual({ acme: Array(PER_TENANT).fill('KEY_DESTROYED') });
      expect(rows.filter((r) => r.tenant_id === 'acme').every((r) => peekKeyId(r.secret) === 'acme-v1')).toBe(true); // the rows stay, unreadable

      // verify --decrypt tells the operator exactly which rows are gone.
      const verify = await rekey('verify', '--decrypt', '--json');
      expect(verify.code).toBe(1);
      expect(verify.out).toMatch(/"KEY_DESTROYED":\s*40/);
      // The global primary is never shredded: nothing would be left to encrypt with.
      const global = await rekey('keys', 'destroy', 'kek-v1', '--force', '--yes');
      expect(global.code).toBe(1);
      expect(global.err).toContain('is the global active key: destroying it would leave nothing to encrypt with');
      expect((await catalog.get('kek-v1'))?.status).toBe('active');

      const { rows: audit } = await db.sql.query<{
        actor: string;
        action: string;
        subject: string;
        tenant: string | null;
        details: Record<string, unknown>;
      }>(
        "SELECT actor, action, subject, tenant, details FROM rekey_audit_log WHERE subject = 'key:acme-v1' AND action = 'key.destroyed'",
      );
      expect(audit).toEqual([
        {
          actor: expect.stringContaining('shred-test'),
          action: 'key.destroyed',
          subject: 'key:acme-v1',
          tenant: 'acme',
          details: expect.objectContaining({
            from: 'retired',
            to: 'destroyed',
            valuesUnderKey: PER_TENANT,
            shred: true,
          }),
        },
      ]);
      const walked = await db.sql.query<{ action: string }>(
        "SELECT action FROM rekey_audit_log WHERE subject = 'key:acme-v1' AND details->>'shred' = 'true' ORDER BY id",
      );
      expect(walked.rows.map((r) => r.action)).toEqual(['key.rotating', 'key.retired', 'key.destroyed']);

      const others = TENANTS.length - 1;
      recordFigure({
        area: 'Tenants',
        figure: 'shredded tenant rows unreadable (KEY_DESTROYED)',
        value: `${refused['acme']?.length ?? 0} / ${PER_TENANT}`,
        goal: 'all',
      });
      recordFigure({
        area: 'Tenants',
        figure: 'other tenants’ rows still decrypting',
        value: `${(readable['globex'] ?? 0) + (readable['initech'] ?? 0)} / ${others * PER_TENANT}`,
        goal: 'all',
      });
      recordFigure({
        area: 'Tenants',
        figure: 'key.destroyed audit rows for the shred (tenant, values counted)',
        value: String(audit.length),
        goal: '1',
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
