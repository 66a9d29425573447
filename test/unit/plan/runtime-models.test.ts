import { buildPlan, type PlanSettings, type TableCounts } from '../../../functions/core/plan/estimate';
import { runnerOf } from '../../../functions/core/plan/history';
import { LOCAL_RUNTIME_COSTS, localRuntimeTime } from '../../../functions/core/plan/local-runtime';
import { LOCAL_RUNTIME_SHAPE } from '../../../functions/core/plan/pipeline-shape';
import { mixedRate, TASK_SECONDS } from '../../../functions/core/plan/runtime-models';
import { chooseThroughput, DEFAULT_ROWS_PER_SECOND, type JobFigures } from '../../../functions/core/plan/throughput';
import { pendingTable, planSettings, throughput } from './support/plan-inputs';

function settings(over: Partial<PlanSettings> = {}): PlanSettings {
  return planSettings({
    runner: 'local-state-machine',
    concurrency: 2,
    throughput: throughput(10_000),
    keysetKeys: 1,
    speedFactor: 0.5,
    ...over,
  });
}

const table = (rows: number): TableCounts => pendingTable('t', rows);

describe('the local runtime model', () => {
  const c = LOCAL_RUNTIME_COSTS;

  it('divides the measured fixed costs by the speed factor; the last long poll is wall time, not scaled', () => {
    const t = localRuntimeTime(4, 25, 0.5);
    expect(t.setupSeconds).toBeCloseTo(
      (c.handlerLoadSeconds + c.runSeconds) / 0.5 + LOCAL_RUNTIME_SHAPE.receiveWaitSeconds,
    );
    expect(t.taskSeconds).toBeCloseTo((c.executionTasksSeconds + 25 * c.enqueueBatchSeconds) / 0.5);
    const interval = LOCAL_RUNTIME_SHAPE.waitMs / 1000 + c.checkSeconds / 0.5;
    expect(t.pollingSeconds).toBeCloseTo(interval);
    expect(t.polls).toBe(1 + Math.ceil(4 / interval));
  });

  it('a run after the first in its process does not import the handlers again', () => {
    const cold = localRuntimeTime(1, 5, 1);
    const warm = localRuntimeTime(1, 5, 1, { coldStart: false });
    expect(cold.setupSeconds - warm.setupSeconds).toBeCloseTo(c.handlerLoadSeconds);
  });

  it('a slower machine (a lower factor) takes longer, in proportion for everything but the long poll', () => {
    const fast = localRuntimeTime(1, 5, 1);
    const slow = localRuntimeTime(1, 5, 0.25);
    expect(slow.taskSeconds).toBeCloseTo(4 * fast.taskSeconds);
    expect(slow.setupSeconds - LOCAL_RUNTIME_SHAPE.receiveWaitSeconds).toBeCloseTo(
      4 * (fast.setupSeconds - LOCAL_RUNTIME_SHAPE.receiveWaitSeconds),
    );
  });

  it('the plan adds the runtime to the batches and scans, bills nothing on AWS, and says which model it used', () => {
    const plan = buildPlan([table(50_000)], settings());
    const t = localRuntimeTime(5, 25, 0.5);
    expect(plan.duration.batchPhaseSeconds).toBeCloseTo(5);
    expect(plan.duration.scanSeconds).toBeCloseTo(0.5);
    expect(plan.duration.pollingSeconds).toBeCloseTo(t.pollingSeconds);
    expect(plan.duration.runtimeSeconds).toBeCloseTo(t.setupSeconds + t.taskSeconds);
    expect(plan.duration.seconds).toBeCloseTo(5 + 0.5 + t.pollingSeconds + t.setupSeconds + t.taskSeconds);
    expect(plan.total.aws).toBeNull();
    expect(plan.cost.usd).toBe(0);
    expect(plan.model).toContain('local state-machine runtime');
    expect(plan.model).toContain('×0.50');
  });

  it('the three runners differ only in what they add to the same batches and scans', () => {
    const rows = [table(50_000)];
    const cli = buildPlan(rows, settings({ runner: 'cli', concurrency: 1 }));
    const aws = buildPlan(rows, settings({ runner: 'state-machine', concurrency: 4 }));
    const local = buildPlan(rows, settings());
    expect(cli.duration.seconds).toBeCloseTo(5.5);
    expect(cli.duration.runtimeSeconds).toBe(0);
    expect(cli.model).toContain('CLI job runner');
    // AWS: six task functions of TASK_SECONDS, the first progress poll after a 30 s Wait.
    expect(aws.duration.runtimeSeconds).toBe(6 * TASK_SECONDS);
    expect(aws.duration.pollingSeconds).toBeCloseTo(30 - 5);
    expect(aws.model).toContain('AWS');
    expect(local.duration.seconds).toBeGreaterThan(cli.duration.seconds);
    expect(local.duration.seconds).toBeLessThan(aws.duration.seconds);
  });
});

