import { PlanInputError } from './errors';

/**
 * The one price table of the planner (USD). Every cost the plan prints comes
 * from these figures; `rekey plan --prices file.json` replaces any of them
 * (and `date` / `source` / `region`, so the output says whose prices it used).
 */
export interface PriceTable {
  /** When these prices were taken. */
  readonly date: string;
  /** Where they come from. */
  readonly source: string;
  readonly region: string;
  /** KMS symmetric request (Decrypt, GenerateDataKey, ReEncrypt). */
  readonly kmsRequest: number;
  /** One KMS customer managed key, per month. */
  readonly kmsKeyMonth: number;
  readonly secretsManagerRequest: number;
  /** One Secrets Manager secret, per month. */
  readonly secretMonth: number;
  readonly lambdaRequest: number;
  /** Per GB-second, Arm (the stack's functions are arm64). */
  readonly lambdaGbSecond: number;
  /** Standard workflow state transition. */
  readonly stepFunctionsTransition: number;
  /** SQS standard queue request (per 64 KB chunk; rekey's messages are < 1 KB). */
  readonly sqsRequest: number;
  /** RDS Data API request (per 32 KB of payload; rekey's are sized under 1 MiB responses). */
  readonly dataApiRequest: number;
}

/**
 * List prices of us-east-1, no free tier, each checked on 2026-12-04 against
 * the sources below (the figures written earlier from memory all held):
 *
 * | field | price | source (read 2026-12-04) |
 * |---|---|---|
 * | kmsKeyMonth | $1 per KMS key-month (each rotated backing key adds $1/month) | https://aws.amazon.com/kms/pricing/ |
 * | kmsRequest | $0.03 per 10,000 symmetric requests (20,000 free a month) | https://aws.amazon.com/kms/pricing/ (request table as quoted by https://www.wring.co/blog/aws-kms-pricing-guide, 2026-03) |
 * | stepFunctionsTransition | $0.025 per 1,000 Standard state transitions (US East (N. Virginia) $0.0250; 4,000 free a month) | https://aws.amazon.com/step-functions/pricing/ |
 * | lambdaRequest, lambdaGbSecond | $0.20 per 1 M requests; Arm $0.0000133334 per GB-s (first 7.5 billion GB-s a month) | https://aws.amazon.com/lambda/pricing/ (Arm tier as quoted by https://cloudchipr.com/blog/aws-lambda-pricing) |
 * | sqsRequest | $0.40 per 1 M standard requests (first 100 billion a month), per 64 KB chunk | https://aws.amazon.com/sqs/pricing/ (as quoted by https://cloudburn.io/blog/amazon-sqs-pricing, 2026-03) |
 * | secretMonth, secretsManagerRequest | $0.40 per secret-month, $0.05 per 10,000 API calls | NOT re-verified: no AWS page found in the stored sources; kept from aws.amazon.com/secrets-manager/pricing as last read |
 * | dataApiRequest | $0.35 per 1 M requests (first billion a month) | NOT re-verified: aws.amazon.com/rds/aurora/pricing was not found with its Data API section; kept |
 *
 * Secrets Manager and Data API requests are a few per worker or per batch:
 * a wrong unit price there moves a plan's cost by cents, not its time.
 */
export const DEFAULT_PRICES: PriceTable = {
  date: '2026-12-04',
  source:
    'AWS list prices, us-east-1, no free tier, checked 2026-12-04: aws.amazon.com/kms/pricing, /step-functions/pricing, /lambda/pricing, /sqs/pricing; /secrets-manager/pricing and /rds/aurora/pricing (Data API) not re-verified (functions/core/plan/prices.ts)',
  region: 'us-east-1',
  kmsRequest: 0.03 / 10_000,
  kmsKeyMonth: 1,
  secretsManagerRequest: 0.05 / 10_000,
  secretMonth: 0.4,
  lambdaRequest: 0.2 / 1_000_000,
  lambdaGbSecond: 0.0000133334,
  stepFunctionsTransition: 0.025 / 1000,
  sqsRequest: 0.4 / 1_000_000,
  dataApiRequest: 0.35 / 1_000_000,
};

const NUMERIC: readonly (keyof PriceTable)[] = [
  'kmsRequest',
  'kmsKeyMonth',
  'secretsManagerRequest',
  'secretMonth',
  'lambdaRequest',
  'lambdaGbSecond',
  'stepFunctionsTransition',
  'sqsRequest',
  'dataApiRequest',
];
const TEXT: readonly (keyof PriceTable)[] = ['date', 'source', 'region'];

/**
 * DEFAULT_PRICES with the fields of `override` (parsed JSON) in their place.
 * Unknown fields, non-numbers and negative prices are refused, every problem
 * at once, naming `source` (the file). A table that changes prices without
 * saying whose they are gets `source` set to the file.
 */
export function pricesWith(override: unknown, source: string): PriceTable {
  if (typeof override !== 'object' || override === null || Array.isArray(override)) {
    throw new PlanInputError(
      [
        `expected a JSON object like {"kmsRequest": 0.000003}, got ${Array.isArray(override) ? 'an array' : typeof override}`,
      ],
      source,
    );
  }
  const problems: string[] = [];
  const out: Record<string, unknown> = { ...DEFAULT_PRICES };
  for (const [key, value] of Object.entries(override)) {
    if ((NUMERIC as readonly string[]).includes(key)) {
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
        problems.push(`${key}: expected a price in USD ≥ 0, got ${JSON.stringify(value)}`);
      else out[key] = value;
    } else if ((TEXT as readonly string[]).includes(key)) {
      if (typeof value !== 'string' || value.length === 0)
        problems.push(`${key}: expected a non-empty string, got ${JSON.stringify(value)}`);
      else out[key] = value;
    } else {
      problems.push(`${key}: unknown field (known: ${[...TEXT, ...NUMERIC].join(', ')})`);
    }
  }
  if (problems.length > 0) throw new PlanInputError(problems, source);
  const o = override as Record<string, unknown>;
  if (o.source === undefined && NUMERIC.some((k) => o[k] !== undefined))
    out.source = `${source} over ${DEFAULT_PRICES.source}`;
  return out as unknown as PriceTable;
}
