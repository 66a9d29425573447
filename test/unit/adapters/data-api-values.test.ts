import { splitParameterSets, jsonBytes } from '../../../functions/core/adapters/data-api/batch';
import { DataApiLimitError, DataApiParameterError } from '../../../functions/core/adapters/data-api/errors';
import { decodeField, encodeParameter } from '../../../functions/core/adapters/data-api/values';

/** Data API value encoding and batch splitting (wire round trips are in test/integration/adapters). */
describe('encodeParameter', () => {
  it('sends bigints past 2^53 as digits cast in SQL, not as a rounded JSON number', () => {
    expect(encodeParameter(1, 2n ** 62n)).toEqual({
      parameter: { name: 'p1', value: { stringValue: '4611686018427387904' } },
      placeholder: 'CAST(:p1 AS bigint)',
    });
    expect(encodeParameter(2, 42n)).toEqual({
      parameter: { name: 'p2', value: { longValue: 42 } },
      placeholder: ':p2',
    });
    expect(encodeParameter(3, 2n ** 70n).parameter.typeHint).toBe('DECIMAL');
  });

  it('sends a Date as UTC TIMESTAMP text read back as an instant', () => {
    expect(encodeParameter(1, new Date('2026-01-02T03:04:05.006Z'))).toEqual({
      parameter: { name: 'p1', value: { stringValue: '2026-01-02 03:04:05.006' }, typeHint: 'TIMESTAMP' },
      placeholder: "(:p1 AT TIME ZONE 'UTC')",
    });
  });

  it('sends integers as longValue and other numbers as doubleValue', () => {
    expect(encodeParameter(1, 7).parameter.value).toEqual({ longValue: 7 });
    expect(encodeParameter(1, 0.25).parameter.value).toEqual({ doubleValue: 0.25 });
    expect(encodeParameter(1, 2 ** 60).parameter.value).toEqual({ doubleValue: 2 ** 60 });
  });

  it.each([
    [Number.NaN, /\$4 is not a finite number/],
    [Infinity, /\$4 is not a finite number/],
    [new Date('nope'), /\$4 is an invalid Date/],
    [['a', Buffer.from('b')], /\$4 mixes bytea/],
    [[{ secret: 'hunter2' }], /\$4 element 1/],
  ])('refuses %p naming the parameter, never the value', (value, message) => {
    const err = (() => {
      try {
        encodeParameter(4, value as never);
      } catch (e) {
        return e as Error;
      }
      throw new Error('accepted');
    })();
    expect(err).toBeInstanceOf(DataApiParameterError);
    expect(err.message).toMatch(message);
    expect(err.message).not.toContain('hunter2');
  });

  it('turns arrays into one JSON parameter and an order-keeping ARRAY expression', () => {
    const text = encodeParameter(2, ['a', null, 'c']);
    expect(text.parameter).toEqual({ name: 'p2', value: { stringValue: '["a",null,"c"]' }, typeHint: 'JSON' });
    expect(text.placeholder).toBe(
      'ARRAY(SELECT e.x FROM jsonb_array_elements_text(CAST(:p2 AS jsonb)) WITH ORDINALITY AS e(x, i) ORDER BY e.i)',
    );
    const bytes = encodeParameter(3, [Buffer.from([0, 255]), null]);
    expect(bytes.parameter.value).toEqual({ stringValue: '["AP8=",null]' });
    expect(bytes.placeholder).toContain("decode(e.x, 'base64')");
  });
});

describe('decodeField', () => {
  it('returns int8 and numeric as strings whether the service sent a number or a string', () => {
    expect(decodeField({ longValue: 5 }, { typeName: 'int8' })).toBe('5');
    expect(decodeField({ stringValue: '9007199254740993' }, { typeName: 'int8' })).toBe('9007199254740993');
    expect(decodeField({ longValue: 5 }, { typeName: 'int4' })).toBe(5);
    expect(decodeField({ stringValue: '1.50' }, { typeName: 'numeric' })).toBe('1.50');
  });

  it('reads zone-less timestamps as UTC and tolerates an offset', () => {
    expect(decodeField({ stringValue: '2026-01-02 03:04:05.6' }, { typeName: 'timestamptz' })).toEqual(
      new Date('2026-01-02T03:04:05.600Z'),
    );
    expect(decodeField({ stringValue: '2026-01-02 03:04:05+02' }, { typeName: 'timestamptz' })).toEqual(
      new Date('2026-01-02T01:04:05Z'),
    );
  });
});

describe('splitParameterSets', () => {
  const envelope = {
    resourceArn: 'arn:aws:rds:r:1:cluster:c',
    secretArn: 'arn:aws:secretsmanager:r:1:secret:s',
    sql: 'INSERT INTO t VALUES (:p1)',
  };
  const set = (kib: number) => [{ name: 'p1', value: { blobValue: new Uint8Array(kib * 1024) } }];

  it('keeps every request within the limit and the sets in order', () => {
    const sets = Array.from({ length: 10 }, () => set(30));
    const limit = 100 * 1024;
    const requests = splitParameterSets(envelope, sets, limit);
    expect(requests.length).toBeGreaterThan(1);
    expect(requests.flat()).toEqual(sets);
    for (const r of requests)
      expect(jsonBytes({ ...envelope, parameterSets: r }) + 8 * 1024).toBeLessThanOrEqual(limit);
  });

  it('measures blobs as the base64 the SDK sends', () => {
    expect(jsonBytes(set(3))).toBe(
      JSON.stringify([{ name: 'p1', value: { blobValue: Buffer.alloc(3 * 1024).toString('base64') } }]).length,
    );
  });

  it('refuses a single set too large for any request, naming it', () => {
    expect(() => splitParameterSets(envelope, [set(1), set(200)], 100 * 1024)).toThrow(DataApiLimitError);
    expect(() => splitParameterSets(envelope, [set(1), set(200)], 100 * 1024)).toThrow(/parameter set 2/);
  });
});
