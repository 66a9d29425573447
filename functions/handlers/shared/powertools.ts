import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { POWERTOOLS_ENV } from '../../core/environment-names';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../../core/metrics-names';

/** One Logger/Metrics/Tracer per container, shared by the handlers. Logs carry ids and counts only. */
export const logger = new Logger({ serviceName: process.env[POWERTOOLS_ENV.serviceName] ?? SERVICE_NAME });
export const metrics = new Metrics({
  namespace: process.env[POWERTOOLS_ENV.metricsNamespace] ?? METRICS_NAMESPACE,
  serviceName: SERVICE_NAME,
});
export const tracer = new Tracer({ serviceName: SERVICE_NAME });
