/**
 * Rewrites PostgreSQL positional parameters ($1, $2, …) into the Data API's
 * named ones (:p1, :p2, …), leaving `$n` inside string literals, quoted
 * identifiers, dollar-quoted bodies and comments alone. `render` decides what
 * replaces each parameter (arrays become SQL expressions: the Data API has no
 * array parameters).
 */
export function rewritePositional(sql: string, render: (index: number) => string): string {
  let out = '';
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (c === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      const stop = end === -1 ? n : end + 1;
      out += sql.slice(i, stop);
      i = stop;
    } else if (c === '/' && next === '*') {
      const end = sql.indexOf('*/', i + 2);
      const stop = end === -1 ? n : end + 2;
      out += sql.slice(i, stop);
      i = stop;
    } else if (c === "'" || c === '"') {
      let j = i + 1;
      while (j < n) {
        if (sql[j] === c) {
          if (sql[j + 1] === c) {
            j += 2;
            continue;
          }
          j += 1;
          break;
        }
        j += 1;
      }
      out += sql.slice(i, j);
      i = j;
    } else if (c === '$') {
      const param = /^\$(\d+)/.exec(sql.slice(i, i + 12));
      const tag = param ? undefined : /^\$[A-Za-z_]?[A-Za-z0-9_]*\$/.exec(sql.slice(i));
      if (param) {
        out += render(Number(param[1]));
        i += param[0].length;
      } else if (tag) {
        const end = sql.indexOf(tag[0], i + tag[0].length);
        const stop = end === -1 ? n : end + tag[0].length;
        out += sql.slice(i, stop);
        i = stop;
      } else {
        out += c;
        i += 1;
      }
    } else {
      out += c;
      i += 1;
    }
  }
  return out;
}
