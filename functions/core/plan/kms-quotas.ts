import { PlanInputError } from './errors';

/**
 * AWS KMS "Cryptographic operations (symmetric) request rate", the quota
 * shared by Decrypt, Encrypt, GenerateDataKey and ReEncrypt across an
 * account's callers in a region (requests per second, adjustable through
 * Service Quotas). Checked 2026-12-04:
 * - 10,000 (shared) by default; 20,000 in us-east-2, ap-southeast-1,
 *   ap-southeast-2, ap-northeast-1, eu-central-1, eu-west-2 — the developer
 *   guide's table, https://docs.amazonaws.cn/kms/latest/developerguide/requests-per-second.html
 *   (same page as docs.aws.amazon.com/kms/latest/developerguide/requests-per-second.html);
 * - 100,000 in us-east-1, us-west-2, eu-west-1 — the General Reference quota
 *   table, https://docs.aws.amazon.com/general/latest/gr/kms.html (as quoted
 *   in a stored review of that table).
 * The 5,500 / 10,000 figures sometimes quoted are those of the 2018 raise
 * (https://aws.amazon.com/about-aws/whats-new/2018/08/aws-key-management-service-increases-api-requests-per-second-limits/),
 * since superseded; no 50,000 tier was found. Regions not listed get the
 * lowest tier. `--kms-quota N` replaces it with the account's actual quota.
 */
export const KMS_QUOTA_SOURCE =
  'docs.aws.amazon.com/kms/latest/developerguide/requests-per-second.html and docs.aws.amazon.com/general/latest/gr/kms.html (shared symmetric request rate, checked 2026-12-04)';

const TIER_100K = ['us-east-1', 'us-west-2', 'eu-west-1'];
const TIER_20K = ['us-east-2', 'ap-southeast-1', 'ap-southeast-2', 'ap-northeast-1', 'eu-central-1', 'eu-west-2'];
export const KMS_QUOTA_LOWEST_TIER = 10_000;

/** The default shared symmetric request quota of a region. */
export function defaultKmsQuota(region: string): number {
  if (TIER_100K.includes(region)) return 100_000;
  if (TIER_20K.includes(region)) return 20_000;
  return KMS_QUOTA_LOWEST_TIER;
}

export interface KmsQuota {
  readonly perSecond: number;
  readonly region: string;
  /** `default for <region>` or `--kms-quota`. */
  readonly from: string;
}

/** The quota in force: the flag's when given (a positive number), else the region's default. */
export function kmsQuota(region: string, override?: number): KmsQuota {
  if (override === undefined)
    return { perSecond: defaultKmsQuota(region), region, from: `default for ${region} (${KMS_QUOTA_SOURCE})` };
  if (!Number.isFinite(override) || override <= 0)
    throw new PlanInputError([`expected a positive number of requests per second, got ${override}`], '--kms-quota');
  return { perSecond: override, region, from: '--kms-quota' };
}
