import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  ListExecutionsCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SqsQueues } from '../../../functions/core/adapters/aws-sqs';
import { RawKeyring } from '../../../functions/core/crypto/keyrings/raw';
import { planStep } from '../../../functions/core/pipeline/steps';
import { markJobFailed } from '../../../functions/core/reencrypt/jobs/job-phases';
import { parseRegistry } from '../../../functions/core/reencrypt/config/registry';
import { createPipelineQueues, type PipelineQueues } from '../../../functions/local/pipeline';
import { createEngineRuntime, type EngineRuntime } from '../../../functions/runtime/engine-runtime';
import { awsClientConfig, motoEndpoint } from '../../support/aws';
import { migratedDatabase, type TestDatabase } from '../../support/database';
import { executionRequest } from '../../support/execution-input';
import { runCli, type CliRun } from '../../support/cli';

/**
 * `rekey redrive` with the real SQS and Step Functions clients against moto
 * (the CLI builds them from AWS_ENDPOINT_URL as an operator's would): only the
 * job's own messages move, the job is reopened for the execution it starts,
 * and a job whose execution still runs is not given a second one. The whole
 * path through the state machine is test/integration/pipeline/stuck-redrive.test.ts.
 */
describe('rekey redrive (moto SQS + Step Functions)', () => {
  let db: TestDatabase;
  let runtime: EngineRuntime;
  let urls: PipelineQueues;
  let dir: string;
  let jobId: string;
  let stateMachineArn: string;
  const config = awsClientConfig();
  const sqs = new SQSClient(config);
  const sfn = new SFNClient(config);
  const queues = new SqsQueues(sqs);
  const saved = { ...process.env };
  const other = randomUUID();

  beforeEach(async () => {
    db = await migratedDatabase();
    await db.sql.query('CREATE TABLE s (id bigint PRIMARY KEY, v text)');
    for (let i = 1; i <= 30; i++) await db.sql.query('INSERT INTO s VALUES ($1, NULL)', [i]);
    runtime = await createEngineRuntime({
      sql: db.sql,
      keyring: new RawKeyring([{ id: 'kek-v1', key: randomBytes(32) }]),
      registry: parseRegistry({ tables: [{ name: 's', idColumn: 'id', columns: ['v'] }] }),
      actor: 'test',
    });
    const request = executionRequest({ mode: 'encrypt', maxErrorRate: 0.05 });
    ({ jobId } = await planStep(runtime.deps, 'arn:exec:first', request, () => runtime.primaryKeyId()));
    await markJobFailed(runtime.deps, jobId, 'job is stuck (test)');
    urls = await createPipelineQueues(sqs);
    await queues.send(urls.deadLetterQueueUrl, [
      JSON.stringify({ jobId, batchId: 's#0' }),
      JSON.stringify({ jobId, batchId: 's#2' }),
      JSON.stringify({ jobId: other, batchId: 's#0' }),
      'not a batch message',
    ]);
    stateMachineArn = (
      await sfn.send(
        new CreateStateMachineCommand({
          name: `rekey-${randomUUID().slice(0, 8)}`,
          definition: JSON.stringify({ StartAt: 'Done', States: { Done: { Type: 'Succeed' } } }),
          roleArn: 'arn:aws:iam::123456789012:role/rekey-states',
        }),
      )
    ).stateMachineArn!;
    dir = mkdtempSync(join(tmpdir(), 'rekey-redrive-'));
    writeFileSync(
      join(dir, 'cdk-outputs.json'),
      JSON.stringify({
        Rekey: {
          StateMachineArn: stateMachineArn,
          BatchQueueUrl: urls.queueUrl,
          DeadLetterQueueUrl: urls.deadLetterQueueUrl,
        },
      }),
    );
    process.env.AWS_ENDPOINT_URL = motoEndpoint();
  });

  afterEach(async () => {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
    rmSync(dir, { recursive: true, force: true });
    await db.drop();
  });

  const rekey = (...args: string[]): Promise<CliRun> =>
    runCli(args, { env: { PATH: process.env.PATH, DATABASE_URL: db.url }, cwd: dir });
  const bodies = async (url: string): Promise<string[]> => {
    const got = await queues.receive(url, 10, 30);
    await queues.release(url, got);
    return got.map((m) => m.body).sort();
  };

  it("moves only the job's messages, reopens the job for the execution it starts, and starts no second one while it runs", async () => {
    const r = await rekey('redrive', jobId, '--outputs', 'cdk-outputs.json', '--json');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out) as {
      movedFromDeadLetterQueue: number;
      batchIds: string[];
      leftInDeadLetterQueue: number;
      execution: { arn: string; name: string; started: boolean };
    };
    expect(report).toMatchObject({
      movedFromDeadLetterQueue: 2,
      batchIds: ['s#0', 's#2'],
      leftInDeadLetterQueue: 2,
      execution: { started: true },
    });
    expect(report.execution.name).toMatch(new RegExp(`^redrive-${jobId}-\\d{14}$`));

    expect(await bodies(urls.queueUrl)).toEqual([
      JSON.stringify({ jobId, batchId: 's#0' }),
      JSON.stringify({ jobId, batchId: 's#2' }),
    ]);
    expect(await bodies(urls.deadLetterQueueUrl)).toEqual([
      'not a batch message',
      JSON.stringify({ jobId: other, batchId: 's#0' }),
    ]);

    const execution = await sfn.send(new DescribeExecutionCommand({ executionArn: report.execution.arn }));
    expect(execution.name).toBe(report.execution.name);
    expect(JSON.parse(execution.input!)).toEqual({
      mode: 'encrypt',
      tables: ['s'],
      batchSize: 10,
      maxErrorRate: 0.05,
      targetKeyId: 'kek-v1',
    });
    const { rows } = await db.sql.query<{ status: string; execution_id: string; error: string | null }>(
      'SELECT status, execution_id, error FROM rekey_jobs WHERE id = $1',
      [jobId],
    );
    expect(rows[0]).toEqual({ status: 'running', execution_id: report.execution.arn, error: null });
    const audit = await db.sql.query<{ action: string }>(
      "SELECT action FROM rekey_audit_log WHERE subject = $1 AND action = 'job.redriven'",
      [`job:${jobId}`],
    );
    expect(audit.rows).toHaveLength(1);

    // Again while that execution runs (moto keeps it RUNNING): the messages move, no second execution.
    await queues.send(urls.deadLetterQueueUrl, [JSON.stringify({ jobId, batchId: 's#1' })]);
    const again = await rekey('redrive', jobId, '--outputs', 'cdk-outputs.json');
    expect(again.code).toBe(0);
    expect(again.out).toContain(`1 message(s) moved from the dead-letter queue back to the batch queue (s#1)`);
    expect(again.out).toContain(`Its execution ${report.execution.arn} is still running and will pick them up.`);
    expect((await sfn.send(new ListExecutionsCommand({ stateMachineArn }))).executions).toHaveLength(1);
  });

  it('refuses a job that finished, and a command line without the queues', async () => {
    await db.sql.query("UPDATE rekey_jobs SET status = 'running' WHERE id = $1", [jobId]);
    await db.sql.query("UPDATE rekey_jobs SET status = 'aborted' WHERE id = $1", [jobId]);
    const done = await rekey('redrive', jobId, '--outputs', 'cdk-outputs.json');
    expect(done.code).toBe(1);
    expect(done.err).toContain(
      `job ${jobId}: cannot go from aborted to running (only a failed or running job can be redriven)`,
    );
    expect(await bodies(urls.deadLetterQueueUrl)).toHaveLength(4); // nothing moved

    const usage = await rekey('redrive', jobId, '--queue-url', urls.queueUrl);
    expect(usage.code).toBe(2);
    expect(usage.err).toContain(
      'redrive needs --dead-letter-queue-url (DeadLetterQueueUrl), --state-machine-arn (StateMachineArn)',
    );
  });
});
