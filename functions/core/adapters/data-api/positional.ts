/**
 * Rewrites PostgreSQL positional parameters ($1, $2, …) into the Data API's
 * named ones. Only real parameters are touched: `$n` inside string literals
 * ('…', E'…' with backslash escapes), quoted identifiers, dollar-quoted bodies,
 * line and (nested) block comments stays as written, and so does a `$` that is
 * part of an identifier (`price$1` is a column name in PostgreSQL). `render`
 * decides what replaces each parameter: `:pN`, or an SQL expression for
 * values the Data API cannot carry as they are (arrays).
 */
export function rewritePositional(sql: string, render: (index: number) => string): string {
  let out = '';
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i]!;
    const next = sql[i + 1];
    let stop: number;
    if (c === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      stop = end === -1 ? n : end + 1;
    } else if (c === '/' && next === '*') {
      stop = blockCommentEnd(sql, i);
    } else if (c === "'") {
      stop = quotedEnd(sql, i, "'", isEscapeStringPrefix(sql, i));
    } else if (c === '"') {
      stop = quotedEnd(sql, i, '"', false);
    } else if (c === '$' && !isIdentifierChar(sql[i - 1])) {
      const param = /^\$(\d+)/.exec(sql.slice(i, i + 12));
      if (param) {
        out += render(Number(param[1]));
        i += param[0].length;
        continue;
      }
      const tag = /^\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/.exec(sql.slice(i, i + 64));
      if (tag) {
        const end = sql.indexOf(tag[0], i + tag[0].length);
        stop = end === -1 ? n : end + tag[0].length;
      } else {
        stop = i + 1;
      }
    } else {
      // Copy a run of ordinary characters at once.
      stop = i + 1;
      while (stop < n && !'-/\'"$'.includes(sql[stop]!)) stop += 1;
    }
    out += sql.slice(i, stop);
    i = stop;
  }
  return out;
}

function isIdentifierChar(c: string | undefined): boolean {
  return c !== undefined && /[A-Za-z0-9_$\u0080-\uffff]/.test(c);
}

/** `E'…'` (or `e'…'`) starts a string in which a backslash escapes the next character. */
function isEscapeStringPrefix(sql: string, quote: number): boolean {
  const prefix = sql[quote - 1];
  return (prefix === 'E' || prefix === 'e') && !isIdentifierChar(sql[quote - 2]);
}

/** Index just past the closing quote; a doubled quote is a quote inside. Unterminated: the end of the text. */
function quotedEnd(sql: string, start: number, quote: string, backslashEscapes: boolean): number {
  let j = start + 1;
  while (j < sql.length) {
    const c = sql[j]!;
    if (backslashEscapes && c === '\\') {
      j += 2;
    } else if (c === quote) {
      if (sql[j + 1] !== quote) return j + 1;
      j += 2;
    } else {
      j += 1;
    }
  }
  return sql.length;
}

/** Block comments nest in PostgreSQL. */
function blockCommentEnd(sql: string, start: number): number {
  let depth = 0;
  let j = start;
  while (j < sql.length) {
    if (sql[j] === '/' && sql[j + 1] === '*') {
      depth += 1;
      j += 2;
    } else if (sql[j] === '*' && sql[j + 1] === '/') {
      depth -= 1;
      j += 2;
      if (depth === 0) return j;
    } else {
      j += 1;
    }
  }
  return sql.length;
}
