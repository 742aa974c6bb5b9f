import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { ConfigService } from '../config/config.service';
import { loadConfig } from '../config/load-config';
import { EventsService } from '../events/events.service';
import { MetricsService } from '../observability/metrics.service';
import { tracer } from '../observability/tracing';
import { LocalBreakerPeers } from './breaker-peers';
import { BreakerRegistry } from './breaker-registry.service';

describe('BreakerRegistry tracing', () => {
  const exporter = new InMemorySpanExporter();
  const registry = new BreakerRegistry(
    new ConfigService(loadConfig({})),
    new EventsService(),
    new MetricsService(),
    new LocalBreakerPeers(),
  );

  beforeAll(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(
      new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
    );
  });

  afterAll(async () => {
    await registry.onModuleDestroy();
    trace.disable();
    context.disable();
  });

  it('runs a call inside a trace in a circuit_breaker_call span, and none outside a trace', async () => {
    await registry.fire('untraced', () => Promise.resolve(1));
    expect(exporter.getFinishedSpans()).toHaveLength(0);

    await tracer().startActiveSpan('task_execution', async (parent) => {
      await registry.fire('a1', () => Promise.resolve(1));
      parent.end();
    });
    const spans = exporter.getFinishedSpans();
    const call = spans.find((s) => s.name === 'circuit_breaker_call');
    const parent = spans.find((s) => s.name === 'task_execution');
    expect(call?.attributes).toMatchObject({ 'agent.id': 'a1', 'breaker.state': 'closed' });
    expect(call?.parentSpanContext?.spanId).toBe(parent?.spanContext().spanId);
  });
});
