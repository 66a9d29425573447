import { StateMachine } from 'aws-local-stepfunctions';
import { NON_RETRYABLE_ERROR_NAMES } from '../../functions/core/non-retryable-errors';
import { validateExecutionInput } from '../../functions/core/pipeline/execution-request';
import { EXECUTION_ERRORS, STATE_NAMES, TASK_HANDLERS } from '../../lib/reencryption-definition';
import { synthesizeStateMachineDefinition, type StateMachineDefinition } from '../../lib/synthesize-definition';
import { SYNTH_TIMEOUT_MS } from './support';
import { executionRequest } from '../support/execution-input';

jest.setTimeout(SYNTH_TIMEOUT_MS);

// aws-local-stepfunctions calls Promise.withResolvers (Node ≥ 22); these tests run on Node 20 too.
const P = Promise as unknown as { withResolvers?: () => unknown };
P.withResolvers ??= () => {
  let resolve: unknown;
  let reject: unknown;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
};

type Task = (payload: Record<string, unknown>) => unknown;

interface Outcome {
  output?: unknown;
  error?: string;
  cause?: string;
  states: string[];
  payloads: Record<string, unknown[]>;
}

let definition: StateMachineDefinition;
beforeAll(() => {
  definition = synthesizeStateMachineDefinition();
});

/** Runs the synthesized definition on aws-local-stepfunctions, each Task replaced by `tasks[stateName]` (as the Lambda payload → result). */
async function execute(tasks: Record<string, Task>, input: unknown): Promise<Outcome> {
  const payloads: Record<string, unknown[]> = {};
  const handlers: Record<string, (request: { Payload: Record<string, unknown> }) => Promise<unknown>> = {};
  for (const [state, task] of Object.entries(tasks)) {
    handlers[state] = async (request) => {
      (payloads[state] ??= []).push(request.Payload);
      return { StatusCode: 200, Payload: await task(request.Payload) };
    };
  }
  const machine = new StateMachine(definition as never, { validationOptions: { checkArn: false, checkPaths: true } });
  const execution = machine.run(
    input as never,
    {
      overrides: {
        taskResourceLocalHandlers: handlers,
        waitTimeOverrides: { [STATE_NAMES.waitForProgress]: 1 },
        retryIntervalOverrides: Object.fromEntries(Object.keys(definition.States).map((s) => [s, 1])),
      },
      context: { Execution: { Id: 'arn:aws:states:eu-west-1:111122223333:execution:rekey:test-1', Name: 'test-1' } },
    } as never,
  );
  const states: string[] = [];
  const events = (async () => {
    for await (const event of execution.eventLogs as AsyncIterable<{
      type: string;
      state?: { name: string };
      Error?: string;
      Cause?: string;
      error?: string;
      cause?: string;
    }>) {
      if (event.type === 'StateEntered' && event.state) states.push(event.state.name);
    }
  })();
  try {
    const output = await execution.result;
    await events;
    return { output, states, payloads };
  } catch (err) {
    await events.catch(() => undefined);
    const e = err as { cause?: { name?: string; message?: string }; message: string };
    return { error: e.cause?.name, cause: e.cause?.message ?? e.message, states, payloads };
  }
}

const validated = (p: Record<string, unknown>): unknown => {
  const input = p.input as Record<string, unknown>;
  const defaults = p.defaults as Record<string, unknown>;
  return {
    mode: input.mode,
    tables: input.tables ?? null,
    batchSize: input.batchSize ?? defaults.batchSize,
    dryRun: input.dryRun ?? false,
    maxErrorRate: input.maxErrorRate ?? defaults.maxErrorRate,
    targetKeyId: input.targetKeyId ?? null,
    tenant: input.tenant ?? null,
  };
};

