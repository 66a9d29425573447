import { RotationEventError, RotationStateError } from '../../../functions/core/rotation/errors';
import { parseRotationEvent, ROTATION_STEPS } from '../../../functions/core/rotation/event';

const token = '0b6c1f7e-2f4d-4d3a-9a51-6f0f1c3b2a10';
const arn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:rekey-keyset-AbCdEf';

describe('parseRotationEvent', () => {
  it.each(ROTATION_STEPS)('accepts the %s event Secrets Manager sends', (Step) => {
    expect(parseRotationEvent({ Step, SecretId: arn, ClientRequestToken: token })).toEqual({
      Step,
      SecretId: arn,
      ClientRequestToken: token,
    });
  });

  it('keeps RotationToken and ignores fields Secrets Manager may add', () => {
    const event = {
      Step: 'createSecret',
      SecretId: arn,
      ClientRequestToken: token,
      RotationToken: 'rt-1',
      SomethingNew: 1,
    };
    expect(parseRotationEvent(event)).toEqual({
      Step: 'createSecret',
      SecretId: arn,
      ClientRequestToken: token,
      RotationToken: 'rt-1',
    });
  });

  it('lists every problem at once, as a RotationEventError (a RotationStateError: the invocation is refused)', () => {
    let caught: unknown;
    try {
      parseRotationEvent({ Step: 'dropSecret', SecretId: '', ClientRequestToken: 'short', RotationToken: 7 });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(RotationEventError);
    expect(caught).toBeInstanceOf(RotationStateError);
    const error = caught as RotationEventError;
    expect(error.code).toBe('ROTATION_EVENT');
    expect(error.retryable).toBe(false);
    expect(error.problems).toEqual([
      'Step must be one of createSecret, setSecret, testSecret, finishSecret, got "dropSecret"',
      'SecretId is required',
      'ClientRequestToken must be the rotation token (32-64 letters, digits or hyphens)',
      'RotationToken, when present, must be a string',
    ]);
  });

  it.each([
    ['null', null],
    ['an array', []],
    ['a string', 'createSecret'],
  ])('refuses %s as the event', (_what, event) => {
    expect(() => parseRotationEvent(event)).toThrow(RotationEventError);
  });

  it('does not echo a long Step value whole', () => {
    const long = `x${'A'.repeat(500)}`;
    expect(() => parseRotationEvent({ Step: long, SecretId: arn, ClientRequestToken: token })).toThrow(/got "xA{39}"$/);
  });
});