describe('rates by operation', () => {
  it('a Fernet table rotated in place (re-encrypted values) in rewrap mode is timed at the re-encrypt rate', () => {
    const t = chooseThroughput(
      { runner: 'local-state-machine', mode: 'rewrap', keyring: 'raw', concurrency: 2, batchSize: 2000 },
      [],
    );
    const ops = { rewrap: 0, reencrypt: 10_000, encrypt: 0, migrate: 0, failing: 0 };
    expect(mixedRate(t, ops)).toBeCloseTo(DEFAULT_ROWS_PER_SECOND.reencrypt);
    const mixed = { rewrap: 5000, reencrypt: 5000, encrypt: 0, migrate: 0, failing: 3 };
    expect(mixedRate(t, mixed)).toBeCloseTo(
      10_000 / (5000 / DEFAULT_ROWS_PER_SECOND.rewrap + 5000 / DEFAULT_ROWS_PER_SECOND.reencrypt),
    );
  });

  it('a calibrated figure stands as measured: the history already holds its mix', () => {
    const ops = { rewrap: 0, reencrypt: 10_000, encrypt: 0, migrate: 0, failing: 0 };
    expect(mixedRate(throughput(1234), ops)).toBe(1234);
  });

  it('the local runtime is one thread: its default does not grow with pollers; AWS grows with workers', () => {
    const req = { mode: 'rewrap', keyring: 'raw', batchSize: 2000 } as const;
    const local = (n: number) => chooseThroughput({ ...req, runner: 'local-state-machine', concurrency: n }, []);
    expect(local(4).rowsPerSecond).toBe(local(1).rowsPerSecond);
    expect(local(1).basis).toContain('one JavaScript thread');
    const aws = (n: number) => chooseThroughput({ ...req, runner: 'state-machine', concurrency: n }, []);
    expect(aws(4).rowsPerSecond).toBeCloseTo(4 * aws(1).rowsPerSecond);
  });
});

describe('job history by runner', () => {
  it('tells the CLI, the local runtime and AWS apart by the execution id', () => {
    expect(runnerOf(null)).toBe('cli');
    expect(runnerOf(`${LOCAL_RUNTIME_SHAPE.executionArnPrefix}000000000000:execution:rekey:local-ab12`)).toBe(
      'local-state-machine',
    );
    expect(runnerOf('arn:aws:states:eu-west-1:123456789012:execution:rekey:run-1')).toBe('state-machine');
  });

  it('a local runtime plan learns only from local runtime jobs', () => {
    const job = (runner: JobFigures['runner'], batchSeconds: number): JobFigures => ({
      jobId: runner,
      runner,
      mode: 'rewrap',
      keyring: 'raw',
      concurrency: 2,
      batchSize: 2000,
      rowsDone: 10_000,
      rowsScanned: 10_000,
      batchSeconds,
      jobSeconds: batchSeconds + 1,
      finishedAt: new Date('2026-12-04'),
    });
    const t = chooseThroughput(
      { runner: 'local-state-machine', mode: 'rewrap', keyring: 'raw', concurrency: 2, batchSize: 2000 },
      [job('cli', 1), job('state-machine', 0.5), job('local-state-machine', 4)],
    );
    expect(t.source).toBe('history');
    expect(t.jobIds).toEqual(['local-state-machine']);
    expect(t.rowsPerSecond).toBe(2500);
  });
});
