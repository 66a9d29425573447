import { DEFAULT_MAX_ERROR_RATE } from '../reencrypt/jobs/error-rate';
import { DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE } from '../reencrypt/jobs/jobs';
import { MODES } from '../reencrypt/values/modes';

/**
 * The JSON schema (draft 2020-12) of a re-encryption execution's input, the
 * one ValidateInput enforces: validateExecutionInput takes its field list
 * from here, and docs/execution-input.schema.json is this object written out
 * (a unit test keeps them equal). Its `examples` are valid inputs, one per mode.
 * The state machine's own defaults (batchSize, maxErrorRate from the stack's
 * `pipeline` props) apply to omitted fields; the schema shows the library's.
 */
export const EXECUTION_INPUT_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://github.com/rekey/rekey/docs/execution-input.schema.json',
  title: 'rekey re-encryption execution input',
  description:
    'Input of the rekey state machine (start-execution --input, the console, a schedule, the rotation hook). Every field is optional; {} is a rewrap of every registered table to the primary key.',
  type: 'object',
  additionalProperties: false,
  properties: {
    mode: {
      description:
        'rewrap: new data-key wrapping only; reencrypt: new data key and ciphertext; encrypt: plaintext → envelope; migrate: legacy format → rk1.',
      enum: [...MODES],
      default: 'rewrap',
    },
    tables: {
      description: 'Registry tables to process; null or absent: all.',
      type: ['array', 'null'],
      items: { type: 'string' },
      uniqueItems: true,
    },
    batchSize: {
      description: 'Rows per batch (one SQS message).',
      type: 'integer',
      minimum: 1,
      maximum: MAX_BATCH_SIZE,
      default: DEFAULT_BATCH_SIZE,
    },
    dryRun: { description: 'Plan and count only; change nothing.', type: 'boolean', default: false },
    maxErrorRate: {
      description: 'Abort when failed rows pass this share (0.01 = 1 %).',
      type: 'number',
      minimum: 0,
      maximum: 1,
      default: DEFAULT_MAX_ERROR_RATE,
    },
    targetKeyId: {
      description: 'Key to move rows to (must be in the key catalog); null or absent: the primary key.',
      type: ['string', 'null'],
    },
    tenant: {
      description: "Move this tenant's rows to the tenant's own active key.",
      type: ['string', 'null'],
      minLength: 1,
    },
  },
  examples: [
    { mode: 'rewrap' },
    { mode: 'reencrypt', tables: ['users'], batchSize: 1000 },
    { mode: 'encrypt', tables: ['users'], dryRun: true },
    { mode: 'migrate', maxErrorRate: 0.001 },
    { mode: 'rewrap', tenant: 'acme' },
  ],
} as const;

/** The fields an execution input may have, in schema order. */
export const EXECUTION_INPUT_FIELDS: readonly string[] = Object.keys(EXECUTION_INPUT_SCHEMA.properties);

/** What ValidateInput shows next to a problem with the input's shape. */
export const EXECUTION_INPUT_HINT =
  'expected a JSON object such as {"mode": "rewrap"} or {"mode": "reencrypt", "tables": ["users"], "dryRun": true} ' +
  `(fields: ${EXECUTION_INPUT_FIELDS.join(', ')}; all optional; schema: docs/execution-input.schema.json)`;

/** The Step Functions console's sample input, which starting an execution as-is would send. */
export const CONSOLE_SAMPLE_INPUT = { Comment: 'Insert your JSON here' } as const;
