/**
 * Reads resource policies of a synthesized template the way AWS evaluates
 * them for one request: an explicit Deny wins, else an Allow must match
 * principal, action, resource and every condition. Enough of IAM for the
 * statements rekey writes (StringEquals, StringLike, ArnEquals, ArnLike, Bool; `*` and `?` globs);
 * an operator it does not know fails the walk rather than guessing.
 */

export type Json = Record<string, unknown>;

export interface Pseudo {
  readonly account: string;
  readonly region: string;
}

/** A template value made concrete: pseudo parameters, `ref:<id>` for a resource Ref, `arn-of:<id>` for GetAtt Arn. */
export function resolveValue(value: unknown, pseudo: Pseudo): unknown {
  if (Array.isArray(value)) return value.map((v) => resolveValue(v, pseudo));
  if (typeof value !== 'object' || value === null) return value;
  const obj = value as Json;
  if (typeof obj.Ref === 'string') {
    const known: Record<string, string> = {
      'AWS::AccountId': pseudo.account,
      'AWS::Region': pseudo.region,
      'AWS::Partition': 'aws',
      'AWS::URLSuffix': 'amazonaws.com',
    };
    return known[obj.Ref] ?? `ref:${obj.Ref}`;
  }
  if (Array.isArray(obj['Fn::GetAtt'])) {
    const [id, attribute] = obj['Fn::GetAtt'] as [string, string];
    return attribute === 'Arn' ? `arn-of:${id}` : `getatt:${id}.${attribute}`;
  }
  if (Array.isArray(obj['Fn::Join'])) {
    const [delimiter, parts] = obj['Fn::Join'] as [string, unknown[]];
    return parts.map((p) => String(resolveValue(p, pseudo))).join(delimiter);
  }
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, resolveValue(v, pseudo)]));
}

export interface PolicyRequest {
  readonly service: string;
  readonly action: string;
  readonly resource: string;
  readonly context: Readonly<Record<string, string>>;
}

interface Statement {
  Effect: 'Allow' | 'Deny';
  Principal?: unknown;
  Action?: string | string[];
  Resource?: string | string[];
  Condition?: Record<string, Record<string, unknown>>;
}

const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

function glob(pattern: string, value: string, caseInsensitive = false): boolean {
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
    caseInsensitive ? 'i' : '',
  );
  return re.test(value);
}

function principalMatches(principal: unknown, service: string): boolean {
  if (principal === '*') return true;
  if (typeof principal !== 'object' || principal === null) return false;
  const p = principal as Record<string, unknown>;
  return list(p.Service as string | string[]).includes(service) || list(p.AWS as string | string[]).includes('*');
}

const OPERATORS: Record<string, (expected: string, actual: string) => boolean> = {
  StringEquals: (e, a) => e === a,
  StringLike: (e, a) => glob(e, a),
  ArnEquals: (e, a) => e === a,
  ArnLike: (e, a) => glob(e, a),
  Bool: (e, a) => e.toLowerCase() === a.toLowerCase(),
};

function conditionsHold(condition: Statement['Condition'], context: PolicyRequest['context']): boolean {
  for (const [operator, entries] of Object.entries(condition ?? {})) {
    const test = OPERATORS[operator];
    if (!test)
      throw new Error(`policy-walk: condition operator ${operator} is not modelled; add it before trusting this walk`);
    for (const [key, expected] of Object.entries(entries)) {
      const actual = context[key];
      if (actual === undefined) return false;
      if (!list(expected as string | string[]).some((e) => test(String(e), actual))) return false;
    }
  }
  return true;
}

function statementMatches(s: Statement, request: PolicyRequest): boolean {
  return (
    principalMatches(s.Principal, request.service) &&
    list(s.Action).some((a) => glob(a, request.action, true)) &&
    list(s.Resource).some((r) => glob(String(r), request.resource)) &&
    conditionsHold(s.Condition, request.context)
  );
}

/** Why `request` is refused by `policy`, or undefined when it is allowed. */
export function refusal(policy: { Statement?: Statement[] } | undefined, request: PolicyRequest): string | undefined {
  const statements = policy?.Statement ?? [];
  const deny = statements.find((s) => s.Effect === 'Deny' && statementMatches(s, request));
  if (deny) return `explicitly denied by ${JSON.stringify(deny)}`;
  if (!statements.some((s) => s.Effect === 'Allow' && statementMatches(s, request))) return 'no statement allows it';
  return undefined;
}
