import { Stack, Validations } from 'aws-cdk-lib';
import type { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IConstruct } from 'constructs';

/**
 * cdk-nag acknowledgments, always next to the resource they excuse and always
 * with a reason. cdk-nag v3 acknowledges each finding of AwsSolutions-IAM5 by
 * its own id (`AwsSolutions-IAM5[Resource::<Fn.Arn>:*]`); these helpers compute
 * those ids from the statement itself, so an acknowledgment covers exactly
 * the wildcard it was written for and nothing added later.
 */

/** Acknowledges one cdk-nag rule (or finding) on `scope` and everything under it. */
export function acknowledge(scope: IConstruct, id: string, reason: string): void {
  Validations.of(scope).acknowledge({ id, reason });
}

/** Acknowledges the AwsSolutions-IAM5 findings `statement` raises (its `*` actions and resources) on `scope`. */
export function acknowledgeWildcards(scope: IConstruct, statement: PolicyStatement, reason: string): void {
  for (const id of wildcardFindingIds(scope, statement)) acknowledge(scope, id, reason);
}

/** The AwsSolutions-IAM5 finding ids of one statement, as cdk-nag names them. */
export function wildcardFindingIds(scope: IConstruct, statement: PolicyStatement): string[] {
  const json = Stack.of(scope).resolve(statement.toStatementJson()) as { Action?: unknown; Resource?: unknown };
  const ids: string[] = [];
  for (const action of asArray(json.Action)) {
    if (typeof action === 'string' && action.includes('*')) ids.push(`AwsSolutions-IAM5[Action::${action}]`);
  }
  for (const resource of asArray(json.Resource)) {
    const flat = flattenReference(resource);
    if (flat.includes('*')) ids.push(`AwsSolutions-IAM5[Resource::${flat}]`);
  }
  return ids;
}

/** The IAM5 finding id of a resource ARN string (a token is resolved and flattened as cdk-nag does). */
export function wildcardResourceFindingId(scope: IConstruct, resourceArn: string): string {
  return `AwsSolutions-IAM5[Resource::${flattenReference(Stack.of(scope).resolve(resourceArn))}]`;
}

function asArray(value: unknown): unknown[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/** Same flattening as cdk-nag's flattenCfnReference: `{Fn::GetAtt: [X, Arn]}` → `<X.Arn>`, `{Ref: X}` → `<X>`. */
function flattenReference(node: unknown): string {
  if (node === undefined) return '';
  if (typeof node === 'string') return node.replace(/\${/g, '<').replace(/}/g, '>');
  const obj = node as Record<string, unknown>;
  if (obj['Fn::Join']) {
    const [delimiter, items] = obj['Fn::Join'] as [string, unknown[]];
    return items.map(flattenReference).join(delimiter);
  }
  if (obj['Fn::Sub']) return flattenReference(obj['Fn::Sub']);
  if (obj['Fn::GetAtt']) {
    const [resource, attribute] = obj['Fn::GetAtt'] as [unknown, unknown];
    return `<${flattenReference(resource)}.${flattenReference(attribute)}>`;
  }
  if (obj['Fn::ImportValue']) return flattenReference(obj['Fn::ImportValue']);
  if (obj.Ref) return `<${flattenReference(obj.Ref)}>`;
  return JSON.stringify(node);
}
