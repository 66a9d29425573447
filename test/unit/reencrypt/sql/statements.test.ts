import { qualifiedName, quoteIdent } from '../../../../functions/core/reencrypt/sql/identifiers';
import { parseRegistry } from '../../../../functions/core/reencrypt/config/registry';
import { TableStatements } from '../../../../functions/core/reencrypt/sql/statements';
import type { TableShape } from '../../../../functions/core/reencrypt/sql/table-shape';

describe('identifiers', () => {
  it('quotes identifiers and doubles embedded quotes', () => {
    expect(quoteIdent('users')).toBe('"users"');
    expect(quoteIdent('Mixed"Case')).toBe('"Mixed""Case"');
    expect(quoteIdent('a"; DROP TABLE x; --')).toBe('"a""; DROP TABLE x; --"');
    expect(() => quoteIdent('')).toThrow(TypeError);
    expect(() => quoteIdent('a\u0000b')).toThrow(TypeError);
    expect(qualifiedName({ name: 'users', schema: 'app' })).toBe('"app"."users"');
    expect(qualifiedName({ name: 'users' })).toBe('"users"');
  });
});

describe('table statements', () => {
  const registry = parseRegistry({
    tables: [
      {
        name: 'Secrets',
        schema: 'app',
        idColumn: 'id',
        columns: ['token', 'blob'],
        keyIdColumn: 'key_id',
        tenantColumn: 'org',
      },
      {
        name: 'users',
        idColumn: 'uid',
        columns: [],
        encrypt: { email: { target: 'email_enc', blindIndex: 'email_hash', clearSource: true } },
      },
    ],
  });
  const secrets = registry.tables[0]!;
  const users = registry.tables[1]!;
  const shape: TableShape = { idType: 'bigint', forms: { token: 'text', blob: 'binary', key_id: 'text' } };

  it('reads a keyset range without OFFSET, with every identifier quoted and bounds as parameters', () => {
    const s = new TableStatements(secrets, shape, 'rewrap');
    const mid = s.selectRange({ lo: '10', hi: '20' });
    expect(mid.text).toBe(
      'SELECT t."id"::text AS "__rekey_id", t."org"::text AS "__rekey_tenant", t."token", t."blob", t."key_id" FROM "app"."Secrets" AS t' +
        ' WHERE t."id" > $1::bigint AND t."id" <= $2::bigint AND (t."key_id" IS DISTINCT FROM $3::text AND (t."token" IS NOT NULL OR t."blob" IS NOT NULL))' +
        ' ORDER BY t."id"',
    );
    expect(mid.params('kek-v2')).toEqual(['10', '20', 'kek-v2']);
    const first = s.selectRange({ lo: null, hi: '10' });
    expect(first.text).toContain('WHERE t."id" <= $1::bigint AND (t."key_id" IS DISTINCT FROM $2::text');
    const open = s.selectRange({ lo: null, hi: null });
    expect(open.params('k')).toEqual(['k']);
    expect(open.text).not.toMatch(/OFFSET/i);
  });

  it('pages a batch range after a cursor with a LIMIT, for transports with a response limit', () => {
    const s = new TableStatements(secrets, shape, 'rewrap');
    const firstPage = s.selectRangePage({ lo: '10', hi: '20' }, null, 500);
    expect(firstPage.text).toBe(
      'SELECT t."id"::text AS "__rekey_id", t."org"::text AS "__rekey_tenant", t."token", t."blob", t."key_id" FROM "app"."Secrets" AS t' +
        ' WHERE t."id" > $1::bigint AND t."id" <= $2::bigint AND (t."key_id" IS DISTINCT FROM $4::text AND (t."token" IS NOT NULL OR t."blob" IS NOT NULL))' +
        ' ORDER BY t."id" LIMIT $3::int',
    );
    expect(firstPage.params('kek-v2')).toEqual(['10', '20', 500, 'kek-v2']);
    const next = s.selectRangePage({ lo: null, hi: null }, '15', 250);
    expect(next.text).toContain('WHERE t."id" > $1::bigint AND (t."key_id" IS DISTINCT FROM $3::text');
    expect(next.text).toMatch(/ORDER BY t\."id" LIMIT \$2::int$/);
    expect(next.params('k')).toEqual(['15', 250, 'k']);
  });

  it('writes a batch in one compare-and-swap UPDATE over unnest, bytea columns as bytea[]', () => {
    const s = new TableStatements(secrets, shape, 'rewrap');
    expect(s.sets.write).toEqual(['token', 'blob', 'key_id']);
    const cas = s.casUpdate(['token', 'blob'], ['key_id']);
    expect(cas.text).toBe(
      'UPDATE "app"."Secrets" AS t SET "token" = v.n0, "blob" = v.n1' +
        ' FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::bytea[], $6::text[]) AS v(id, o0, n0, o1, n1, g0)' +
        ' WHERE t."id" = v.id::bigint AND t."token" IS NOT DISTINCT FROM v.o0 AND t."blob" IS NOT DISTINCT FROM v.o1' +
        ' AND t."key_id" IS NOT DISTINCT FROM v.g0 RETURNING t."id"::text AS id',
    );
    expect(() => s.casUpdate([], ['token'])).toThrow(/at least one column/);
  });

  it('counts and cuts batches with a window query when the table has a key id column', () => {
    const s = new TableStatements(secrets, shape, 'rewrap');
    expect(s.batchBoundaries(false).text).toBe(
      'SELECT s.id::text AS id FROM (SELECT t."id" AS id, row_number() OVER (ORDER BY t."id") AS rn FROM "app"."Secrets" AS t' +
        ' WHERE (t."key_id" IS DISTINCT FROM $1::text AND (t."token" IS NOT NULL OR t."blob" IS NOT NULL))) AS s WHERE s.rn % $2 = 0 ORDER BY s.id LIMIT $3',
    );
    // Ordered by the raw id (the window's own order), never by rn or the id's text: LIMIT must be able to stop the scan.
    expect(s.batchBoundaries(true).text).toContain(
      '(t."token" IS NOT NULL OR t."blob" IS NOT NULL)) AND t."id" > $4::bigint) AS s WHERE s.rn % $2 = 0 ORDER BY s.id LIMIT $3',
    );
    expect(s.batchBoundaries(true).text).not.toMatch(/ORDER BY (s\.)?rn/);
    expect(s.countByKeyId().text).toContain('GROUP BY 1');
    // The slice's last id is ordered as the id, not as its text ('99' sorts after '105').
    expect(s.countByKeyIdSlice(true).text).toContain('WHERE t."id" > $3::bigint ORDER BY t."id" LIMIT $2)');
    expect(s.countByKeyIdSlice(true).text).toContain(
      '(SELECT s.id FROM slice AS s ORDER BY s.id DESC LIMIT 1)::text AS last_id',
    );
  });

  it('encrypt mode reads the plaintext source and writes target, blind index and the cleared source', () => {
    const s = new TableStatements(
      users,
      { idType: 'uuid', forms: { email_enc: 'text', email_hash: 'binary', email: 'text' } },
      'encrypt',
    );
    expect(s.sets.read).toEqual(['email_enc', 'email_hash', 'email']);
    expect(s.sets.write).toEqual(['email_enc', 'email_hash', 'email']);
    expect(s.pendingCondition(1)).toBeUndefined(); // no key id column: classified in memory
    expect(s.selectPage(true).text).toBe(
      'SELECT t."uid"::text AS "__rekey_id", t."email_enc", t."email_hash", t."email" FROM "users" AS t WHERE t."uid" > $2::uuid ORDER BY t."uid" LIMIT $1',
    );
    expect(s.selectByIds().text).toContain('WHERE t."uid" = ANY($1::uuid[])');
    // rewrap mode never touches the plaintext source; the blind index it may recompute
    const r = new TableStatements(
      users,
      { idType: 'uuid', forms: { email_enc: 'text', email_hash: 'binary' } },
      'rewrap',
    );
    expect(r.sets.read).toEqual(['email_enc', 'email_hash']);
    expect(r.sets.guard).toEqual([]);
  });
});
