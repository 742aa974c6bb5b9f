import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

export const DASHBOARDS_DIR = join(__dirname, '..', '..', 'deploy', 'grafana', 'dashboards');
export const ALERTS_FILE = join(__dirname, '..', '..', 'deploy', 'prometheus', 'alerts.yml');

/** One PromQL or LogQL expression and where it comes from (for failure messages). */
export interface Query {
  where: string;
  expr: string;
  language: 'promql' | 'logql';
}

interface PanelLike {
  title?: string;
  datasource?: { type?: string };
  targets?: { expr?: string; datasource?: { type?: string } }[];
  panels?: PanelLike[];
}

/** Grafana's built-in variables and the dashboards' own, replaced by values that keep PromQL valid. */
const VARIABLES: Record<string, string> = {
  __rate_interval: '1m',
  __interval: '15s',
  __range: '1h',
  agent: '.*',
  agent_name: '.*',
  trace_id: '0123456789abcdef0123456789abcdef',
  task_id: 'task-1',
};

export function substituteVariables(expr: string): string {
  return expr.replace(/\$\{?(\w+)\}?/g, (m, name: string) => {
    const value = VARIABLES[name];
    if (value === undefined) throw new Error(`unknown dashboard variable ${m} in: ${expr}`);
    return value;
  });
}

/** Every query of every dashboard (panels, annotations, variables) and of alerts.yml, variables substituted. */
export function allQueries(): Query[] {
  const out: Query[] = [];
  for (const file of readdirSync(DASHBOARDS_DIR).filter((f) => f.endsWith('.json'))) {
    const dash = JSON.parse(readFileSync(join(DASHBOARDS_DIR, file), 'utf8')) as {
      panels: PanelLike[];
      annotations?: { list: { name: string; expr?: string; datasource?: { type?: string } }[] };
      templating?: { list: { name: string; query?: { query?: string } | string }[] };
    };
    const walk = (panels: PanelLike[]) => {
      for (const p of panels) {
        for (const t of p.targets ?? []) {
          if (!t.expr) continue;
          const type = t.datasource?.type ?? p.datasource?.type;
          out.push({
            where: `${file}: panel "${p.title}"`,
            expr: substituteVariables(t.expr),
            language: type === 'loki' ? 'logql' : 'promql',
          });
        }
        if (p.panels) walk(p.panels);
      }
    };
    walk(dash.panels);
    for (const a of dash.annotations?.list ?? []) {
      if (a.expr && a.datasource?.type === 'prometheus') {
        out.push({
          where: `${file}: annotation "${a.name}"`,
          expr: substituteVariables(a.expr),
          language: 'promql',
        });
      }
    }
    for (const v of dash.templating?.list ?? []) {
      const q = typeof v.query === 'string' ? v.query : v.query?.query;
      const m = q ? /^label_values\((\w+),\s*\w+\)$/.exec(q) : null;
      if (m) out.push({ where: `${file}: variable ${v.name}`, expr: m[1], language: 'promql' });
    }
  }
  const rules = parse(readFileSync(ALERTS_FILE, 'utf8')) as {
    groups: { rules: { alert?: string; record?: string; expr: string }[] }[];
  };
  for (const r of rules.groups.flatMap((g) => g.rules)) {
    out.push({
      where: `alerts.yml: ${r.alert ?? r.record}`,
      expr: r.expr.trim(),
      language: 'promql',
    });
  }
  return out;
}

const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'offset',
  'bool',
  'inf',
  'nan',
]);

/**
 * The metric names a PromQL expression selects: identifiers that are not functions, keywords,
 * label names (inside `{}` or a `by (...)`-style list) or parts of strings, ranges or numbers.
 */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  const token = /[A-Za-z_:][\w:]*|\d[\w.]*/g;
  for (let m = token.exec(stripped); m; m = token.exec(stripped)) {
    const word = m[0];
    if (/^\d/.test(word) || KEYWORDS.has(word.toLowerCase())) continue;
    const rest = stripped.slice(m.index + word.length);
    if (/^\s*\(/.test(rest)) continue; // a function call
    names.add(word);
  }
  return [...names];
}

/** Metric families in a Prometheus text exposition, with each histogram's series names. */
export function exposedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(m[1]);
    if (m[2] === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(m[1] + s);
    if (m[2] === 'summary') for (const s of ['_sum', '_count']) names.add(m[1] + s);
  }
  return names;
}

/** Series Prometheus makes itself (scrape health, alert state), not read from any target. */
export const PROMETHEUS_SERIES = new Set([
  'up',
  'ALERTS',
  'ALERTS_FOR_STATE',
  'scrape_duration_seconds',
]);
