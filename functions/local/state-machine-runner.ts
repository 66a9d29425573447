import './promise-polyfill';
import { StateMachine } from 'aws-local-stepfunctions';
import { LOCAL_RUNTIME_SHAPE } from '../core/plan/pipeline-shape';
import { TaskMappingError } from './errors';

/** A local stand-in for one Task state: receives the Lambda payload, returns the Lambda result. */
export type LocalTask = (payload: unknown) => Promise<unknown>;

/** The parts of an Amazon States Language definition the runner looks at. */
export interface AslDefinition {
  readonly StartAt: string;
  readonly States: Record<string, AslState>;
  readonly [key: string]: unknown;
}
interface AslState {
  readonly Type: string;
  readonly Resource?: string;
  readonly Iterator?: AslDefinition;
  readonly ItemProcessor?: AslDefinition;
  readonly Branches?: readonly AslDefinition[];
  readonly [key: string]: unknown;
}

export interface RunOptions {
  /** Task state name → local implementation. Every Task state must have one. */
  readonly tasks: Readonly<Record<string, LocalTask>>;
  /** Milliseconds every Wait state waits instead of its seconds. @default 50 */
  readonly defaultWaitMs?: number;
  /** Retry pauses shortened to this many ms. @default 10 */
  readonly retryIntervalMs?: number;
  /** Execution name, for the context object. */
  readonly executionName?: string;
  /** Called with every execution event (state entered/exited, task failed, ...). */
  readonly onEvent?: (event: Record<string, unknown>) => void;
}

export interface LocalExecution {
  readonly result: Promise<unknown>;
  /** State names entered, in order (the execution history, condensed). */
  readonly history: string[];
  /** The same states with their types (Task, Choice, Wait...), for history-size arithmetic. */
  readonly states: { readonly name: string; readonly type: string }[];
  /** How the execution failed, as Step Functions reports it (a Fail state's Error and Cause, or the uncaught task error); set once it has. */
  failure(): { readonly error: string; readonly cause: string } | undefined;
  abort(): void;
}

const LAMBDA_INVOKE = 'arn:aws:states:::lambda:invoke';

/**
 * Executes a synthesized state machine definition with aws-local-stepfunctions,
 * routing each Task state to a local function by state name. Task states that
 * use the optimized `lambda:invoke` integration receive `{FunctionName, Payload}`
 * in AWS and return `{Payload, StatusCode}`; the runner does that wrapping so the
 * definition's ResultSelector / OutputPath work exactly as deployed.
 */
export function runLocalStateMachine(definition: AslDefinition, input: unknown, options: RunOptions): LocalExecution {
  const taskStates = collectStates(definition, (s) => s.Type === 'Task');
  const missing = [...taskStates.keys()].filter((name) => !(name in options.tasks));
  const unknown = Object.keys(options.tasks).filter((name) => !taskStates.has(name));
  if (missing.length > 0 || unknown.length > 0) throw new TaskMappingError(missing, unknown);

  const taskResourceLocalHandlers: Record<string, (input: unknown) => Promise<unknown>> = {};
  for (const [name, state] of taskStates) {
    const task = options.tasks[name]!;
    taskResourceLocalHandlers[name] =
      state.Resource === LAMBDA_INVOKE
        ? async (request) => ({ StatusCode: 200, Payload: await task((request as { Payload?: unknown }).Payload) })
        : task;
  }
  const waitTimeOverrides: Record<string, number> = {};
  for (const name of collectStates(definition, (s) => s.Type === 'Wait').keys()) {
    waitTimeOverrides[name] = options.defaultWaitMs ?? 50;
  }
  const retryIntervalOverrides: Record<string, number> = {};
  for (const name of collectStates(definition, (s) => Array.isArray(s.Retry)).keys()) {
    retryIntervalOverrides[name] = options.retryIntervalMs ?? 10;
  }

  const machine = new StateMachine(definition as never, { validationOptions: { checkArn: false, checkPaths: true } });
  const execution = machine.run(
    input as never,
    {
      overrides: { taskResourceLocalHandlers, waitTimeOverrides, retryIntervalOverrides },
      context: {
        Execution: {
          Id: `${LOCAL_RUNTIME_SHAPE.executionArnPrefix}000000000000:execution:rekey:${options.executionName ?? 'local'}`,
          Name: options.executionName ?? 'local',
          Input: input,
          StartTime: new Date().toISOString(),
        },
      },
    } as never,
  );

  const history: string[] = [];
  const states: { name: string; type: string }[] = [];
  let failure: { error: string; cause: string } | undefined;
  const drain = (async () => {
    for await (const event of execution.eventLogs as AsyncIterable<Record<string, unknown>>) {
      if (event.type === 'StateEntered') {
        const state = event.state as { name?: string; type?: string } | undefined;
        history.push(String(state?.name));
        states.push({ name: String(state?.name), type: String(state?.type) });
      }
      if (event.type === 'ExecutionFailed')
        failure = {
          error: String(event.Error),
          cause: typeof event.Cause === 'string' ? event.Cause : JSON.stringify(event.Cause ?? ''),
        };
      options.onEvent?.(event);
    }
  })();
  // Settles after the event log is drained, so history and failure() are complete when it does.
  const result = Promise.allSettled([execution.result, drain]).then(([outcome]) => {
    if (outcome.status === 'rejected') throw outcome.reason;
    return outcome.value;
  });
  return { result, history, states, failure: () => failure, abort: () => execution.abort() };
}

function collectStates(
  definition: AslDefinition,
  match: (s: AslState) => boolean,
  into = new Map<string, AslState>(),
): Map<string, AslState> {
  for (const [name, state] of Object.entries(definition.States)) {
    if (match(state)) into.set(name, state);
    for (const nested of [state.Iterator, state.ItemProcessor, ...(state.Branches ?? [])]) {
      if (nested) collectStates(nested, match, into);
    }
  }
  return into;
}
