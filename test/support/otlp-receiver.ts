import { createServer, type Server } from 'node:http';

/** One span as an OTLP/HTTP JSON export carries it, with its resource's service name. */
export interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes: Record<string, unknown>;
  status?: { code?: number; message?: string };
  events: { name: string }[];
}

interface AnyValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
}
interface KeyValue {
  key: string;
  value: AnyValue;
}
interface OtlpExport {
  resourceSpans?: {
    resource?: { attributes?: KeyValue[] };
    scopeSpans?: {
      spans?: {
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        name: string;
        attributes?: KeyValue[];
        status?: { code?: number; message?: string };
        events?: { name: string }[];
      }[];
    }[];
  }[];
}

/** One protobuf field: its number and value (a varint, or the bytes of any other wire type). */
interface PbField {
  no: number;
  varint?: bigint;
  bytes?: Buffer;
}

/** The fields of one protobuf message (wire types 0, 1, 2 and 5; enough for OTLP traces). */
function pbFields(buf: Buffer): PbField[] {
  const out: PbField[] = [];
  let pos = 0;
  const varint = (): bigint => {
    let v = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (pos >= buf.length) throw new Error('truncated protobuf varint');
      const b = buf[pos++];
      v |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return v;
    }
  };
  while (pos < buf.length) {
    const tag = Number(varint());
    const no = tag >>> 3;
    const wire = tag & 7;
    if (wire === 0) out.push({ no, varint: varint() });
    else if (wire === 1 || wire === 5) {
      const n = wire === 1 ? 8 : 4;
      out.push({ no, bytes: buf.subarray(pos, pos + n) });
      pos += n;
    } else if (wire === 2) {
      const n = Number(varint());
      out.push({ no, bytes: buf.subarray(pos, pos + n) });
      pos += n;
    } else throw new Error(`unsupported protobuf wire type ${wire}`);
  }
  return out;
}

const pbAll = (fs: PbField[], no: number): Buffer[] =>
  fs.filter((f) => f.no === no && f.bytes).map((f) => f.bytes!);
const pbOne = (fs: PbField[], no: number): Buffer | undefined => pbAll(fs, no)[0];

/** KeyValue list (field `no` of a message) as JSON-encoding KeyValues. */
function pbKeyValues(fs: PbField[], no: number): KeyValue[] {
  return pbAll(fs, no).map((kvBuf) => {
    const kv = pbFields(kvBuf);
    const v = pbFields(pbOne(kv, 2) ?? Buffer.alloc(0));
    const value: AnyValue = {};
    for (const f of v) {
      if (f.no === 1) value.stringValue = f.bytes!.toString('utf8');
      else if (f.no === 2) value.boolValue = f.varint !== 0n;
      else if (f.no === 3) value.intValue = Number(BigInt.asIntN(64, f.varint!));
      else if (f.no === 4) value.doubleValue = f.bytes!.readDoubleLE(0);
    }
    return { key: pbOne(kv, 1)?.toString('utf8') ?? '', value };
  });
}

/** An OTLP/HTTP protobuf ExportTraceServiceRequest in the shape of its JSON encoding. */
function decodeProtobufExport(body: Buffer): OtlpExport {
  const hex = (b: Buffer | undefined) => (b && b.length > 0 ? b.toString('hex') : undefined);
  return {
    resourceSpans: pbAll(pbFields(body), 1).map((rsBuf) => {
      const rs = pbFields(rsBuf);
      const resource = pbOne(rs, 1);
      return {
        resource: { attributes: resource ? pbKeyValues(pbFields(resource), 1) : [] },
        scopeSpans: pbAll(rs, 2).map((ssBuf) => ({
          spans: pbAll(pbFields(ssBuf), 2).map((spanBuf) => {
            const sp = pbFields(spanBuf);
            const status = pbOne(sp, 15);
            const st = status ? pbFields(status) : [];
            return {
              traceId: hex(pbOne(sp, 1)) ?? '',
              spanId: hex(pbOne(sp, 2)) ?? '',
              parentSpanId: hex(pbOne(sp, 4)),
              name: pbOne(sp, 5)?.toString('utf8') ?? '',
              attributes: pbKeyValues(sp, 9),
              status: status
                ? {
                    code: Number(st.find((f) => f.no === 3)?.varint ?? 0n),
                    message: pbOne(st, 2)?.toString('utf8'),
                  }
                : undefined,
              events: pbAll(sp, 11).map((e) => ({
                name: pbOne(pbFields(e), 2)?.toString('utf8') ?? '',
              })),
            };
          }),
        })),
      };
    }),
  };
}

const valueOf = (v: AnyValue): unknown =>
  v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : (v.doubleValue ?? v.boolValue));

const attrs = (kvs: KeyValue[] | undefined): Record<string, unknown> =>
  Object.fromEntries((kvs ?? []).map((kv) => [kv.key, valueOf(kv.value)]));

/**
 * A minimal OTLP/HTTP trace receiver (protobuf, the exporters' default, or JSON): what the OpenTelemetry collector would get from
 * `OTEL_EXPORTER_OTLP_ENDPOINT=<url>`. Keeps every span it receives.
 */
export async function startOtlpReceiver(): Promise<{
  url: string;
  spans: ReceivedSpan[];
  close: () => Promise<void>;
}> {
  const spans: ReceivedSpan[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const type = String(req.headers['content-type']);
      const json = type.includes('json');
      if (req.url !== '/v1/traces' || !(json || type.includes('protobuf'))) {
        res.writeHead(415).end();
        return;
      }
      const raw = Buffer.concat(chunks);
      const body = json ? (JSON.parse(raw.toString()) as OtlpExport) : decodeProtobufExport(raw);
      for (const rs of body.resourceSpans ?? []) {
        const service = String(attrs(rs.resource?.attributes)['service.name']);
        for (const ss of rs.scopeSpans ?? []) {
          for (const s of ss.spans ?? []) {
            spans.push({
              service,
              traceId: s.traceId,
              spanId: s.spanId,
              parentSpanId: s.parentSpanId || undefined,
              name: s.name,
              attributes: attrs(s.attributes),
              status: s.status,
              events: s.events ?? [],
            });
          }
        }
      }
      // An empty 200 is a full success in both encodings.
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
