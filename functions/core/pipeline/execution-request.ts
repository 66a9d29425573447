import type { KeyPolicy } from '../crypto/key-policy';
import type { EngineDeps } from '../reencrypt/ports';
import { isMode, MODES, type Mode } from '../reencrypt/values/modes';
import { findTable } from '../reencrypt/config/registry';
import { describeSettingProblems, JOB_DEFAULTS, jobSettingProblems } from '../job-settings';
import { InvalidInputError } from './errors';
import { CONSOLE_SAMPLE_INPUT, EXECUTION_INPUT_FIELDS, EXECUTION_INPUT_HINT } from './execution-input-schema';

/**
 * The state machine's first step, ValidateInput: the execution input checked
 * and turned into the request every later step reads.
 */

export interface ExecutionRequest {
  readonly mode: Mode;
  readonly tables: string[] | null;
  readonly batchSize: number;
  readonly dryRun: boolean;
  readonly maxErrorRate: number;
  readonly targetKeyId: string | null;
  readonly tenant: string | null;
}

/** What a value is, for a message ("a string", "an array", "null"). */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value} (${JSON.stringify(value)?.slice(0, 40)})`;
}

/**
 * ValidateInput: every problem of the execution input at once, against
 * EXECUTION_INPUT_SCHEMA (docs/execution-input.schema.json). A wrong shape —
 * not an object, unknown fields, the console's sample input — is answered
 * with the shape expected.
 */
export function validateExecutionInput(
  input: unknown,
  defaults: { readonly batchSize?: number; readonly maxErrorRate?: number; readonly maxTables?: number },
  deps: Pick<EngineDeps, 'registry'>,
  policy?: Pick<KeyPolicy, 'statusOf' | 'encryptionKeyId'>,
): ExecutionRequest {
  const problems: string[] = [];
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new InvalidInputError([`the input is ${describe(input)}: ${EXECUTION_INPUT_HINT}`]);
  }
  const i = input as Record<string, unknown>;
  if (Object.keys(i).length === 1 && i.Comment === CONSOLE_SAMPLE_INPUT.Comment) {
    throw new InvalidInputError([
      `this is the Step Functions console's sample input ({"Comment": "Insert your JSON here"}): replace it; ${EXECUTION_INPUT_HINT}`,
    ]);
  }
  const unknown = Object.keys(i).filter((key) => !EXECUTION_INPUT_FIELDS.includes(key));
  // The expected shape once, after the last unknown field.
  unknown.forEach((key, n) =>
    problems.push(`${key}: unknown field${n === unknown.length - 1 ? `; ${EXECUTION_INPUT_HINT}` : ''}`),
  );
  const mode = i.mode ?? 'rewrap';
  if (!isMode(mode)) problems.push(`mode: must be one of ${MODES.join(', ')}, got ${JSON.stringify(i.mode)}`);
  let tables: string[] | null = null;
  if (i.tables !== undefined && i.tables !== null) {
    if (!Array.isArray(i.tables) || i.tables.some((t) => typeof t !== 'string'))
      problems.push('tables: must be a list of table names');
    else {
      tables = i.tables as string[];
      for (const t of tables)
        if (!findTable(deps.registry, t)) problems.push(`tables: ${JSON.stringify(t)} is not in the registry`);
      if (defaults.maxTables !== undefined && tables.length > defaults.maxTables)
        problems.push(`tables: at most ${defaults.maxTables}`);
    }
  }
  const batchSize = i.batchSize ?? defaults.batchSize ?? JOB_DEFAULTS.batchSize;
  problems.push(...describeSettingProblems(jobSettingProblems({ batchSize })));
  const dryRun = i.dryRun ?? false;
  if (typeof dryRun !== 'boolean') problems.push(`dryRun: must be true or false, got ${JSON.stringify(i.dryRun)}`);
  const maxErrorRate = i.maxErrorRate ?? defaults.maxErrorRate ?? JOB_DEFAULTS.maxErrorRate;
  problems.push(...describeSettingProblems(jobSettingProblems({ maxErrorRate })));
  const targetKeyId = i.targetKeyId ?? null;
  if (targetKeyId !== null && typeof targetKeyId !== 'string') problems.push('targetKeyId: must be a key id string');
  else if (typeof targetKeyId === 'string' && policy && policy.statusOf(targetKeyId) === undefined) {
    problems.push(`targetKeyId: ${JSON.stringify(targetKeyId)} is not in the key catalog`);
  }
  const tenant = i.tenant ?? null;
  if (tenant !== null && (typeof tenant !== 'string' || tenant.length === 0))
    problems.push('tenant: must be a non-empty string');
  else if (tenant !== null && policy) {
    // A tenant execution moves the tenant's rows to the tenant's own active key: without one there is nothing to do.
    const keyOf = (t: string | null): string | undefined => {
      try {
        return policy.encryptionKeyId(t);
      } catch {
        return undefined; // no active key in that scope
      }
    };
    const own = keyOf(tenant);
    if (own === undefined || own === keyOf(null)) {
      problems.push(
        `tenant: ${JSON.stringify(tenant)} has no active key of its own (add one with \`rekey keys add --tenant ${tenant}\` and activate it)`,
      );
    }
  }
  if (problems.length > 0) throw new InvalidInputError(problems);
  return {
    mode: mode as Mode,
    tables,
    batchSize: batchSize as number,
    dryRun: dryRun as boolean,
    maxErrorRate: maxErrorRate as number,
    targetKeyId: targetKeyId as string | null,
    tenant: tenant as string | null,
  };
}
