import { mapPgError, withholdQuoted } from '../../../functions/core/adapters/pg/errors';
import { DatabaseConnectionError, QueryError } from '../../../functions/core/ports/sql-errors';

/** What node-postgres gives for a server error: a message plus SQLSTATE and severity. */
function serverError(code: string, message: string, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(message), {
    code,
    severity: 'ERROR',
    detail: 'Key (id)=(s3cret) already exists.',
    ...extra,
  });
}

describe('pg error mapping (pure part)', () => {
  it('withholds quoted input and raw bytes in data-exception messages', () => {
    expect(withholdQuoted('invalid input syntax for type integer: "s3cret"')).toBe(
      'invalid input syntax for type integer: (input withheld)',
    );
    expect(withholdQuoted('value "9""9" is out of range for type integer')).toBe(
      'value (input withheld) is out of range for type integer',
    );
    expect(withholdQuoted('invalid byte sequence for encoding "UTF8": 0xe2 0x28')).not.toMatch(/0xe2|0x28/);
  });

  it('keeps object names in other messages and never copies DETAIL (which quotes row values)', () => {
    const err = mapPgError(
      serverError('23514', 'new row for relation "rekey_keys" violates check constraint "rekey_keys_status_check"'),
    );
    expect(err).toBeInstanceOf(QueryError);
    expect((err as QueryError).message).toContain('"rekey_keys_status_check"');
    expect((err as QueryError).message).not.toContain('s3cret');
    expect((err as QueryError).sqlState).toBe('23514');
  });

  it('applies the withholding to class 22 only', () => {
    const err = mapPgError(serverError('22P02', 'invalid input syntax for type uuid: "s3cret"\nLINE 1: ...'));
    expect((err as Error).message).toBe('invalid input syntax for type uuid: (input withheld)');
  });

  it.each(['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'ECONNRESET'])(
    '%s is a retryable connection error that says what to check',
    (code) => {
      const err = mapPgError(Object.assign(new Error(`connect ${code} 10.0.0.1:5432`), { code }));
      expect(err).toBeInstanceOf(DatabaseConnectionError);
      expect((err as DatabaseConnectionError).retryable).toBe(true);
      expect((err as Error).message).toMatch(/check host and port in the database URL/);
    },
  );

  it('leaves errors it does not recognise as they are', () => {
    const odd = new RangeError('something else');
    expect(mapPgError(odd)).toBe(odd);
  });
});
