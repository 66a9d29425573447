/**
 * Lambda invocation parts for handler tests: `lambdaContext(name)` and
 * `sqsRecord(body)` (Powertools' `sqsRecordFactory` shape), plus the record
 * of a message received from a real queue. Built where the local runtime
 * builds them (functions/local/lambda-events.ts), so tests and the local
 * pipeline hand handlers the same shapes.
 */
export {
  lambdaContext,
  sqsRecord,
  sqsRecordOfMessage,
  type LambdaContextOptions,
  type SqsRecordOptions,
} from '../../functions/local/lambda-events';
