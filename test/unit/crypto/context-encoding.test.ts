import type { EncryptionContext } from '../../../functions/core/crypto/context';
import { encodeContext } from '../../../functions/core/crypto/context-encoding';
import { InvalidContextError } from '../../../functions/core/crypto/errors';

const ctx = (table: string, column: string, rowId: string, tenant?: string | null): EncryptionContext => ({
  table,
  column,
  rowId,
  tenant,
});

describe('canonical encryption context encoding', () => {
  it('has the documented layout', () => {
    expect(encodeContext(ctx('users', 'email', '42')).toString('hex')).toBe(
      '0005' +
        Buffer.from('users').toString('hex') +
        '0005' +
        Buffer.from('email').toString('hex') +
        '0002' +
        Buffer.from('42').toString('hex') +
        '00',
    );
    expect(encodeContext(ctx('t', 'c', 'r', 'acme')).toString('hex')).toBe(
      '000174' + '000163' + '000172' + '01' + '0004' + Buffer.from('acme').toString('hex'),
    );
  });

  it('keeps field boundaries: ("a","bc") and ("ab","c") differ, in every pair of fields', () => {
    expect(encodeContext(ctx('a', 'bc', 'r')).equals(encodeContext(ctx('ab', 'c', 'r')))).toBe(false);
    expect(encodeContext(ctx('t', 'a', 'bc')).equals(encodeContext(ctx('t', 'ab', 'c')))).toBe(false);
    expect(encodeContext(ctx('t', 'c', 'a', 'bc')).equals(encodeContext(ctx('t', 'c', 'ab', 'c')))).toBe(false);
  });

  it('treats undefined and null tenant alike, and neither equals any tenant', () => {
    expect(encodeContext(ctx('t', 'c', 'r')).equals(encodeContext(ctx('t', 'c', 'r', null)))).toBe(true);
    expect(encodeContext(ctx('t', 'c', 'r')).equals(encodeContext(ctx('t', 'c', 'r', '\u0000')))).toBe(false);
  });

  it('encodes UTF-8 byte lengths', () => {
    const e = encodeContext(ctx('tëst', 'c', 'r'));
    expect(e.readUInt16BE(0)).toBe(5);
  });

  it.each<[string, unknown, string]>([
    ['missing table', { column: 'c', rowId: 'r' }, 'table'],
    ['empty column', { table: 't', column: '', rowId: 'r' }, 'column'],
    ['numeric row id', { table: 't', column: 'c', rowId: 42 }, 'rowId'],
    ['empty tenant', { table: 't', column: 'c', rowId: 'r', tenant: '' }, 'tenant'],
    ['tenant a number', { table: 't', column: 'c', rowId: 'r', tenant: 7 }, 'tenant'],
    ['lone surrogate', { table: 't', column: 'c', rowId: 'r\ud800' }, 'rowId'],
    ['over 65535 bytes', { table: 't', column: 'c', rowId: 'x'.repeat(65536) }, 'rowId'],
    ['not an object', 'users.email.42', 'context'],
    ['null', null, 'context'],
  ])('refuses %s with InvalidContextError naming the field', (_what, bad, field) => {
    let caught: unknown;
    try {
      encodeContext(bad as EncryptionContext);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(InvalidContextError);
    expect((caught as InvalidContextError).field).toBe(field);
    expect((caught as Error).message).toContain(field === 'context' ? 'context' : `"${field}"`);
  });

  it('never puts the field value in the message', () => {
    expect(() => encodeContext({ table: 't', column: 'c', rowId: 'secret-row\ud800' })).toThrow(/^(?!.*secret-row)/);
  });
});
