import type { RotationPlan } from './estimate';
import type { PlanSettings } from './estimate';
import { batchSizeFactor } from './throughput';

export interface Recommendation {
  /** Stable id: `use-rewrap`, `use-hierarchical`, `larger-batch`, `lower-concurrency-kms`, `lower-concurrency-database`, `values-will-fail`. */
  readonly code: string;
  readonly message: string;
}

/** Share of the account's KMS quota a job should leave to the applications that share it. */
export const KMS_QUOTA_SHARE = 0.5;
/** Batch size below which the per-batch round trips cost measurably (docs/performance.md). */
const SMALL_BATCH = 1000;
/** Per-value KMS calls from which the hierarchical keyring is worth naming. */
const MANY_KMS_CALLS = 10_000;
/** The CLI workers beyond which this machine class measured no gain (2 cores). */
const CLI_USEFUL_WORKERS = 2;

/** What an operator should change when the plan is poor; empty when it is fine. */
export function recommend(plan: Omit<RotationPlan, 'recommendations'>, s: PlanSettings): Recommendation[] {
  const out: Recommendation[] = [];
  const t = plan.total;
  const secs = (x: number): string => (x < 0.1 ? 'under 0.1 s' : `${x < 10 ? x.toFixed(1) : Math.round(x)} s`);
  const n = (x: number): string => Math.round(x).toLocaleString('en-US');
  if (plan.mode === 'reencrypt' && t.operations.reencrypt > 0) {
    const kms =
      plan.keyring === 'kms'
        ? ` and ${n(t.operations.reencrypt)} KMS calls instead of ${n(2 * t.operations.reencrypt)}`
        : '';
    const faster = s.alternatives?.rewrap
      ? ` (about ${secs(t.rowsToChange / s.alternatives.rewrap.rowsPerSecond)} instead of ${secs(plan.duration.batchPhaseSeconds)})`
      : '';
    out.push({
      code: 'use-rewrap',
      message: `--mode rewrap moves the same ${n(t.operations.reencrypt)} values by re-wrapping their data keys only${faster}${kms}; re-encrypt only when data keys or the old key may be compromised.`,
    });
  }
  const perValueKms = plan.tables.reduce((a, x) => a + x.kmsCalls, 0);
  if (plan.keyring === 'kms' && perValueKms >= MANY_KMS_CALLS) {
    const saved = perValueKms * s.prices.kmsRequest;
    out.push({
      code: 'use-hierarchical',
      message: `the kms keyring makes ${n(perValueKms)} KMS calls (one or two per value, $${saved.toFixed(2)}, and bounded by the KMS quota); the hierarchical keyring makes a handful per worker per cache TTL — use it unless every decrypt must be its own CloudTrail record.`,
    });
  }
  if (s.batchSize < SMALL_BATCH && t.rowsToChange > s.batchSize) {
    const better = (plan.duration.batchPhaseSeconds * batchSizeFactor(s.batchSize)) / batchSizeFactor(2000);
    out.push({
      code: 'larger-batch',
      message: `batches of ${s.batchSize} rows pay a round trip and bookkeeping each: -b 2000 is about ${secs(better)} instead of ${secs(plan.duration.batchPhaseSeconds)} for the batch phase.`,
    });
  }
  const budget = KMS_QUOTA_SHARE * plan.throughput.kmsQuotaPerSecond;
  if (plan.throughput.kmsRequestsPerSecond > budget || plan.throughput.limitedBy === 'kms-quota') {
    const lower = Math.max(1, Math.floor((s.concurrency * budget) / Math.max(1, plan.throughput.kmsRequestsPerSecond)));
    out.push({
      code: 'lower-concurrency-kms',
      message:
        `${n(plan.throughput.kmsRequestsPerSecond)} KMS requests/s would use ${Math.round((100 * plan.throughput.kmsRequestsPerSecond) / plan.throughput.kmsQuotaPerSecond)} % of the account's ${n(plan.throughput.kmsQuotaPerSecond)}/s quota, which applications share (throttled decrypts fail their requests)` +
        (lower < s.concurrency
          ? `: --concurrency ${lower} keeps the job under ${Math.round(KMS_QUOTA_SHARE * 100)} %.`
          : ': raise the quota or run off-peak.'),
    });
  }
  if (plan.runner === 'cli' && s.concurrency > CLI_USEFUL_WORKERS) {
    out.push({
      code: 'lower-concurrency-database',
      message: `--concurrency ${s.concurrency}: beyond ${CLI_USEFUL_WORKERS} workers the database, not the crypto, is the bound here (docs/performance.md); more workers add load on it, not speed — --concurrency ${CLI_USEFUL_WORKERS}.`,
    });
  }
  if (t.operations.failing > 0) {
    out.push({
      code: 'values-will-fail',
      message: `${n(t.operations.failing)} values cannot be moved in ${plan.mode} mode and would end as row errors: legacy values (Fernet, JSON key_id) need --mode migrate, plaintext needs --mode encrypt.`,
    });
  }
  return out;
}