/** A job of 3 batches enqueued in 2 chunks, finished after 2 progress polls. */
function happyTasks(): Record<string, Task> {
  let enqueued = 0;
  let polls = 0;
  return {
    [STATE_NAMES.validateInput]: validated,
    [STATE_NAMES.plan]: () => ({ jobId: 'job-1', rowsTotal: 100, rowsToChange: 42, batchesTotal: 3, plan: null }),
    [STATE_NAMES.enqueue]: () => {
      enqueued += enqueued === 0 ? 2 : 1;
      return { batchesEnqueued: enqueued === 2 ? 2 : 1, batchesLeft: 3 - enqueued };
    },
    [STATE_NAMES.checkProgress]: () => {
      polls += 1;
      return {
        rowsDone: polls * 21,
        rowsFailed: 0,
        batchesRemaining: polls < 2 ? 1 : 0,
        errorRate: 0,
        waitSeconds: 30,
      };
    },
    [STATE_NAMES.abort]: () => ({}),
    [STATE_NAMES.verify]: () => ({ rowsOnOldKeys: 0, rowsFailed: 0 }),
    [STATE_NAMES.finalize]: () => ({ retiredKeyIds: ['kek-v1'] }),
    [STATE_NAMES.markFailed]: () => ({}),
  };
}

describe('the synthesized definition', () => {
  test('is JSONPath only, with every state named as documented and one Task per handler', () => {
    expect(definition.QueryLanguage).toBe('JSONPath');
    expect(definition.StartAt).toBe(STATE_NAMES.readInput);
    expect(Object.keys(definition.States).sort()).toEqual(Object.values(STATE_NAMES).sort());
    const text = JSON.stringify(definition);
    expect(text).not.toMatch(/JSONata|"Assign"|"Arguments"|"Output"/);
    const tasks = Object.entries(definition.States)
      .filter(([, s]) => s.Type === 'Task')
      .map(([n]) => n);
    expect(tasks.sort()).toEqual(Object.keys(TASK_HANDLERS).sort());
    expect(definition.TimeoutSeconds).toBe(14 * 24 * 3600);
  });

  test('every Task retries with exponential backoff and jitter, and every Task catches', () => {
    for (const [name, state] of Object.entries(definition.States).filter(([, s]) => s.Type === 'Task')) {
      const retry = state.Retry as {
        ErrorEquals: string[];
        BackoffRate: number;
        MaxAttempts: number;
        JitterStrategy: string;
      }[];
      expect({ name, retriers: retry.length }).toEqual({ name, retriers: 3 });
      // First (first match wins): the errors no retry can fix, never retried.
      expect(retry[0]).toEqual({ ErrorEquals: [...NON_RETRYABLE_ERROR_NAMES], MaxAttempts: 0 });
      for (const r of retry.slice(1)) expect(r).toMatchObject({ BackoffRate: 2, JitterStrategy: 'FULL' });
      expect(retry.slice(1).flatMap((r) => r.ErrorEquals)).toEqual(
        expect.arrayContaining(['Lambda.ServiceException', 'States.TaskFailed']),
      );
      const catchers = state.Catch as { ErrorEquals: string[]; Next: string }[];
      expect(catchers).toEqual([
        expect.objectContaining({
          ErrorEquals: ['States.ALL'],
          Next: name === STATE_NAMES.markFailed ? STATE_NAMES.jobFailed : STATE_NAMES.markFailed,
        }),
      ]);
    }
  });

  test('task results pass through ResultSelector: only named ids and counts reach the state', () => {
    for (const [name, state] of Object.entries(definition.States).filter(([, s]) => s.Type === 'Task')) {
      const discards = state.ResultPath === null;
      expect({ name, shaped: discards || state.ResultSelector !== undefined }).toEqual({ name, shaped: true });
    }
    expect(definition.States[STATE_NAMES.waitForProgress]).toMatchObject({
      Type: 'Wait',
      SecondsPath: '$.progress.waitSeconds',
    });
  });
});

