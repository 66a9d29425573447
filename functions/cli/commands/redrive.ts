import {
  executionArnOf,
  moveJobMessages,
  redriveExecutionName,
  reopenJob,
  resumeInput,
} from '../../core/pipeline/redrive';
import type { ExecutionControl } from '../../core/ports/executions';
import type { QueuePort } from '../../core/ports/queues';
import type { Sql } from '../../core/ports/sql';
import { batchIdOf } from '../../core/reencrypt/store/batch-ids';
import { getJob } from '../../core/reencrypt/store/jobs-table';
import { listBatches } from '../../core/reencrypt/store/batches-table';
import { cliAws } from '../../runtime/cli-container';
import { KeylessKeyring } from '../../runtime/keyless-keyring';
import { EXIT, UsageError, type CliIo, type GlobalOptions } from '../io';
import { actorOf, openSession, printJson } from '../session';
import { OUTPUT, readStackOutputs } from '../stack-outputs';

export interface RedriveOptions {
  readonly outputs?: string;
  readonly stack?: string;
  readonly queueUrl?: string;
  readonly deadLetterQueueUrl?: string;
  readonly stateMachineArn?: string;
  /** false with --no-start: print the execution to start instead of starting it. */
  readonly start?: boolean;
}

/** Test seam: the AWS clients (default: from the environment). */
export interface RedriveClients {
  readonly queues?: QueuePort;
  readonly executions?: (stateMachineArn: string) => ExecutionControl;
}

/**
 * `rekey redrive JOB`: sends a stuck job's batches from the dead-letter
 * queue back to the batch queue and resumes the job with a new execution
 * (core/pipeline/redrive.ts). A job whose own execution still runs only gets
 * its messages back: that execution picks them up.
 */
export async function redriveCommand(
  globals: GlobalOptions,
  jobId: string,
  opts: RedriveOptions,
  io: CliIo,
  clients: RedriveClients = {},
): Promise<number> {
  const { queueUrl, deadLetterQueueUrl, stateMachineArn } = redriveTargets(opts, io);
  const queues = clients.queues ?? cliAws().queues();
  const executions = (clients.executions ?? ((arn: string) => cliAws().executions(arn)))(stateMachineArn!);
  const start = opts.start !== false;

  const runtime = await openSession({ ...globals, quiet: true }, io, {
    needsRegistry: false,
    syncCatalog: false,
    keyring: new KeylessKeyring('rekey redrive'),
  });
  try {
    const before = await getJob(runtime.sql, jobId);
    // A running job whose execution is alive keeps it; otherwise a new execution takes the job over.
    const live =
      before.status === 'running' && before.executionId && start
        ? (await executions.status(before.executionId)) === 'RUNNING'
        : false;
    const name = live ? null : redriveExecutionName(jobId);
    const executionArn = name ? executionArnOf(stateMachineArn!, name) : null;
    const job = await reopenJob(
      { sql: runtime.sql, audit: runtime.deps.audit, actor: actorOf(globals, io) },
      jobId,
      executionArn,
    );
    const moved = await moveJobMessages(
      queues,
      { queueUrl: queueUrl!, deadLetterQueueUrl: deadLetterQueueUrl! },
      jobId,
    );
    // Batches that ran out of attempts had their messages acknowledged: send them again, they have their attempts back.
    const failed = await resendFailedBatches(runtime.sql, queues, queueUrl!, jobId);
    const input = resumeInput(job);
    const started = name && start ? await executions.start(name, input) : null;
    const report = {
      jobId,
      status: job.status,
      movedFromDeadLetterQueue: moved.moved,
      batchIds: moved.batchIds,
      failedBatchesResent: failed,
      leftInDeadLetterQueue: moved.left,
      execution: live
        ? { arn: before.executionId, started: false, reason: 'still running' }
        : { name, arn: started?.executionArn ?? executionArn, started: Boolean(started), input },
    };
    if (globals.json) printJson(io, report);
    else
      printRedrive(io, {
        jobId,
        moved,
        failed,
        live,
        liveExecutionId: before.executionId,
        started,
        name,
        stateMachineArn: stateMachineArn!,
        input,
      });
    return EXIT.ok;
  } finally {
    await runtime.close();
  }
}

/** The batch queue, dead-letter queue and state machine: from the flags, else the stack outputs file; all three needed. */
function redriveTargets(
  opts: RedriveOptions,
  io: CliIo,
): { queueUrl: string | undefined; deadLetterQueueUrl: string | undefined; stateMachineArn: string | undefined } {
  const fromFile = opts.outputs ? readStackOutputs(opts.outputs, opts.stack, io.cwd).outputs : {};
  const queueUrl = opts.queueUrl ?? fromFile[OUTPUT.batchQueueUrl];
  const deadLetterQueueUrl = opts.deadLetterQueueUrl ?? fromFile[OUTPUT.deadLetterQueueUrl];
  const stateMachineArn = opts.stateMachineArn ?? fromFile[OUTPUT.stateMachineArn];
  const missing = [
    ...(queueUrl ? [] : ['--queue-url (BatchQueueUrl)']),
    ...(deadLetterQueueUrl ? [] : ['--dead-letter-queue-url (DeadLetterQueueUrl)']),
    ...(stateMachineArn ? [] : ['--state-machine-arn (StateMachineArn)']),
  ];
  if (missing.length > 0)
    throw new UsageError(`redrive needs ${missing.join(', ')}: pass them, or --outputs cdk-outputs.json`);
  return { queueUrl, deadLetterQueueUrl, stateMachineArn };
}

/** The ids of the job's failed batches, each sent to the batch queue again (ten per SQS request). */
async function resendFailedBatches(sql: Sql, queues: QueuePort, queueUrl: string, jobId: string): Promise<string[]> {
  const failed = (await listBatches(sql, jobId)).filter((b) => b.status === 'failed').map((b) => batchIdOf(b));
  for (let i = 0; i < failed.length; i += 10)
    await queues.send(
      queueUrl,
      failed.slice(i, i + 10).map((batchId) => JSON.stringify({ jobId, batchId })),
    );
  return failed;
}

/** The redrive in words: what moved, what was resent, and how the job goes on. */
function printRedrive(
  io: CliIo,
  r: {
    jobId: string;
    moved: Awaited<ReturnType<typeof moveJobMessages>>;
    failed: readonly string[];
    live: boolean;
    liveExecutionId: string | null | undefined;
    started: Awaited<ReturnType<ExecutionControl['start']>> | null;
    name: string | null;
    stateMachineArn: string;
    input: unknown;
  },
): void {
  const { jobId, moved, failed, live, started, name, stateMachineArn, input } = r;
  io.stdout(
    `Job ${jobId}: ${moved.moved} message(s) moved from the dead-letter queue back to the batch queue${moved.batchIds.length ? ` (${moved.batchIds.join(', ')})` : ''}.\n`,
  );
  if (failed.length) io.stdout(`  ${failed.length} failed batch(es) given their attempts back and sent again.\n`);
  if (moved.left) io.stdout(`  ${moved.left} message(s) of other jobs left in the dead-letter queue.\n`);
  if (live) io.stdout(`  Its execution ${r.liveExecutionId} is still running and will pick them up.\n`);
  else if (started)
    io.stdout(`  Resumed by execution ${started.executionArn}. Follow it with: rekey status ${jobId}\n`);
  else {
    io.stdout(`  Job reopened for execution ${name}; start it with:\n`);
    io.stdout(
      `  aws stepfunctions start-execution --state-machine-arn ${stateMachineArn} --name ${name} --input '${JSON.stringify(input)}'\n`,
    );
  }
}
