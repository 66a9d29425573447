import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRekeyApp, EXAMPLE_REGISTRY, loadCdkJsonContext } from './app';
import { InfraError } from './errors';
import type { RekeyStackProps } from './rekey-stack';

/** An Amazon States Language definition, as parsed JSON. */
export interface StateMachineDefinition {
  readonly StartAt: string;
  readonly States: Record<string, Record<string, unknown>>;
  readonly [field: string]: unknown;
}

/** The synthesized template held no state machine, or one whose definition could not be made concrete. */
export class DefinitionSynthesisError extends InfraError {
  readonly code = 'DEFINITION_SYNTHESIS';
}

/** Stand-ins for CloudFormation pseudo parameters in the concrete definition. */
const PSEUDO: Readonly<Record<string, string>> = {
  'AWS::Partition': 'aws',
  'AWS::Region': 'us-east-1',
  'AWS::AccountId': '123456789012',
  'AWS::URLSuffix': 'amazonaws.com',
};

/**
 * What the definition is synthesized with when the caller gives no database or
 * registry: the definition does not depend on either (they reach the functions
 * as environment), and the app's deploy contract requires them.
 */
const DEFINITION_STAND_INS: Pick<RekeyStackProps, 'database' | 'registry'> = {
  database: {
    clusterArn: 'arn:aws:rds:us-east-1:123456789012:cluster:rekey-local',
    secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:rekey-local-AbCdEf',
    databaseName: 'rekey',
  },
  registry: EXAMPLE_REGISTRY,
};

/**
 * Synthesizes the rekey app (the same feature flags as cdk.json; no bundling,
 * no cdk-nag) and returns the re-encryption state machine's definition as it
 * is deployed, for the local runtime (aws-local-stepfunctions), which
 * overrides each Task by state name. References the template resolves at
 * deploy time become fixed stand-ins: a function ARN is
 * `arn:aws:lambda:us-east-1:123456789012:function:<logical id>`.
 *
 * @param props stack props; a database and a registry stand in when not given (the definition depends on neither)
 */
export function synthesizeStateMachineDefinition(props: Partial<RekeyStackProps> = {}): StateMachineDefinition {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'rekey-synth-'));
  try {
    const { app, stack } = createRekeyApp({
      nag: false,
      outdir,
      context: { ...loadCdkJsonContext(), 'aws:cdk:bundling-stacks': [] },
      stackProps: {
        ...(props.trialDatabase ? {} : { database: DEFINITION_STAND_INS.database }),
        registry: DEFINITION_STAND_INS.registry,
        ...props,
      },
    });
    const template = app.synth().getStackByName(stack.stackName).template as {
      Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
    };
    const machines = Object.entries(template.Resources).filter(
      ([, r]) => r.Type === 'AWS::StepFunctions::StateMachine',
    );
    if (machines.length !== 1)
      throw new DefinitionSynthesisError(`expected one state machine in ${stack.stackName}, found ${machines.length}`);
    const [logicalId, machine] = machines[0]!;
    const text = concrete(machine.Properties?.DefinitionString, logicalId);
    return JSON.parse(text) as StateMachineDefinition;
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}

/** A CloudFormation string expression made concrete: Fn::Join, Ref and Fn::GetAtt Arn. */
function concrete(value: unknown, where: string): string {
  if (typeof value === 'string') return value;
  const obj = (value ?? {}) as Record<string, unknown>;
  if (Array.isArray(obj['Fn::Join'])) {
    const [delimiter, parts] = obj['Fn::Join'] as [string, unknown[]];
    return parts.map((p) => concrete(p, where)).join(delimiter);
  }
  if (typeof obj.Ref === 'string') {
    const pseudo = PSEUDO[obj.Ref];
    if (pseudo) return pseudo;
    return obj.Ref;
  }
  if (Array.isArray(obj['Fn::GetAtt'])) {
    const [id, attribute] = obj['Fn::GetAtt'] as [string, string];
    if (attribute === 'Arn')
      return `arn:aws:lambda:${PSEUDO['AWS::Region']}:${PSEUDO['AWS::AccountId']}:function:${id}`;
    return `${id}.${attribute}`;
  }
  throw new DefinitionSynthesisError(`${where}: cannot make ${JSON.stringify(value)} concrete in the definition`);
}
