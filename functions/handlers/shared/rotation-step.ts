import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { MetricNames } from '../../core/metrics-names';
import type { RotationDeps } from '../../core/rotation/deps';
import { parseRotationEvent, rotateKeysetSecret, type StepResult } from '../../core/rotation/rotate';
import { logger, metrics } from './powertools';

/**
 * One rotation step as the rotation function runs it: the event checked,
 * the step run by the domain (core/rotation), its outcome logged (step,
 * outcome, ids) and counted.
 *
 * Metrics (namespace Rekey): RotationSucceeded when a finishSecret completes
 * a rotation, RotationDurationMs (createSecret to promotion) from the call
 * that promoted; RotationFailed for every failed invocation.
 */
export async function runRotationStep(input: unknown, deps: () => Promise<RotationDeps>): Promise<StepResult> {
  let result: StepResult;
  try {
    // The event first: a malformed invocation is refused before anything is built or called.
    const event = parseRotationEvent(input);
    logger.appendKeys({ step: event.Step, secretId: event.SecretId, token: event.ClientRequestToken });
    result = await rotateKeysetSecret(await deps(), event);
  } catch (err) {
    metrics.addMetric(MetricNames.RotationFailed, MetricUnit.Count, 1);
    throw err;
  }
  logger.info('rotation step', {
    outcome: result.outcome,
    newKeyId: result.newKeyId,
    detail: result.detail,
    ...(result.executionArn ? { executionArn: result.executionArn } : {}),
  });
  countOutcome(result);
  return result;
}

/**
 * `done` once per rotation: a re-run that finds everything done is `already-done`. The duration only
 * from the call that promoted: a re-run that caught up on the rewrap later would inflate it.
 */
function countOutcome(result: StepResult): void {
  if (result.step !== 'finishSecret' || result.outcome !== 'done') return;
  metrics.addMetric(MetricNames.RotationSucceeded, MetricUnit.Count, 1);
  if (result.promoted === true && result.rotationDurationMs !== undefined)
    metrics.addMetric(MetricNames.RotationDurationMs, MetricUnit.Milliseconds, result.rotationDurationMs);
}
