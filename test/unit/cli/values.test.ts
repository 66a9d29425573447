import { InvalidArgumentError } from 'commander';
import { describeConnection, pgConnectionOptions } from '../../../functions/core/adapters/pg/connection';
import { collect, oneOf, positiveInt, rate } from '../../../functions/cli/values';

describe('CLI value parsers', () => {
  it('accepts only whole numbers in range', () => {
    const p = positiveInt(100);
    expect(p('5')).toBe(5);
    for (const bad of ['0', '-1', '101', '1.5', 'ten', '']) expect(() => p(bad)).toThrow(InvalidArgumentError);
  });
  it('accepts error rates from 0 to 1', () => {
    expect(rate('0')).toBe(0);
    expect(rate('0.01')).toBe(0.01);
    for (const bad of ['1.01', '-0.1', 'abc', ' ']) expect(() => rate(bad)).toThrow(/fraction from 0 to 1/);
  });
  it('collects repeated tables and checks choices', () => {
    expect(collect('b', collect('a'))).toEqual(['a', 'b']);
    expect(oneOf(['rewrap', 'reencrypt'])('rewrap')).toBe('rewrap');
    expect(() => oneOf(['rewrap'])('x')).toThrow(/one of rewrap/);
  });
});

describe('database URL handling', () => {
  it('describes a connection without its password', () => {
    const d = describeConnection('postgres://app:s3cret@db.example.com:6543/prod?sslmode=verify-full', {});
    expect(d).toEqual({
      host: 'db.example.com',
      port: 6543,
      database: 'prod',
      user: 'app',
      tls: true,
      sslmode: 'verify-full',
      loopback: false,
    });
    expect(JSON.stringify(d)).not.toContain('s3cret');
  });
  it('takes sslmode from PGSSLMODE when the URL has none, and flags loopback hosts', () => {
    expect(describeConnection('postgres://u@10.0.0.5/db', { PGSSLMODE: 'require' }).tls).toBe(true);
    expect(describeConnection('postgres://u@127.0.0.1/db', {}).loopback).toBe(true);
    expect(describeConnection('postgres://u@db.internal/db', {}).tls).toBe(false);
  });
  it('turns sslmode into node-postgres TLS options and strips libpq-only parameters', () => {
    const require = pgConnectionOptions('postgres://u@h/db?sslmode=require', {});
    expect(require.ssl).toEqual(expect.objectContaining({ rejectUnauthorized: false }));
    expect(require.connectionString).not.toContain('sslmode');
    const full = pgConnectionOptions('postgres://u@h/db?sslmode=verify-full', {});
    expect(full.ssl).toEqual(expect.objectContaining({ rejectUnauthorized: true }));
    expect(pgConnectionOptions('postgres://u@h/db?sslmode=disable', {}).ssl).toBe(false);
  });
  it('names a bad sslmode and an unreadable root certificate', () => {
    expect(() => describeConnection('postgres://u@h/db?sslmode=sometimes', {})).toThrow(/sslmode "sometimes"/);
    expect(() => pgConnectionOptions('postgres://u@h/db?sslmode=verify-full&sslrootcert=/nope/ca.pem', {})).toThrow(
      /sslrootcert \/nope\/ca.pem/,
    );
    expect(() => describeConnection('mysql://u@h/db', {})).toThrow(/postgres:\/\//);
  });
});
