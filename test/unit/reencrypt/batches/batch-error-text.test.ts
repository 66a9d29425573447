import { batchErrorText } from '../../../../functions/core/reencrypt/batches/batch-executor';
import { JobOptionsError } from '../../../../functions/core/reencrypt/errors';
import { QueryError } from '../../../../functions/core/ports/sql-errors';

/** What a failed batch keeps: enough to act on, nothing that may hold a value. */
describe('batchErrorText', () => {
  it('keeps the SQLSTATE and the server message of a database error', () => {
    expect(batchErrorText(new QueryError('value too long for type character varying(64)', '22001'))).toBe(
      'QueryError 22001: value too long for type character varying(64)',
    );
  });

  it("keeps the code and message of rekey's own errors, cut to 300 characters", () => {
    const text = batchErrorText(new JobOptionsError(`invalid job request: ${'x'.repeat(500)}`));
    expect(text).toMatch(/^JobOptionsError JOB_OPTIONS_INVALID: invalid job request: x+…$/);
    expect(text).toHaveLength(300);
  });

  it('keeps only the name of any other error: its message may quote data', () => {
    expect(batchErrorText(new TypeError('cannot read "hunter2"'))).toBe('TypeError');
    expect(batchErrorText('boom')).toBe('error');
  });
});
