import { Token, type Duration } from 'aws-cdk-lib';
import { RekeyError } from '../functions/core/errors';

/**
 * Base of the errors the CDK constructs raise. Props are checked once per
 * construct and every problem is reported in one error, so a user fixes them
 * all in one edit instead of one synth at a time.
 */
export abstract class InfraError extends RekeyError {}

/** One or more props of a construct are invalid; `problems` lists each as `prop: what is wrong`. */
export class InvalidPropsError extends InfraError {
  readonly code = 'INVALID_PROPS';

  constructor(
    /** The construct (class and id) whose props are wrong. */
    readonly construct: string,
    readonly problems: readonly string[],
  ) {
    super(
      `${construct}: ${problems.length} invalid prop${problems.length === 1 ? '' : 's'}:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
  }
}

/**
 * The CDK context does not meet the app's deploy contract (bin/app.ts):
 * every problem, then an example command. `cdk synth` prints the message
 * alone and exits 1.
 */
export class ContextError extends InfraError {
  readonly code = 'INVALID_CONTEXT';

  constructor(
    readonly problems: readonly string[],
    readonly example: string,
  ) {
    super(
      `rekey: the CDK context is incomplete or wrong (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${problems.map((p) => `  - ${p}`).join('\n')}\n${example}`,
    );
  }
}

/** A construct's method was called in a way that cannot work (twice, too late, ...). */
export class ConstructUsageError extends InfraError {
  readonly code = 'CONSTRUCT_USAGE';
}

/**
 * Collects prop problems, then throws them together. A composite (the stack)
 * hands `scoped('pipeline')` views to its parts' validators, so one error
 * lists the problems of every part, each under its full prop path.
 */
export class PropsProblems {
  private constructor(
    private readonly construct: string,
    private readonly prefix: string,
    private readonly problems: string[],
  ) {}

  static for(construct: string): PropsProblems {
    return new PropsProblems(construct, '', []);
  }

  /** A view whose prop names are prefixed with `prefix.`; problems land in the same list. */
  scoped(prefix: string): PropsProblems {
    return new PropsProblems(this.construct, `${this.prefix}${prefix}.`, this.problems);
  }

  add(prop: string, problem: string): void {
    this.problems.push(`${this.prefix}${prop}: ${problem}`);
  }

  /** Adds `problem` unless `ok`. */
  check(ok: boolean, prop: string, problem: string): void {
    if (!ok) this.add(prop, problem);
  }

  /** An integer in [min, max], unless it is undefined or a token. */
  integer(prop: string, value: number | undefined, min: number, max: number): void {
    if (value === undefined || Token.isUnresolved(value)) return;
    if (!Number.isInteger(value) || value < min || value > max) {
      this.add(prop, `must be an integer from ${min} to ${max}, got ${value}`);
    }
  }

  /** A number in [min, max], unless it is undefined or a token. */
  number(prop: string, value: number | undefined, min: number, max: number): void {
    if (value === undefined || Token.isUnresolved(value)) return;
    if (!Number.isFinite(value) || value < min || value > max) {
      this.add(prop, `must be a number from ${min} to ${max}, got ${value}`);
    }
  }

  /** A string matching `pattern` (described by `what`), unless it is undefined or a token. */
  pattern(prop: string, value: string | undefined, pattern: RegExp, what: string): void {
    if (value === undefined || Token.isUnresolved(value)) return;
    if (!pattern.test(value)) this.add(prop, `must be ${what}, got ${JSON.stringify(value)}`);
  }

  /** A duration of whole days in [min, max], unless it is a token. */
  wholeDays(prop: string, value: Duration | undefined, min: number, max: number): void {
    if (value === undefined || Token.isUnresolved(value.toSeconds({ integral: false }))) return;
    const days = value.toDays({ integral: false });
    if (!Number.isInteger(days) || days < min || days > max) {
      this.add(prop, `must be whole days from ${min} to ${max}, got ${value.toHumanString()}`);
    }
  }

  throwIfAny(): void {
    if (this.problems.length > 0) throw new InvalidPropsError(this.construct, this.problems);
  }
}

/** ARN shapes the constructs accept (a token is always accepted: it is checked by CloudFormation). */
export const ARN_PATTERNS = {
  auroraCluster: /^arn:aws[a-z-]*:rds:[a-z0-9-]+:\d{12}:cluster:[A-Za-z][A-Za-z0-9-]{0,62}$/,
  /** A complete secret ARN: the name, then `-` and the six random characters Secrets Manager appends (a partial ARN matches no IAM resource). */
  secret: /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$/,
  kmsKey: /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/,
  acmCertificate: /^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[A-Za-z0-9-]+$/,
} as const;

/** A deliberately simple e-mail shape check: one @, no spaces, a dot in the domain. */
export const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
