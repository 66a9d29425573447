import type { StepResult } from '../core/rotation/rotate';
import { rotationDeps } from '../runtime/rotation-container';
import { rekeyHandler } from './shared/handler';
import { runRotationStep } from './shared/rotation-step';

/**
 * The keyset secret's rotation function. Secrets Manager invokes it with
 * `{Step, SecretId, ClientRequestToken[, RotationToken]}` for createSecret,
 * setSecret, testSecret and finishSecret; the domain (core/rotation) checks
 * the event and the secret and runs the step, each safe to re-run.
 * Its dependencies and environment: runtime/rotation-container.ts; its logs
 * and metrics: shared/rotation-step.ts.
 */
export const handler = rekeyHandler('Rotation', (input: unknown): Promise<StepResult> =>
  runRotationStep(input, rotationDeps),
);
