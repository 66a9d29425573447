import { randomUUID } from 'node:crypto';
import { RotateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SecretRotationStarter } from '../../../functions/core/ports/secrets';
import { awsClientConfig, motoEndpoint } from '../../support/aws';

/**
 * Makes moto stage a rotation the way Secrets Manager does, so the rotation
 * steps meet the state they meet on AWS: RotateSecret with a rotation Lambda
 * enables rotation, and creates the token's version — without a value —
 * staged AWSPENDING, leaving AWSCURRENT where it is.
 *
 * moto only does that when the Lambda exists; with its docker-free Lambda
 * backend (`use_docker: false`, a moto server setting that only Lambda
 * invocations read) the invocations it makes are no-ops, and the test then
 * calls the four steps itself, as Secrets Manager would call the function.
 * No SDK client for IAM or Lambda is installed, so the two set-up calls go to
 * moto as plain HTTP (moto routes by the credential scope and does not check
 * the signature).
 *
 * moto quirk: RotateSecret also points the secret's default version at the
 * token. Only a GetSecretValue without VersionStage would see that; rekey
 * always passes one.
 */
export async function motoRotationLambda(): Promise<string> {
  const endpoint = motoEndpoint();
  await expectOk(
    fetch(`${endpoint}/moto-api/config`, { method: 'POST', body: JSON.stringify({ lambda: { use_docker: false } }) }),
    'moto config',
  );
  const name = `rekey-rotation-${randomUUID().slice(0, 8)}`;
  const role = await expectOk(
    fetch(`${endpoint}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: scope('iam') },
      body: new URLSearchParams({
        Action: 'CreateRole',
        Version: '2010-05-08',
        RoleName: name,
        AssumeRolePolicyDocument: '{}',
      }),
    }),
    'iam:CreateRole',
  );
  const roleArn = /<Arn>([^<]+)<\/Arn>/.exec(role)?.[1];
  if (!roleArn) throw new Error('moto iam:CreateRole answered without an Arn');
  const fn = await expectOk(
    fetch(`${endpoint}/2015-03-31/functions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: scope('lambda') },
      // An empty zip: moto's docker-free backend never runs it.
      body: JSON.stringify({
        FunctionName: name,
        Runtime: 'nodejs20.x',
        Role: roleArn,
        Handler: 'index.handler',
        Code: { ZipFile: Buffer.from(`PK\x05\x06${'\0'.repeat(18)}`, 'binary').toString('base64') },
      }),
    }),
    'lambda:CreateFunction',
  );
  return (JSON.parse(fn) as { FunctionArn: string }).FunctionArn;
}

/** RotateSecret as the rotation schedule issues it; returns the token the steps run with. */
export async function startMotoRotation(
  secretId: string,
  lambdaArn: string,
  token: string = randomUUID(),
): Promise<string> {
  const client = new SecretsManagerClient(awsClientConfig());
  // Always with the Lambda ARN: without one, moto promotes the (empty) new version to AWSCURRENT at once.
  await client.send(
    new RotateSecretCommand({
      SecretId: secretId,
      ClientRequestToken: token,
      RotationLambdaARN: lambdaArn,
      RotationRules: { AutomaticallyAfterDays: 90 },
    }),
  );
  return token;
}

/**
 * The operator's RotateSecret (SecretRotationStarter) against moto, with the
 * rotation service's asynchronous side played by `service`: AWS answers
 * RotateSecret at once and invokes the rotation function afterwards, so the
 * steps run after this returns, as a background task the test can await.
 *
 * moto quirk: RotateSecret without RotationLambdaARN clears the configured
 * function and promotes the (empty) new version at once, where AWS keeps the
 * function and stages AWSPENDING. So this passes the ARN moto needs; the
 * product's adapter, like an operator, passes none.
 */
export function motoRotationStarter(
  lambdaArn: string,
  service: (token: string) => Promise<void>,
): SecretRotationStarter & { readonly settled: () => Promise<void> } {
  const running: Promise<void>[] = [];
  return {
    async rotateSecret({ secretId, clientRequestToken }) {
      await startMotoRotation(secretId, lambdaArn, clientRequestToken);
      running.push(new Promise<void>((resolve) => setTimeout(resolve, 50)).then(() => service(clientRequestToken)));
      return { versionId: clientRequestToken };
    },
    settled: async () => void (await Promise.all(running)),
  };
}

function scope(service: string): string {
  const region = awsClientConfig().region;
  return `AWS4-HMAC-SHA256 Credential=testing/20260101/${region}/${service}/aws4_request, SignedHeaders=host, Signature=0`;
}

async function expectOk(response: Promise<Response>, what: string): Promise<string> {
  const res = await response;
  const body = await res.text();
  if (!res.ok) throw new Error(`moto ${what} failed with HTTP ${res.status}: ${body.slice(0, 300)}`);
  return body;
}
