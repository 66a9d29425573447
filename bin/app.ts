#!/usr/bin/env node
/**
 * The rekey CDK app (`npx cdk synth`, `npx cdk deploy`). Configure it with
 * context: an existing Aurora cluster and its registry,
 *   npx cdk deploy --outputs-file cdk-outputs.json -c rekey:clusterArn=arn:aws:rds:... \
 *     -c rekey:secretArn=arn:aws:secretsmanager:...-AbCdEf -c rekey:config=rekey.config.json
 * or a trial cluster with an example table: -c rekey:trial=true. Without either,
 * synthesis stops with one message listing what is missing. Every key and its
 * default: docs/deploy.md (names in lib/app.ts CONTEXT_KEYS). cdk-nag
 * AwsSolutions checks run at synthesis.
 */
import { runRekeyApp } from '../lib/app';

runRekeyApp();
