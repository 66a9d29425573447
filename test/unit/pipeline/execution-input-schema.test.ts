import * as fs from 'node:fs';
import * as path from 'node:path';
import { CONSOLE_SAMPLE_INPUT, EXECUTION_INPUT_SCHEMA } from '../../../functions/core/pipeline/execution-input-schema';
import { InvalidInputError } from '../../../functions/core/pipeline/errors';
import { validateExecutionInput } from '../../../functions/core/pipeline/execution-request';

const deps = { registry: { tables: [{ name: 'users', idColumn: 'id', columns: ['email_encrypted'] }] } } as never;

function problemsOf(input: unknown): string[] {
  try {
    validateExecutionInput(input, {}, deps);
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidInputError);
    return [...(err as InvalidInputError).problems];
  }
  throw new Error(`accepted ${JSON.stringify(input)}`);
}

describe('the execution input schema', () => {
  test('docs/execution-input.schema.json is EXECUTION_INPUT_SCHEMA written out (regenerate it when the schema changes)', () => {
    const file = path.join(__dirname, '..', '..', '..', 'docs', 'execution-input.schema.json');
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual(JSON.parse(JSON.stringify(EXECUTION_INPUT_SCHEMA)));
  });

  test('every example of the schema is accepted by ValidateInput, and covers every mode', () => {
    for (const example of EXECUTION_INPUT_SCHEMA.examples)
      expect(() => validateExecutionInput(example, {}, deps)).not.toThrow();
    expect(new Set(EXECUTION_INPUT_SCHEMA.examples.map((e) => e.mode))).toEqual(
      new Set(EXECUTION_INPUT_SCHEMA.properties.mode.enum),
    );
  });

  test("the fields ValidateInput accepts are exactly the schema's properties", () => {
    const everyField = {
      mode: 'rewrap',
      tables: ['users'],
      batchSize: 10,
      dryRun: true,
      maxErrorRate: 0.5,
      targetKeyId: null,
      tenant: null,
    };
    expect(Object.keys(everyField).sort()).toEqual(Object.keys(EXECUTION_INPUT_SCHEMA.properties).sort());
    expect(() => validateExecutionInput(everyField, {}, deps)).not.toThrow();
    expect(problemsOf({ ...everyField, extra: 1 })[0]).toMatch(/^extra: unknown field; expected a JSON object/);
  });
});

describe('malformed input gets the expected shape in its message', () => {
  test.each([
    ['a string', 'rewrap', /the input is a string \("rewrap"\): expected a JSON object such as \{"mode": "rewrap"\}/],
    ['an array', [{ mode: 'rewrap' }], /the input is an array: expected a JSON object/],
    ['null', null, /the input is null: expected a JSON object/],
    ['a number', 42, /the input is a number \(42\)/],
  ])('%s', (_what, input, message) => {
    const problems = problemsOf(input);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(message);
    expect(problems[0]).toContain('docs/execution-input.schema.json');
  });

  test('the console\'s sample input {"Comment": "Insert your JSON here"} is named as such', () => {
    const [problem] = problemsOf(CONSOLE_SAMPLE_INPUT);
    expect(problem).toMatch(
      /^this is the Step Functions console's sample input .*replace it; expected a JSON object such as \{"mode": "rewrap"\}/,
    );
  });

  test('unknown fields beside good ones: each named, then the shape once', () => {
    expect(problemsOf({ mode: 'rewrap', Comment: 'x', table: 'users' })).toEqual([
      'Comment: unknown field',
      expect.stringMatching(/^table: unknown field; expected a JSON object such as/),
    ]);
  });
});
