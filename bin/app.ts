#!/usr/bin/env node
/**
 * The rekey CDK app (`npx cdk synth`, `npx cdk deploy`). Configure it with
 * context, e.g.
 *   npx cdk deploy -c rekey:clusterArn=arn:aws:rds:... -c rekey:secretArn=arn:aws:secretsmanager:... \
 *     -c rekey:config=rekey.config.json -c rekey:emails=ops@example.com
 * With no cluster given it builds a small trial Aurora Serverless v2 cluster;
 * with no rekey.config.json it uses a one-table example registry. The keys are
 * listed in lib/app.ts (CONTEXT_KEYS). cdk-nag AwsSolutions checks run at synthesis.
 */
import { createRekeyApp } from '../lib/app';

createRekeyApp();
