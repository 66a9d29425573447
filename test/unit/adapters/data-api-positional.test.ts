import { rewritePositional } from '../../../functions/core/adapters/data-api/positional';

/** The `$n` tokenizer: only real parameters become named ones. */
const named = (sql: string) => rewritePositional(sql, (i) => `:p${i}`);

it('rewrites parameters, multi-digit ones whole', () => {
  expect(named('SELECT $1, $2 FROM t WHERE x = $10 AND y IN ($3,$11)')).toBe(
    'SELECT :p1, :p2 FROM t WHERE x = :p10 AND y IN (:p3,:p11)',
  );
  expect(named('UPDATE t SET v = $2 WHERE id = $1::bigint')).toBe('UPDATE t SET v = :p2 WHERE id = :p1::bigint');
});

it.each([
  ["'$1'", 'a string literal'],
  ["'it''s $1'", 'a literal with a doubled quote'],
  ["E'\\'$1'", 'an escape string with a backslash-escaped quote'],
  ['"col$1"', 'a quoted identifier'],
  ['"a""$1"', 'a quoted identifier with a doubled quote'],
  ['$$ $1 $$', 'a dollar-quoted body'],
  ['$fn$ SELECT $1; $$ $2 $$ $fn$', 'a tagged dollar quote containing $$'],
  ['-- $1\n', 'a line comment'],
  ['/* $1 /* $2 */ $3 */', 'nested block comments'],
  ['price$1', 'an identifier containing $'],
])('leaves %s alone (%s)', (fragment) => {
  expect(named(`SELECT ${fragment}, $1`)).toBe(`SELECT ${fragment}, :p1`);
});

it('treats a backslash in a standard string as an ordinary character', () => {
  expect(named("SELECT 'a\\', $1")).toBe("SELECT 'a\\', :p1");
});

it('resumes after a line comment on the next line', () => {
  expect(named('SELECT 1 -- $1\n, $2')).toBe('SELECT 1 -- $1\n, :p2');
});

it('copies unterminated quotes and comments to the end without rewriting inside', () => {
  expect(named("SELECT $1, 'open $2")).toBe("SELECT :p1, 'open $2");
  expect(named('SELECT $1 /* open $2')).toBe('SELECT :p1 /* open $2');
});

it('passes each index to the renderer, so arrays can become expressions', () => {
  const seen: number[] = [];
  expect(rewritePositional('f($2, $1, $2)', (i) => (seen.push(i), `x${i}`))).toBe('f(x2, x1, x2)');
  expect(seen).toEqual([2, 1, 2]);
});
