/**
 * Whether an SNS topic policy lets CloudWatch alarms publish. A topic policy
 * replaces SNS's default one, so a policy holding only a TLS Deny refuses
 * CloudWatch ("not authorized to perform: SNS:Publish … no resource-based
 * policy") and every alarm action fails while the alarm shows its action.
 *
 * Allowed when some Allow statement grants sns:Publish (or sns:* / *) to the
 * cloudwatch.amazonaws.com service principal or to everyone ("*", {"AWS": "*"},
 * as SNS's default policy does, scoped by conditions this check does not
 * judge), and no Deny on publishing applies without a condition. A Deny with a
 * condition (the aws:SecureTransport=false TLS rule) does not block
 * CloudWatch, which publishes over TLS.
 */
export function cloudWatchMayPublish(policyText: string | null): {
  readonly allowed: boolean;
  readonly reason: string;
} {
  if (policyText === null)
    return {
      allowed: true,
      reason: "no topic policy: SNS applies its default, which lets the account's alarms publish",
    };
  let statements: Record<string, unknown>[];
  try {
    const doc = JSON.parse(policyText) as { Statement?: unknown };
    statements = (Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement]).filter(
      (s): s is Record<string, unknown> => typeof s === 'object' && s !== null,
    );
  } catch {
    return { allowed: false, reason: 'the topic policy is not JSON' };
  }
  const publishes = (s: Record<string, unknown>): boolean =>
    list(s.Action).some((a) => ['sns:publish', 'sns:*', '*'].includes(a.toLowerCase()));
  const reachesCloudWatch = (s: Record<string, unknown>): boolean => {
    const p = s.Principal;
    if (p === '*') return true;
    if (typeof p !== 'object' || p === null) return false;
    const { Service, AWS } = p as { Service?: unknown; AWS?: unknown };
    return list(Service).includes('cloudwatch.amazonaws.com') || list(AWS).includes('*');
  };
  const blocking = statements.find(
    (s) => s.Effect === 'Deny' && publishes(s) && reachesCloudWatch(s) && s.Condition === undefined,
  );
  if (blocking)
    return {
      allowed: false,
      reason: `statement ${String(blocking.Sid ?? '(no Sid)')} denies sns:Publish without a condition`,
    };
  const allow = statements.find((s) => s.Effect === 'Allow' && publishes(s) && reachesCloudWatch(s));
  if (!allow) {
    return {
      allowed: false,
      reason:
        "no statement allows cloudwatch.amazonaws.com to sns:Publish: the policy replaced SNS's default, so every alarm action is refused",
    };
  }
  return { allowed: true, reason: `statement ${String(allow.Sid ?? '(no Sid)')} allows it` };
}

function list(value: unknown): string[] {
  return (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === 'string');
}
