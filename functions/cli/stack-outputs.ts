import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError } from './io';

/**
 * The stack outputs `cdk deploy --outputs-file FILE` writes:
 * `{"<stack name>": {"StateMachineArn": "...", "BatchQueueUrl": "...", ...}}`
 * (lib/rekey-stack.ts names them). One stack in the file is taken as is;
 * several need `--stack`. A missing or unreadable file, or a missing stack,
 * is a command-line problem (exit 2) naming the file and what it holds.
 */
export type StackOutputs = Readonly<Record<string, string>>;

export function readStackOutputs(
  file: string,
  stack: string | undefined,
  cwd: string,
): { readonly stack: string; readonly outputs: StackOutputs } {
  const path = resolve(cwd, file);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8')) as unknown;
  } catch (err) {
    const why =
      (err as { code?: string }).code === 'ENOENT'
        ? 'no such file'
        : err instanceof SyntaxError
          ? 'not JSON'
          : String((err as Error).message);
    throw new UsageError(`--outputs ${file}: ${why} (write it with: cdk deploy --outputs-file ${file})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new UsageError(`--outputs ${file}: expected {"<stack>": {"<output>": "<value>"}}`);
  const stacks = Object.keys(parsed);
  const name = stack ?? (stacks.length === 1 ? stacks[0] : undefined);
  if (name === undefined) {
    throw new UsageError(
      `--outputs ${file} holds ${stacks.length === 0 ? 'no stack' : `stacks ${stacks.join(', ')}`}: pass --stack NAME`,
    );
  }
  const outputs = (parsed as Record<string, unknown>)[name];
  if (typeof outputs !== 'object' || outputs === null)
    throw new UsageError(`--outputs ${file} has no stack ${name} (it holds: ${stacks.join(', ') || 'nothing'})`);
  const strings: Record<string, string> = {};
  for (const [k, v] of Object.entries(outputs)) if (typeof v === 'string') strings[k] = v;
  return { stack: name, outputs: strings };
}

/** The output names rekey's stack exports (lib/rekey-stack.ts). */
export const OUTPUT = {
  stateMachineArn: 'StateMachineArn',
  batchQueueUrl: 'BatchQueueUrl',
  deadLetterQueueUrl: 'DeadLetterQueueUrl',
  alarmTopicArn: 'AlarmTopicArn',
  kmsKeyArn: 'KmsKeyArn',
  databaseClusterArn: 'DatabaseClusterArn',
  databaseSecretArn: 'DatabaseSecretArn',
  keysetSecretArn: 'KeysetSecretArn',
  databaseName: 'DatabaseName',
  scheduleGroupName: 'ScheduleGroupName',
} as const;
