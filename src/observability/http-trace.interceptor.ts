import {
  type CallHandler,
  type ExecutionContext,
  Injectable,
  type NestInterceptor,
} from '@nestjs/common';
import { SpanKind } from '@opentelemetry/api';
import { defaultIfEmpty, from, lastValueFrom, type Observable } from 'rxjs';
import { tracingActive, withSpanFrom } from './tracing';

/**
 * One server span per REST call (`POST /v1/tasks`, ...), a child of the caller's W3C
 * `traceparent` header when it sends one: what the call does (an enqueue, and through the context
 * stored on the task, its dispatch, the worker's execution and delegated children) lands in the
 * caller's trace. Only when tracing is on; health, metrics and `/mcp` (its tool calls carry their
 * own context in `_meta`) are left alone.
 */
@Injectable()
export class HttpTraceInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (!tracingActive() || context.getType() !== 'http') return next.handle();
    const req = context.switchToHttp().getRequest<{
      method?: string;
      url?: string;
      headers?: Record<string, unknown>;
      routeOptions?: { url?: string };
    }>();
    const route = req.routeOptions?.url ?? '';
    if (route === '' || route === '/metrics' || /^\/(health|mcp)(\/|$)/.test(route)) {
      return next.handle();
    }
    const name = `${req.method ?? 'HTTP'} ${route}`;
    return from(
      withSpanFrom(
        req.headers,
        name,
        { 'http.method': req.method ?? '', 'http.route': route },
        // The handler runs inside the span: what it starts (task_enqueue) is its child.
        () => lastValueFrom(next.handle().pipe(defaultIfEmpty(undefined))),
        SpanKind.SERVER,
      ),
    );
  }
}