describe('executions on aws-local-stepfunctions', () => {
  test('a job enqueues in chunks, polls progress, verifies, retires the old key and succeeds', async () => {
    const run = await execute(happyTasks(), { mode: 'rewrap' });
    expect(run.error).toBeUndefined();
    expect(run.states).toEqual([
      'ReadInput',
      'ValidateInput',
      'Plan',
      'IsDryRun',
      'Enqueue',
      'AllBatchesEnqueued',
      'Enqueue',
      'AllBatchesEnqueued',
      'CheckProgress',
      'ProgressDecision',
      'WaitForProgress',
      'CheckProgress',
      'ProgressDecision',
      'Verify',
      'CanRetireOldKey',
      'Finalize',
      'Completed',
    ]);
    expect(run.output).toEqual({
      request: executionRequest({ batchSize: 2000 }),
      job: { jobId: 'job-1', rowsTotal: 100, rowsToChange: 42, batchesTotal: 3, plan: null },
      enqueue: { batchesEnqueued: 1, batchesLeft: 0 },
      progress: { rowsDone: 42, rowsFailed: 0, batchesRemaining: 0, errorRate: 0, waitSeconds: 30 },
      verify: { rowsOnOldKeys: 0, rowsFailed: 0 },
      finalize: { retiredKeyIds: ['kek-v1'] },
    });
    const executionId = 'arn:aws:states:eu-west-1:111122223333:execution:rekey:test-1';
    expect(run.payloads[STATE_NAMES.validateInput]).toEqual([
      { executionId, input: { mode: 'rewrap' }, defaults: { batchSize: 2000, maxErrorRate: 0.01, maxTables: 100 } },
    ]);
    expect(run.payloads[STATE_NAMES.enqueue]![0]).toEqual({ executionId, jobId: 'job-1', maxBatches: 10_000 });
    expect(run.payloads[STATE_NAMES.checkProgress]![0]).toEqual({
      executionId,
      jobId: 'job-1',
      minWaitSeconds: 30,
      maxWaitSeconds: 900,
      waitFraction: 0.05,
    });
    expect(run.payloads[STATE_NAMES.finalize]).toEqual([{ executionId, jobId: 'job-1' }]);
  });

  test("a dry run stops after Plan with the plan's counts", async () => {
    const run = await execute(happyTasks(), { mode: 'reencrypt', dryRun: true, tables: ['users'] });
    expect(run.states).toEqual(['ReadInput', 'ValidateInput', 'Plan', 'IsDryRun', 'DryRunReport']);
    expect(run.output).toEqual({ jobId: 'job-1', rowsTotal: 100, rowsToChange: 42, batchesTotal: 3, plan: null });
    expect(run.payloads[STATE_NAMES.plan]![0]).toMatchObject({
      request: { mode: 'reencrypt', dryRun: true, tables: ['users'] },
    });
  });

  test('an error rate past maxErrorRate aborts the job and fails the execution', async () => {
    const tasks = {
      ...happyTasks(),
      [STATE_NAMES.checkProgress]: () => ({
        rowsDone: 50,
        rowsFailed: 2,
        batchesRemaining: 2,
        errorRate: 0.04,
        waitSeconds: 30,
      }),
    };
    const run = await execute(tasks, { mode: 'rewrap', maxErrorRate: 0.03 });
    expect(run.states.slice(-3)).toEqual(['ProgressDecision', 'Abort', 'JobAborted']);
    expect(run.error).toBe(EXECUTION_ERRORS.jobAborted);
    expect(run.payloads[STATE_NAMES.abort]).toEqual([
      expect.objectContaining({ jobId: 'job-1', errorRate: 0.04, maxErrorRate: 0.03 }),
    ]);
    expect(run.payloads[STATE_NAMES.verify]).toBeUndefined();
  });

  test('an error rate at the threshold does not abort', async () => {
    let polls = 0;
    const tasks = {
      ...happyTasks(),
      [STATE_NAMES.checkProgress]: () => ({
        rowsDone: 99,
        rowsFailed: 1,
        batchesRemaining: polls++ < 1 ? 1 : 0,
        errorRate: 0.01,
        waitSeconds: 30,
      }),
    };
    const run = await execute(tasks, { mode: 'rewrap' });
    expect(run.states.at(-1)).toBe('Completed');
  });

  test('rows left on the old key: no Finalize, the execution fails as completed with errors', async () => {
    const tasks = { ...happyTasks(), [STATE_NAMES.verify]: () => ({ rowsOnOldKeys: 3, rowsFailed: 3 }) };
    const run = await execute(tasks, { mode: 'rewrap' });
    expect(run.states.slice(-2)).toEqual(['CanRetireOldKey', 'CompletedWithErrors']);
    expect(run.error).toBe(EXECUTION_ERRORS.completedWithErrors);
    expect(run.payloads[STATE_NAMES.finalize]).toBeUndefined();
  });

  test('a task that keeps failing is retried, then MarkFailed records it and the execution fails with its error', async () => {
    let attempts = 0;
    const tasks = {
      ...happyTasks(),
      [STATE_NAMES.plan]: () => {
        attempts += 1;
        throw Object.assign(new Error('lost the database connection'), { name: 'DatabaseConnectionError' });
      },
    };
    const run = await execute(tasks, { mode: 'rewrap' });
    expect(attempts).toBe(4); // first try + 3 retries of States.TaskFailed
    expect(run.states).toEqual(['ReadInput', 'ValidateInput', 'Plan', 'MarkFailed', 'JobFailed']);
    expect(run.payloads[STATE_NAMES.markFailed]).toEqual([
      { executionId: expect.any(String), error: 'DatabaseConnectionError' },
    ]);
    expect(run.error).toBe('DatabaseConnectionError');
  });

  test('an error no retry can fix fails the task at once, with its own name', async () => {
    let attempts = 0;
    const tasks = {
      ...happyTasks(),
      [STATE_NAMES.plan]: () => {
        attempts += 1;
        throw Object.assign(new Error('the registry names no table "users"'), { name: 'RegistryError' });
      },
    };
    const run = await execute(tasks, { mode: 'rewrap' });
    expect(attempts).toBe(1);
    expect(run.states).toEqual(['ReadInput', 'ValidateInput', 'Plan', 'MarkFailed', 'JobFailed']);
    expect(run.error).toBe('RegistryError');
  });

  test('MarkFailed failing too still ends with the original error', async () => {
    const fail = (name: string) => () => {
      throw Object.assign(new Error(name), { name });
    };
    const tasks = {
      ...happyTasks(),
      [STATE_NAMES.validateInput]: fail('InvalidJobInputError'),
      [STATE_NAMES.markFailed]: fail('DatabaseUnavailableError'),
    };
    const run = await execute(tasks, { mode: 'bogus' });
    expect(run.states).toEqual(['ReadInput', 'ValidateInput', 'MarkFailed', 'JobFailed']);
    expect(run.error).toBe('InvalidJobInputError');
  });

  describe('malformed input: ValidateInput (the real validator) refuses it and MarkFailed records it', () => {
    const registry = { tables: [{ name: 'users', idColumn: 'id', columns: ['email_encrypted'] }] };
    const realValidate: Task = (p) => validateExecutionInput(p.input, p.defaults as never, { registry } as never);
    test.each([
      ['a string', 'rewrap'],
      ['an array', [{ mode: 'rewrap' }]],
      ['a number', 7],
      // (null is left to the unit test of the validator: aws-local-stepfunctions treats `$` of a null input as a missing path.)
      ['the console sample input', { Comment: 'Insert your JSON here' }],
      ['an unknown mode', { mode: 'rotate' }],
    ])('%s', async (_what, input) => {
      const run = await execute({ ...happyTasks(), [STATE_NAMES.validateInput]: realValidate }, input);
      expect(run.states).toEqual(['ReadInput', 'ValidateInput', 'MarkFailed', 'JobFailed']);
      expect(run.error).toBe('InvalidInputError');
      expect(run.cause).toMatch(
        /invalid execution input: .*(expected a JSON object such as \{"mode": "rewrap"\}|mode: must be one of)/,
      );
      expect(run.payloads[STATE_NAMES.markFailed]).toEqual([
        { executionId: expect.stringContaining(':execution:'), error: 'InvalidInputError' },
      ]);
      // ValidateInput saw the input exactly as given.
      expect((run.payloads[STATE_NAMES.validateInput]![0] as { input?: unknown }).input).toEqual(input);
    });
  });
});
