import { z } from 'zod';

/** One configuration value: the environment variable it comes from, its schema and a line of docs. */
export interface ConfigField<T extends z.ZodType = z.ZodType> {
  readonly env: string;
  readonly schema: T;
  readonly doc: string;
  /** Shown in `.env.example` instead of the default (e.g. for secrets). */
  readonly example?: string;
  /** Keep the value out of logs and `.env.example`. */
  readonly secret?: boolean;
}

export type ConfigFields = Record<string, ConfigField>;

/** A setting that is wrong only together with another one (e.g. "required when X is set"). */
export interface ConfigProblem {
  env: string;
  message: string;
}

export interface ConfigSection<F extends ConfigFields = ConfigFields> {
  readonly name: string;
  readonly title: string;
  readonly fields: F;
  /** Rules across fields of the section (e.g. two settings that exclude each other). */
  readonly check?: (env: Record<string, string | undefined>) => { env: string; message: string }[];
  /** Rules on the parsed values, run when every field parsed (method syntax: bivariant). */
  checkValues?(value: { [K in keyof F]: z.output<F[K]['schema']> }): ConfigProblem[];
}

export type SectionValue<S extends ConfigSection> = {
  [K in keyof S['fields']]: z.output<S['fields'][K]['schema']>;
};

export function field<T extends z.ZodType>(
  env: string,
  schema: T,
  doc: string,
  extra: { example?: string; secret?: boolean } = {},
): ConfigField<T> {
  return { env, schema, doc, ...extra };
}

export function defineSection<F extends ConfigFields>(
  name: string,
  title: string,
  fields: F,
  check?: ConfigSection['check'],
  checkValues?: (value: { [K in keyof F]: z.output<F[K]['schema']> }) => ConfigProblem[],
): ConfigSection<F> {
  return {
    name,
    title,
    fields,
    ...(check ? { check } : {}),
    ...(checkValues ? { checkValues } : {}),
  };
}

/** Integer from an env string, with bounds. */
export const int = (min: number, max: number = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().int().min(min).max(max);

/** Positive number (may be fractional) from an env string. */
export const num = (min: number, max: number = Number.MAX_VALUE) =>
  z.coerce.number().min(min).max(max);

/** Boolean from an env string: true/false/1/0/yes/no/on/off. */
export const bool = () =>
  z.preprocess(
    (v) => {
      if (typeof v !== 'string') return v;
      const s = v.trim().toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(s)) return true;
      if (['false', '0', 'no', 'off', ''].includes(s)) return false;
      return v;
    },
    z.boolean({ error: 'expected true/false (also 1/0, yes/no, on/off)' }),
  );

/** Comma-separated list from an env string. */
export const list = () =>
  z.preprocess(
    (v) =>
      typeof v === 'string'
        ? v
            .split(',')
            .map((s) => s.trim())
            .filter((s) => s.length > 0)
        : v,
    z.array(z.string()),
  );
