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

const STEPS: Record<RotationStep, (deps: RotationDeps, event: RotationEvent, state: RotationState) => Promise<StepResult>> = {
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
    if (state.tokenIsCurrent && event.Step !== 'finishSecret') {
      return { step: event.Step, outcome: 'already-done', detail: `version ${event.ClientRequestToken} is already AWSCURRENT: nothing to do` };
    }
    return await STEPS[event.Step](deps, event, state);
  } catch (err) {
    if (err instanceof RotationError) throw err;
    throw new RotationStepError(event.Step, event.SecretId, err);
  }
}
