import { MIGRATIONS } from '../../../functions/core/schema/migrations';
import { splitStatements } from '../../../functions/core/schema/split-statements';

describe('splitStatements', () => {
  it('splits at top-level semicolons only', () => {
    const script = `
      CREATE TABLE a (x text DEFAULT ';');  -- a comment; with a semicolon
      /* block; comment */ CREATE TABLE "b;c" (y int);
      CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $fn$ BEGIN RAISE NOTICE 'a;b'; RETURN NEW; END $fn$;
      SELECT 'it''s; fine';
    `;
    const parts = splitStatements(script);
    expect(parts).toHaveLength(4);
    expect(parts[0]).toContain("DEFAULT ';'");
    expect(parts[1]).toContain('"b;c"');
    expect(parts[2]).toContain("RAISE NOTICE 'a;b'; RETURN NEW; END $fn$");
    expect(parts[3]).toBe("SELECT 'it''s; fine'");
  });

  it('drops empty and comment-only pieces', () => {
    expect(splitStatements(' ; -- nothing\n ; /* x */ ')).toEqual([]);
  });

  it('splits every shipped migration into non-empty statements', () => {
    for (const m of MIGRATIONS) {
      const parts = typeof m.up === 'string' ? splitStatements(m.up) : m.up;
      expect(parts.length).toBeGreaterThan(0);
      for (const p of parts) expect(p.trim().length).toBeGreaterThan(0);
    }
  });

  it('ships versions 1..n with no gaps', () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
  });
});
