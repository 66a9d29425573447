/**
 * An error as the Data API returns it: an HTTP status, the error type in the
 * x-amzn-ErrorType header (how the SDK picks the exception class) and a JSON
 * body with the message.
 */
export class DataApiFault extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = statusOf(type),
  ) {
    super(message);
  }
}

export const badRequest = (message: string): DataApiFault => new DataApiFault('BadRequestException', message);

/** HTTP status per error type, as the service model in @aws-sdk/client-rds-data declares them (429 for throttling, as AWS services send it). */
const STATUS: Record<string, number> = {
  AccessDeniedException: 403,
  ForbiddenException: 403,
  DatabaseNotFoundException: 404,
  NotFoundException: 404,
  TransactionNotFoundException: 404,
  InternalServerErrorException: 500,
  ServiceUnavailableError: 503,
  DatabaseUnavailableException: 504,
  ThrottlingException: 429,
  TooManyRequestsException: 429,
};

export function statusOf(type: string): number {
  return STATUS[type] ?? 400;
}
