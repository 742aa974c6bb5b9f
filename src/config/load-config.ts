import type { ConfigSection, SectionValue } from './config-field.util';
import { configSections } from './sections';

type Sections = typeof configSections;

/** The whole validated configuration, one object per section. */
export type AppConfigValues = { [K in keyof Sections]: SectionValue<Sections[K]> };

export type Env = Record<string, string | undefined>;

/** Thrown at boot when a setting is invalid; the message names every bad variable. */
export class ConfigValidationError extends Error {
  constructor(readonly problems: { env: string; message: string }[]) {
    super(
      `Invalid configuration:\n${problems.map((p) => `  - ${p.env}: ${p.message}`).join('\n')}`,
    );
    this.name = 'ConfigValidationError';
  }
}

function parseSection(
  section: ConfigSection,
  env: Env,
  problems: { env: string; message: string }[],
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const before = problems.length;
  for (const [key, f] of Object.entries(section.fields)) {
    const raw = env[f.env];
    const input = raw === undefined || raw === '' ? undefined : raw;
    const result = f.schema.safeParse(input);
    if (result.success) {
      out[key] = result.data;
    } else {
      const message = result.error.issues.map((i) => i.message).join('; ');
      problems.push({
        env: f.env,
        message: input === undefined ? `is required (${message})` : message,
      });
    }
  }
  problems.push(...(section.check?.(env) ?? []));
  // Checks on parsed values only make sense once every field of the section parsed.
  if (section.checkValues && problems.length === before) {
    problems.push(...section.checkValues(out));
  }
  return out;
}

/**
 * Reads and validates every setting from `env` (normally `process.env`). This is the only place
 * in Switchyard that reads environment variables.
 */
export function loadConfig(env: Env = process.env): AppConfigValues {
  const problems: { env: string; message: string }[] = [];
  const out: Record<string, unknown> = {};
  for (const [name, section] of Object.entries(configSections)) {
    out[name] = parseSection(section, env, problems);
  }
  if (problems.length > 0) throw new ConfigValidationError(problems);
  return out as AppConfigValues;
}

/** Renders `.env.example` from the section definitions, so the two cannot drift. */
export function renderEnvExample(): string {
  const lines: string[] = [
    '# Switchyard configuration. Every variable is optional (uncomment to set); the defaults work with',
    '# Redis on 127.0.0.1:6379 and RabbitMQ on 127.0.0.1:5672 (guest/guest).',
    '# Generated from src/config/sections by `npm run env:example` - do not edit by hand.',
    '',
  ];
  for (const section of Object.values(configSections) as ConfigSection[]) {
    lines.push(`# --- ${section.title} ---`);
    for (const f of Object.values(section.fields)) {
      lines.push(`# ${f.doc}`);
      const parsed = f.schema.safeParse(undefined);
      const def =
        parsed.success && parsed.data !== undefined
          ? JSON.stringify(parsed.data).replace(/^"|"$/g, '')
          : '';
      const value = f.example ?? (f.secret ? '' : def);
      // Everything stays commented: copying this file to .env changes nothing until you uncomment.
      lines.push(`# ${f.env}=${value}`);
    }
    lines.push('');
  }
  return lines.join('\n');
}
