import { RotationEventError } from './errors';

/** The four steps Secrets Manager invokes a rotation function with, in order. */
export const ROTATION_STEPS = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const;
export type RotationStep = (typeof ROTATION_STEPS)[number];

/**
 * What Secrets Manager sends the rotation function. `ClientRequestToken` is
 * the id of the secret version this rotation creates; `RotationToken` (sent
 * since 2023 for cross-account callers) is passed through and not needed here.
 */
export interface RotationEvent {
  readonly Step: RotationStep;
  readonly SecretId: string;
  readonly ClientRequestToken: string;
  readonly RotationToken?: string;
}

/** Secrets Manager's bounds for ClientRequestToken (a version id). */
const TOKEN = /^[A-Za-z0-9-]{32,64}$/;

/**
 * The event as a RotationEvent, or RotationEventError listing every problem.
 * Fields Secrets Manager may add later are ignored; values are never echoed
 * beyond the Step name.
 */
export function parseRotationEvent(event: unknown): RotationEvent {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    throw new RotationEventError([
      `the event must be an object with Step, SecretId and ClientRequestToken, got ${event === null ? 'null' : Array.isArray(event) ? 'an array' : typeof event}`,
    ]);
  }
  const e = event as Record<string, unknown>;
  const problems: string[] = [];
  if (!ROTATION_STEPS.includes(e.Step as RotationStep)) {
    const got =
      typeof e.Step === 'string'
        ? JSON.stringify(e.Step.slice(0, 40))
        : e.Step === undefined
          ? 'nothing'
          : typeof e.Step;
    problems.push(`Step must be one of ${ROTATION_STEPS.join(', ')}, got ${got}`);
  }
  if (typeof e.SecretId !== 'string' || e.SecretId.trim() === '') problems.push('SecretId is required');
  if (typeof e.ClientRequestToken !== 'string' || !TOKEN.test(e.ClientRequestToken)) {
    problems.push('ClientRequestToken must be the rotation token (32-64 letters, digits or hyphens)');
  }
  if (e.RotationToken !== undefined && typeof e.RotationToken !== 'string')
    problems.push('RotationToken, when present, must be a string');
  if (problems.length > 0) throw new RotationEventError(problems);
  return {
    Step: e.Step as RotationStep,
    SecretId: e.SecretId as string,
    ClientRequestToken: e.ClientRequestToken as string,
    ...(typeof e.RotationToken === 'string' ? { RotationToken: e.RotationToken } : {}),
  };
}
