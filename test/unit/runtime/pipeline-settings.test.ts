import { ENV, ENV_DEFAULTS } from '../../../functions/core/environment-names';
import { HandlerConfigError } from '../../../functions/runtime/errors';
import { jobQueueUrl, retiringKeyGraceDays, stuckBatchSettings } from '../../../functions/runtime/pipeline-settings';

const queueUrl = 'https://sqs.us-east-1.amazonaws.com/123456789012/rekey-batches';
const dlq = 'https://sqs.us-east-1.amazonaws.com/123456789012/rekey-batches-dlq';

describe('pipeline settings', () => {
  it('JOB_QUEUE_URL: returned when set, a HandlerConfigError naming it when not', () => {
    expect(jobQueueUrl({ [ENV.jobQueueUrl]: queueUrl })).toBe(queueUrl);
    const missing = (() => {
      try {
        return jobQueueUrl({});
      } catch (err) {
        return err;
      }
    })();
    expect(missing).toBeInstanceOf(HandlerConfigError);
    expect(missing).toMatchObject({ missing: ['JOB_QUEUE_URL'], retryable: false });
  });

  it('the stuck-batch check: none without a DLQ; both queues and the quiet window with one', () => {
    expect(stuckBatchSettings({ [ENV.jobQueueUrl]: queueUrl })).toBeUndefined();
    expect(stuckBatchSettings({ [ENV.jobQueueUrl]: queueUrl, [ENV.deadLetterQueueUrl]: dlq })).toEqual({
      queueUrl,
      deadLetterQueueUrl: dlq,
      quietSeconds: ENV_DEFAULTS.stuckAfterSeconds,
    });
    expect(
      stuckBatchSettings({ [ENV.jobQueueUrl]: queueUrl, [ENV.deadLetterQueueUrl]: dlq, [ENV.stuckAfterSeconds]: '60' }),
    ).toMatchObject({ quietSeconds: 60 });
  });

  it('the stuck-batch check: a DLQ without the batch queue, or a quiet window that is no number, is a HandlerConfigError', () => {
    expect(() => stuckBatchSettings({ [ENV.deadLetterQueueUrl]: dlq })).toThrow(
      /missing environment: JOB_QUEUE_URL \(with DEAD_LETTER_QUEUE_URL/,
    );
    expect(() => stuckBatchSettings({ [ENV.stuckAfterSeconds]: 'soon' })).toThrow(
      'missing environment: STUCK_AFTER_SECONDS must be a number of seconds, got "soon"',
    );
    expect(() => stuckBatchSettings({ [ENV.stuckAfterSeconds]: '-1' })).toThrow(HandlerConfigError);
  });

  it('RETIRING_KEY_GRACE_DAYS: the variable, else the default', () => {
    expect(retiringKeyGraceDays({})).toBe(ENV_DEFAULTS.retiringKeyGraceDays);
    expect(retiringKeyGraceDays({ [ENV.retiringKeyGraceDays]: '30' })).toBe(30);
  });
});
