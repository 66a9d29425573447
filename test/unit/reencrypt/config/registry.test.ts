import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RegistryError } from '../../../../functions/core/reencrypt/errors';
import {
  findTable,
  loadRegistry,
  parseRegistry,
  selectTables,
  tableKey,
} from '../../../../functions/core/reencrypt/config/registry';

function problemsOf(value: unknown): { path: string; message: string }[] {
  try {
    parseRegistry(value);
  } catch (err) {
    expect(err).toBeInstanceOf(RegistryError);
    return [...(err as RegistryError).problems];
  }
  throw new Error('expected a RegistryError');
}

describe('registry validation', () => {
  it('accepts a full table and normalises encrypt targets and their blind indexes', () => {
    const registry = parseRegistry({
      tables: [
        {
          name: 'users',
          schema: 'app',
          idColumn: 'id',
          columns: ['ssn'],
          keyIdColumn: 'key_id',
          tenantColumn: 'org_id',
          blindIndex: { ssn: 'ssn_hash' },
          encrypt: { email: { target: 'email_encrypted', blindIndex: 'email_hash', clearSource: true } },
        },
        { name: 'llm_providers', idColumn: 'id', columns: ['api_key_encrypted'] },
      ],
    });
    const users = registry.tables[0]!;
    expect(users.columns).toEqual(['ssn', 'email_encrypted']);
    expect(users.blindIndex).toEqual({ ssn: 'ssn_hash', email_encrypted: 'email_hash' });
    expect(users.encrypt).toEqual([
      { source: 'email', target: 'email_encrypted', blindIndex: 'email_hash', clearSource: true },
    ]);
    expect(tableKey(users)).toBe('app.users');
    expect(registry.tables[1]).toEqual({
      name: 'llm_providers',
      idColumn: 'id',
      columns: ['api_key_encrypted'],
      blindIndex: {},
      encrypt: [],
    });
  });

  it('lists every problem at once, each with its path', () => {
    const problems = problemsOf({
      tabels: [],
      tables: [
        { name: 'ok', idColumn: 'id', columns: ['a'] },
        { name: 'users', columns: ['ssn', 'ssn'], colour: 'blue' },
        { name: 'bad name', idColumn: '1id', columns: 'ssn' },
        { name: 'ok', idColumn: 'id', columns: ['a'], blindIndex: { b: 'b_hash' }, keyIdColumn: 'a' },
        'not an object',
        {
          name: 'x',
          idColumn: 'id',
          columns: [],
          encrypt: { email: { target: 'email_enc', clearSource: 'yes', extra: 1 } },
        },
        { name: 'y', idColumn: 'id', columns: ['"; DROP TABLE users; --'] },
      ],
    });
    const paths = problems.map((p) => p.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'tabels',
        'tables[1].idColumn',
        'tables[1].columns[1]',
        'tables[1].colour',
        'tables[2].name',
        'tables[2].idColumn',
        'tables[2].columns',
        'tables[3].blindIndex.b',
        'tables[3].keyIdColumn',
        'tables[4]',
        'tables[5].encrypt.email.clearSource',
        'tables[5].encrypt.email.extra',
        'tables[6].columns[0]',
      ]),
    );
    const byPath = new Map(problems.map((p) => [p.path, p.message]));
    expect(byPath.get('tables[1].idColumn')).toBe('required');
    expect(byPath.get('tables[1].columns[1]')).toMatch(/duplicate column "ssn"/);
    expect(byPath.get('tables[1].colour')).toMatch(/unknown key/);
    expect(byPath.get('tables[2].name')).toMatch(/not a plain SQL identifier/);
    expect(byPath.get('tables[3].keyIdColumn')).toMatch(/already used as an encrypted column/);
    expect(byPath.get('tables[6].columns[0]')).toMatch(/not a plain SQL identifier/);
  });

  it('reports duplicate tables, the missing tables array and reserved names', () => {
    expect(problemsOf({})).toEqual([{ path: 'tables', message: 'required' }]);
    expect(problemsOf([])[0]!.path).toBe('(root)');
    const dup = problemsOf({
      tables: [
        { name: 't', idColumn: 'id', columns: ['a'] },
        { name: 't', idColumn: 'id', columns: ['b'] },
      ],
    });
    expect(dup).toEqual([{ path: 'tables[1].name', message: 'duplicate table "t" (also tables[0])' }]);
    const reserved = problemsOf({ tables: [{ name: 't', idColumn: 'id', columns: ['__rekey_id'] }] });
    expect(reserved[0]).toEqual({ path: 'tables[0].columns[0]', message: expect.stringMatching(/reserved/) });
    const long = problemsOf({ tables: [{ name: 'a'.repeat(64), idColumn: 'id', columns: ['a'] }] });
    expect(long[0]!.message).toMatch(/at most 63 bytes/);
  });

  it('catches a column used in two roles and a blind index column shared by two columns', () => {
    const problems = problemsOf({
      tables: [
        {
          name: 't',
          idColumn: 'id',
          columns: ['a', 'b'],
          blindIndex: { a: 'h', b: 'h' },
          encrypt: { id: { target: 'c' }, src: { target: 'a' } },
        },
      ],
    });
    const messages = problems.map((p) => `${p.path}: ${p.message}`);
    expect(messages).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/blindIndex\.b: blind index column "h" is already the index of "a"/),
        expect.stringMatching(/encrypt\.id: column "id" is already used as the id column/),
      ]),
    );
  });

  it('loads a file, and names the file when it is missing or not JSON', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rekey-registry-'));
    const good = join(dir, 'rekey.config.json');
    writeFileSync(
      good,
      JSON.stringify({ tables: [{ name: 'llm_providers', idColumn: 'id', columns: ['api_key_encrypted'] }] }),
    );
    expect(loadRegistry(good).tables[0]!.name).toBe('llm_providers');
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{ "tables": [ }');
    expect(() => loadRegistry(bad)).toThrow(/not valid JSON/);
    expect(() => loadRegistry(join(dir, 'missing.json'))).toThrow(/file not found/);
    rmSync(dir, { recursive: true, force: true });
  });

  it('selects tables by name or schema.name and rejects unknown names', () => {
    const registry = parseRegistry({
      tables: [
        { name: 'a', idColumn: 'id', columns: ['x'] },
        { name: 'b', schema: 's', idColumn: 'id', columns: ['x'] },
      ],
    });
    expect(selectTables(registry).map(tableKey)).toEqual(['a', 's.b']);
    expect(selectTables(registry, ['s.b']).map(tableKey)).toEqual(['s.b']);
    expect(selectTables(registry, ['b']).map(tableKey)).toEqual(['s.b']);
    expect(() => selectTables(registry, ['nope', 'a', 'also'])).toThrow(
      /tables\[0\]: unknown table "nope"[\s\S]*tables\[2\]: unknown table "also"/,
    );
    expect(findTable(registry, 's.b')?.name).toBe('b');
  });
});
