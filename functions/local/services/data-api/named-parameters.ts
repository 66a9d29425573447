import { badRequest } from './faults';

/** A parameter on the wire (blobValue arrives base64). */
export interface WireParameter {
  readonly name?: string;
  readonly typeHint?: string;
  readonly value?: {
    readonly isNull?: boolean;
    readonly booleanValue?: boolean;
    readonly longValue?: number;
    readonly doubleValue?: number;
    readonly stringValue?: string;
    readonly blobValue?: string;
    readonly arrayValue?: unknown;
  };
}

/** PostgreSQL type each typeHint sends a stringValue as. */
const HINT_TYPES: Record<string, string> = {
  TIMESTAMP: 'timestamp',
  DATE: 'date',
  TIME: 'time',
  DECIMAL: 'numeric',
  UUID: 'uuid',
  JSON: 'json',
};
/** Formats the service accepts for the date/time hints. */
const HINT_FORMATS: Record<string, RegExp> = {
  TIMESTAMP: /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,9})?$/,
  DATE: /^\d{4}-\d{2}-\d{2}$/,
  TIME: /^\d{2}:\d{2}:\d{2}(\.\d{1,9})?$/,
};

/**
 * The Data API's named parameters (`:name`) → PostgreSQL positional ones,
 * each cast to the type the service gives it: the JDBC driver behind the
 * service binds stringValue as varchar (so a string compared with a bigint or
 * uuid column fails there, and here), longValue as int8, doubleValue as
 * float8, booleanValue as bool, blobValue as bytea, a typeHint's type for a
 * hinted string, and a null untyped. `::casts`, literals, quoted identifiers,
 * dollar quotes and comments are left alone.
 */
export function toPositional(sql: string, parameters: readonly WireParameter[]): { text: string; values: unknown[] } {
  const byName = new Map<string, WireParameter>();
  for (const p of parameters) {
    if (!p.name) throw badRequest('Parameter name is required');
    if (p.value?.arrayValue !== undefined) throw badRequest('Array parameters are not supported.');
    byName.set(p.name, p);
  }
  const order: string[] = [];
  let text = '';
  let i = 0;
  while (i < sql.length) {
    const skip = skipQuotedOrComment(sql, i);
    if (skip > i) {
      text += sql.slice(i, skip);
      i = skip;
    } else if (sql[i] === ':' && sql[i + 1] === ':') {
      text += '::';
      i += 2;
    } else if (sql[i] === ':' && /[A-Za-z_]/.test(sql[i + 1] ?? '')) {
      const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(sql.slice(i + 1))![0];
      const parameter = byName.get(name);
      if (!parameter) throw badRequest(`No value specified for parameter: ${name}`);
      if (!order.includes(name)) order.push(name);
      const type = pgType(parameter);
      text += `$${order.indexOf(name) + 1}${type ? `::${type}` : ''}`;
      i += name.length + 1;
    } else {
      text += sql[i];
      i += 1;
    }
  }
  return { text, values: order.map((name) => toValue(name, byName.get(name)!)) };
}

function pgType(p: WireParameter): string | undefined {
  const v = p.value ?? {};
  if (v.stringValue !== undefined) return p.typeHint ? HINT_TYPES[p.typeHint] : 'varchar';
  if (v.longValue !== undefined) return 'int8';
  if (v.doubleValue !== undefined) return 'float8';
  if (v.booleanValue !== undefined) return 'bool';
  if (v.blobValue !== undefined) return 'bytea';
  return p.typeHint ? HINT_TYPES[p.typeHint] : undefined;
}

function toValue(name: string, p: WireParameter): unknown {
  const v = p.value ?? {};
  if (v.isNull) return null;
  if (v.blobValue !== undefined) return Buffer.from(v.blobValue, 'base64');
  if (v.longValue !== undefined) return v.longValue;
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.booleanValue !== undefined) return v.booleanValue;
  if (v.stringValue !== undefined) {
    if (p.typeHint && !(p.typeHint in HINT_TYPES)) throw badRequest(`Invalid type hint: ${p.typeHint}`);
    const format = p.typeHint ? HINT_FORMATS[p.typeHint] : undefined;
    if (format && !format.test(v.stringValue))
      throw badRequest(`Parameter ${name} does not match the ${p.typeHint} format`);
    return v.stringValue;
  }
  throw badRequest(`Parameter ${name} has no value`);
}

/** Index past a literal, quoted identifier, dollar-quoted body or comment starting at `i`; `i` when none starts there. */
function skipQuotedOrComment(sql: string, i: number): number {
  const c = sql[i];
  if (c === '-' && sql[i + 1] === '-') {
    const end = sql.indexOf('\n', i);
    return end === -1 ? sql.length : end + 1;
  }
  if (c === '/' && sql[i + 1] === '*') {
    let depth = 0;
    for (let j = i; j < sql.length - 1; j++) {
      if (sql[j] === '/' && sql[j + 1] === '*') {
        depth++;
        j++;
      } else if (sql[j] === '*' && sql[j + 1] === '/') {
        j++;
        if (--depth === 0) return j + 1;
      }
    }
    return sql.length;
  }
  if (c === "'" || c === '"') {
    const escapes = c === "'" && /(^|[^A-Za-z0-9_$])[Ee]$/.test(sql.slice(Math.max(0, i - 2), i));
    let j = i + 1;
    while (j < sql.length) {
      if (escapes && sql[j] === '\\') j += 2;
      else if (sql[j] === c && sql[j + 1] === c) j += 2;
      else if (sql[j] === c) return j + 1;
      else j += 1;
    }
    return sql.length;
  }
  if (c === '$' && !/[A-Za-z0-9_$]/.test(sql[i - 1] ?? '')) {
    const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i, i + 64));
    if (tag) {
      const end = sql.indexOf(tag[0], i + tag[0].length);
      return end === -1 ? sql.length : end + tag[0].length;
    }
  }
  return i;
}
