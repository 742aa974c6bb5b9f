import {
  type Attributes,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
  type Tracer,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter as OTLPJsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OTLPProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { PinoStorageContextManager } from './pino-storage-context-manager';

let provider: BasicTracerProvider | undefined;

export interface TracingOptions {
  /** false: leave the OpenTelemetry API a no-op (spans cost next to nothing, nothing propagates). */
  enabled?: boolean;
  serviceName: string;
  otlpEndpoint?: string;
  /** OTLP/HTTP body encoding: protobuf (the default: ~half the bytes of JSON, less CPU) or JSON. */
  otlpProtocol?: 'http/protobuf' | 'http/json';
  sampleRatio: number;
}

/** Whether tracing is on for a configuration: explicitly, or because an exporter is set. */
export function tracingEnabled(o: { tracesEnabled?: boolean; otlpEndpoint?: string }): boolean {
  return o.tracesEnabled ?? o.otlpEndpoint !== undefined;
}

/**
 * Starts OpenTelemetry once per process. When enabled, spans get real ids (logs carry trace_id,
 * the bus propagates `traceparent`) and are exported when an OTLP endpoint is set. When not, the
 * API stays a no-op: nothing is tracked or stored (what tracing on costs: docs/OBSERVABILITY.md).
 */
export function setupTracing(options: TracingOptions): void {
  if (provider || options.enabled === false) return;
  const spanProcessors: SpanProcessor[] = [];
  if (options.otlpEndpoint) {
    const url = `${options.otlpEndpoint.replace(/\/$/, '')}/v1/traces`;
    const exporter =
      options.otlpProtocol === 'http/json'
        ? new OTLPJsonTraceExporter({ url })
        : new OTLPProtoTraceExporter({ url });
    spanProcessors.push(new BatchSpanProcessor(exporter));
  }
  provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: options.serviceName }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(options.sampleRatio) }),
    spanProcessors,
  });
  // In nestjs-pino's AsyncLocalStorage, not a second one (see PinoStorageContextManager).
  context.setGlobalContextManager(new PinoStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
}

export async function shutdownTracing(): Promise<void> {
  await provider?.shutdown();
}

/** Whether this process set tracing up (false: the API is a no-op and nothing is stored). */
export function tracingActive(): boolean {
  return provider !== undefined;
}

/** W3C trace context as stored on a task record and passed in MCP `_meta`. */
export interface TraceCarrier {
  traceparent: string;
  tracestate?: string;
}

/**
 * The active span's W3C context (`traceparent`, and `tracestate` when there is one), or
 * undefined when tracing is off or no span is active: what a task record stores at enqueue so
 * that its dispatch joins the submitter's trace.
 */
export function currentTraceCarrier(): TraceCarrier | undefined {
  if (!provider || !trace.getSpanContext(context.active())) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  if (!carrier.traceparent) return undefined;
  return {
    traceparent: carrier.traceparent,
    ...(carrier.tracestate ? { tracestate: carrier.tracestate } : {}),
  };
}

/**
 * Runs `fn` inside a new active span whose parent is the context in `carrier` (a stored task
 * context, incoming headers), or the active context when the carrier holds none.
 */
export async function withSpanFrom<T>(
  carrier: TraceCarrier | Record<string, unknown> | undefined,
  name: string,
  attributes: Attributes,
  fn: (span: Span) => Promise<T>,
  kind: SpanKind = SpanKind.INTERNAL,
): Promise<T> {
  const parent =
    provider && carrier?.traceparent ? propagation.extract(ROOT_CONTEXT, carrier) : undefined;
  if (!parent || !trace.getSpanContext(parent)) return withSpan(name, attributes, fn, kind);
  return context.with(parent, () => withSpan(name, attributes, fn, kind));
}

let switchyardTracer: Tracer | undefined;

/** This process's tracer (looked up once tracing is set up: not a map lookup per span). */
export const tracer = (): Tracer =>
  switchyardTracer ??
  (provider
    ? (switchyardTracer = provider.getTracer('switchyard'))
    : trace.getTracer('switchyard'));

/** Runs `fn` inside a new active span; records errors and ends the span. */
export async function withSpan<T>(
  name: string,
  attributes: Attributes,
  fn: (span: Span) => Promise<T>,
  kind: SpanKind = SpanKind.INTERNAL,
): Promise<T> {
  return tracer().startActiveSpan(name, { attributes, kind }, async (span) => {
    try {
      return await fn(span);
    } catch (e) {
      span.recordException(e as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (e as Error).message });
      throw e;
    } finally {
      span.end();
    }
  });
}

/** The active span's ids for log lines (`trace_id`, `span_id`), or nothing outside a span. */
export function traceIds(): { trace_id?: string; span_id?: string } {
  const span = trace.getActiveSpan();
  if (!span) return {};
  const ctx = span.spanContext();
  return { trace_id: ctx.traceId, span_id: ctx.spanId };
}

/** Writes the active trace context into a carrier (e.g. message headers). */
export function injectTraceContext(carrier: Record<string, unknown> = {}): Record<string, unknown> {
  propagation.inject(context.active(), carrier);
  return carrier;
}

/** Runs `fn` with the trace context found in a carrier (e.g. incoming message headers). */
export function withExtractedContext<T>(
  carrier: Record<string, unknown> | undefined,
  fn: () => T,
): T {
  const ctx = propagation.extract(context.active(), carrier ?? {});
  return context.with(ctx, fn);
}
