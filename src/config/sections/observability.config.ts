import { z } from 'zod';
import { bool, defineSection, field, num } from '../config-field.util';

export const observabilitySection = defineSection('observability', 'Metrics and tracing', {
  serviceName: field(
    'OTEL_SERVICE_NAME',
    z.string().min(1).default('switchyard'),
    'Service name on spans',
  ),
  otlpEndpoint: field(
    'OTEL_EXPORTER_OTLP_ENDPOINT',
    z.string().url().optional(),
    'OTLP/HTTP endpoint (e.g. http://localhost:4318); spans are exported only when set',
  ),
  otlpProtocol: field(
    'OTEL_EXPORTER_OTLP_PROTOCOL',
    z.enum(['http/protobuf', 'http/json']).default('http/protobuf'),
    'OTLP/HTTP encoding of exported spans: http/protobuf (smaller, cheaper to serialise) or http/json',
  ),
  tracesEnabled: field(
    'OTEL_TRACES_ENABLED',
    bool().optional(),
    'Record spans (W3C trace context on the bus, trace_id in logs). Default: on when OTEL_EXPORTER_OTLP_ENDPOINT is set; off otherwise (what tracing costs: docs/OBSERVABILITY.md)',
  ),
  traceSampleRatio: field(
    'OTEL_TRACES_SAMPLER_RATIO',
    num(0, 1).default(1),
    'Fraction of traces sampled',
  ),
});
