import { isRetryable } from '../errors';
import { createSecret } from './create-secret';
import type { RotationDeps, StepResult } from './deps';
import { RotationError, RotationStepError } from './errors';
import { parseRotationEvent, type RotationEvent, type RotationStep } from './event';
import { finishSecret } from './finish-secret';
import { readRotationState, type RotationState } from './secret-state';
import { setSecret } from './set-secret';
import { testSecret } from './test-secret';

export type { RotationDeps, StepResult } from './deps';
export { ROTATION_STEPS, parseRotationEvent, type RotationEvent, type RotationStep } from './event';
export { KEYSET_BOOTSTRAP_FORMAT } from './keyset-versions';

const STEPS: Record<
  RotationStep,
  (deps: RotationDeps, event: RotationEvent, state: RotationState) => Promise<StepResult>
> = {
  createSecret,
  setSecret,
  testSecret,
  finishSecret,
};

/**
 * Secrets Manager rotation of the keyset secret: validates the event and the
 * secret's state the way AWS's rotation templates do, then runs the step.
 * Every step is safe to run again. Once the token's version is AWSCURRENT,
 * createSecret, setSecret and testSecret have nothing left to do, while
 * finishSecret still makes sure the catalog and the rewrap caught up.
 *
 * Errors: RotationError always — RotationEventError / RotationStateError /
 * RotationSelfTestError from the rotation's own rules (not retryable), or
 * RotationStepError around anything else, keeping the cause's retryable flag.
 */
export async function rotateKeysetSecret(deps: RotationDeps, input: unknown): Promise<StepResult> {
  const event = parseRotationEvent(input);
  try {
    const state = await readRotationState(deps.secrets, event, deps.expectedSecretArn);
    try {
      return await runStep(deps, event, state);
    } catch (err) {
      // Another invocation of the same step (Secrets Manager retrying a call that is still running) may have
      // moved the secret under this one: Secrets Manager then refuses a stage this call expected (a rejection,
      // not retryable). Steps are idempotent: run once more against the state now, which completes or reports
      // already-done. A retryable failure is left to Secrets Manager's retry (and RotationFailed), and with
      // the staging unchanged the failure is this call's own.
      if (isRetryable(err)) throw err;
      const now = await readRotationState(deps.secrets, event, deps.expectedSecretArn);
      if (stagesOf(now) === stagesOf(state)) throw err;
      return await runStep(deps, event, now);
    }
  } catch (err) {
    if (err instanceof RotationError) throw err;
    throw new RotationStepError(event.Step, event.SecretId, err);
  }
}

function runStep(deps: RotationDeps, event: RotationEvent, state: RotationState): Promise<StepResult> {
  if (state.tokenIsCurrent && event.Step !== 'finishSecret') {
    return Promise.resolve({
      step: event.Step,
      outcome: 'already-done',
      detail: `version ${event.ClientRequestToken} is already AWSCURRENT: nothing to do`,
    });
  }
  return STEPS[event.Step](deps, event, state);
}

/** The staging the steps decide by: the token's stages and which version is AWSCURRENT. */
function stagesOf(state: RotationState): string {
  return JSON.stringify([[...state.tokenStages].sort(), state.currentVersionId ?? null]);
}
