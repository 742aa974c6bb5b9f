import { ArgumentsHost, Catch, ExceptionFilter, Logger } from '@nestjs/common';
import { redactUrl } from '../../observability/logging';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ErrorBody } from './error-body.type';
import { toMappedError } from './to-error-body.util';

/** Turns every error on an HTTP route into the one error shape; never leaks a stack trace. */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpError');

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw exception;
    const ctx = host.switchToHttp();
    const request = ctx.getRequest<FastifyRequest>();
    const reply = ctx.getResponse<FastifyReply>();
    sendError(reply, request, exception, this.logger);
  }
}

export function sendError(
  reply: FastifyReply,
  request: FastifyRequest,
  exception: unknown,
  logger: Pick<Logger, 'error'>,
): void {
  const mapped = toMappedError(exception);
  const requestId = String(request.id);
  if (mapped.unexpected) {
    logger.error(
      { err: exception, requestId, method: request.method, url: redactUrl(request.url) },
      'unhandled error while serving request',
    );
  }
  const body: ErrorBody = {
    error: { code: mapped.code, message: mapped.message, details: mapped.details, requestId },
  };
  if (reply.sent) return;
  void reply
    .status(mapped.status)
    .header('content-type', 'application/json; charset=utf-8')
    .send(body);
}
