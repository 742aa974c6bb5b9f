import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import ts from 'typescript';

export type ReviewRule = 'undocumented-export' | 'long-function' | 'explicit-any' | 'todo-comment';

/** One problem found in the code. `file` is relative to the reviewed directory, `line` 1-based. */
export interface ReviewFinding {
  file: string;
  line: number;
  rule: ReviewRule;
  message: string;
  symbol?: string;
}

export type ExportKind =
  'function' | 'class' | 'interface' | 'type' | 'enum' | 'variable' | 'namespace';

/** A top-level exported declaration. */
export interface ExportedSymbol {
  file: string;
  name: string;
  kind: ExportKind;
  line: number;
  /** The JSDoc text, when there is one. */
  doc?: string;
  /** The declaration's head (e.g. `function f(a: number): string`), whitespace collapsed. */
  signature: string;
}

export interface ReviewSummary {
  files: number;
  lines: number;
  exports: number;
  documentedExports: number;
  findings: number;
  byRule: Record<ReviewRule, number>;
  /** `findings`/`exports` were cut to `maxItems` each (the counts above are complete). */
  truncated: boolean;
}

export interface ReviewReport {
  /** The reviewed path as given. */
  path: string;
  files: string[];
  findings: ReviewFinding[];
  exports: ExportedSymbol[];
  summary: ReviewSummary;
}

export interface ReviewOptions {
  maxFunctionLines: number;
  signal?: AbortSignal;
  /** Most findings and most exports returned (keeps the result within a bus message). Default 2000. */
  maxItems?: number;
}

const SKIPPED_DIRS = new Set(['node_modules', 'dist', 'build', 'coverage']);

function isReviewedFile(name: string): boolean {
  return (
    /\.(ts|tsx|mts|cts)$/.test(name) &&
    !/\.d\.(ts|mts|cts)$/.test(name) &&
    !/\.(spec|test)\.(ts|tsx|mts|cts)$/.test(name)
  );
}

/** TypeScript files under `dir` (sorted), skipping node_modules, dist, dot-dirs, tests and .d.ts. */
export async function listSourceFiles(dir: string, signal?: AbortSignal): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    signal?.throwIfAborted();
    const entries = await readdir(d, { withFileTypes: true });
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const full = join(d, e.name);
      if (e.isDirectory()) {
        if (!SKIPPED_DIRS.has(e.name)) await walk(full);
      } else if (e.isFile() && isReviewedFile(e.name)) {
        out.push(full);
      }
    }
  };
  await walk(dir);
  return out;
}

const lineOf = (sf: ts.SourceFile, pos: number) => sf.getLineAndCharacterOfPosition(pos).line + 1;

function hasExportModifier(node: ts.Node): boolean {
  return (
    ts.canHaveModifiers(node) &&
    (ts.getModifiers(node) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword)
  );
}

function jsDocOf(node: ts.Node, sf: ts.SourceFile): string | undefined {
  const ranges = ts.getLeadingCommentRanges(sf.text, node.getFullStart()) ?? [];
  const docs = ranges.filter(
    (r) =>
      r.kind === ts.SyntaxKind.MultiLineCommentTrivia &&
      sf.text.startsWith('/**', r.pos) &&
      !sf.text.startsWith('/**/', r.pos),
  );
  const last = docs[docs.length - 1];
  if (!last) return undefined;
  const text = sf.text
    .slice(last.pos + 3, last.end - 2)
    .split('\n')
    .map((l) => l.replace(/^\s*\*\s?/, '').trim())
    .filter((l) => !l.startsWith('@'))
    .join(' ')
    .replace(/\s+/g, ' ')
    .trim();
  return text || '(tags only)';
}

function collapse(text: string, max = 200): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

/** The declaration's text up to its body (or first line for types and variables). */
function signatureOf(node: ts.Node, sf: ts.SourceFile): string {
  const start = node.getStart(sf);
  let end = node.getEnd();
  if (ts.isFunctionDeclaration(node) && node.body) end = node.body.getStart(sf);
  else if (
    ts.isClassDeclaration(node) ||
    ts.isInterfaceDeclaration(node) ||
    ts.isEnumDeclaration(node) ||
    ts.isModuleDeclaration(node)
  ) {
    const brace = sf.text.indexOf('{', start);
    if (brace >= 0 && brace < end) end = brace;
  } else if (ts.isVariableStatement(node)) {
    const decl = node.declarationList.declarations[0];
    const init = decl?.initializer;
    if (init && (ts.isArrowFunction(init) || ts.isFunctionExpression(init))) {
      end = init.body.getStart(sf);
    } else if (init) end = init.getStart(sf);
  }
  const head = sf.text
    .slice(start, end)
    .replace(/^export\s+(default\s+)?/, '')
    .replace(/\s*(=>|=|\{)?\s*$/, '')
    .replace(/\s+/g, ' ')
    // Multi-line parameter lists: `f( a, b, )` → `f(a, b)`.
    .replace(/([([<]) /g, '$1')
    .replace(/,? ([)\]>])/g, '$1');
  return collapse(head);
}

function exportsOf(stmt: ts.Statement): { name: string; kind: ExportKind }[] {
  if (!hasExportModifier(stmt)) return [];
  const isDefault = (ts.getModifiers(stmt as ts.HasModifiers) ?? []).some(
    (m) => m.kind === ts.SyntaxKind.DefaultKeyword,
  );
  const named = (n: ts.Identifier | undefined) =>
    n?.text ?? (isDefault ? 'default' : '(anonymous)');
  if (ts.isFunctionDeclaration(stmt)) return [{ name: named(stmt.name), kind: 'function' }];
  if (ts.isClassDeclaration(stmt)) return [{ name: named(stmt.name), kind: 'class' }];
  if (ts.isInterfaceDeclaration(stmt)) return [{ name: stmt.name.text, kind: 'interface' }];
  if (ts.isTypeAliasDeclaration(stmt)) return [{ name: stmt.name.text, kind: 'type' }];
  if (ts.isEnumDeclaration(stmt)) return [{ name: stmt.name.text, kind: 'enum' }];
  if (ts.isModuleDeclaration(stmt)) return [{ name: stmt.name.getText(), kind: 'namespace' }];
  if (ts.isVariableStatement(stmt)) {
    return stmt.declarationList.declarations.flatMap((d) =>
      ts.isIdentifier(d.name) ? [{ name: d.name.text, kind: 'variable' as const }] : [],
    );
  }
  return [];
}

/** A readable name for a function-like node (`Class.method`, the variable an arrow is assigned to). */
function functionName(node: ts.FunctionLikeDeclaration): string {
  const owner = ts.isClassLike(node.parent) && node.parent.name ? `${node.parent.name.text}.` : '';
  if (ts.isConstructorDeclaration(node)) return `${owner}constructor`;
  if (
    node.name &&
    (ts.isIdentifier(node.name) ||
      ts.isStringLiteral(node.name) ||
      ts.isPrivateIdentifier(node.name))
  )
    return `${owner}${node.name.text}`;
  const p = node.parent;
  if (ts.isVariableDeclaration(p) && ts.isIdentifier(p.name)) return p.name.text;
  if (ts.isPropertyAssignment(p) && ts.isIdentifier(p.name)) return p.name.text;
  if (ts.isPropertyDeclaration(p) && ts.isIdentifier(p.name))
    return `${owner || (ts.isClassLike(p.parent) && p.parent.name ? `${p.parent.name.text}.` : '')}${p.name.text}`;
  return '(anonymous)';
}

/** The name of the nearest named declaration around `node` (for `any` findings). */
function enclosingName(node: ts.Node): string | undefined {
  for (let n: ts.Node | undefined = node.parent; n; n = n.parent) {
    if (ts.isFunctionLike(n) && 'body' in n) return functionName(n);
    if (
      (ts.isInterfaceDeclaration(n) || ts.isTypeAliasDeclaration(n) || ts.isClassDeclaration(n)) &&
      n.name
    )
      return n.name.text;
    if (ts.isVariableDeclaration(n) && ts.isIdentifier(n.name)) return n.name.text;
    if ((ts.isPropertySignature(n) || ts.isPropertyDeclaration(n)) && ts.isIdentifier(n.name))
      return n.name.text;
  }
  return undefined;
}

/** Reviews one file's source text. `file` is the name used in findings. */
export function reviewSource(
  file: string,
  text: string,
  options: ReviewOptions,
): { findings: ReviewFinding[]; exports: ExportedSymbol[]; lines: number } {
  const sf = ts.createSourceFile(
    file,
    text,
    ts.ScriptTarget.Latest,
    true,
    file.endsWith('x') ? ts.ScriptKind.TSX : ts.ScriptKind.TS,
  );
  const findings: ReviewFinding[] = [];
  const exports: ExportedSymbol[] = [];

  for (const stmt of sf.statements) {
    for (const ex of exportsOf(stmt)) {
      const doc = jsDocOf(stmt, sf);
      const line = lineOf(sf, stmt.getStart(sf));
      exports.push({
        file,
        name: ex.name,
        kind: ex.kind,
        line,
        signature: signatureOf(stmt, sf),
        ...(doc ? { doc } : {}),
      });
      if (!doc) {
        findings.push({
          file,
          line,
          rule: 'undocumented-export',
          symbol: ex.name,
          message: `exported ${ex.kind} ${ex.name} has no doc comment`,
        });
      }
    }
  }

  const seenComments = new Set<number>();
  const checkComments = (ranges: ts.CommentRange[] | undefined) => {
    for (const r of ranges ?? []) {
      if (seenComments.has(r.pos)) continue;
      seenComments.add(r.pos);
      const comment = text.slice(r.pos, r.end);
      const re = /\b(TODO|FIXME)\b[:\s]*(.*)/g;
      let m: RegExpExecArray | null;
      while ((m = re.exec(comment)) !== null) {
        const note = m[2].replace(/\*\/\s*$/, '').trim();
        findings.push({
          file,
          line: lineOf(sf, r.pos + m.index),
          rule: 'todo-comment',
          message: `${m[1]} comment${note ? `: ${collapse(note, 120)}` : ''}`,
        });
      }
    }
  };

  const visit = (node: ts.Node): void => {
    checkComments(ts.getLeadingCommentRanges(text, node.pos));
    checkComments(ts.getTrailingCommentRanges(text, node.end));
    if (node.kind === ts.SyntaxKind.AnyKeyword) {
      const symbol = enclosingName(node);
      findings.push({
        file,
        line: lineOf(sf, node.getStart(sf)),
        rule: 'explicit-any',
        message: `explicit \`any\`${symbol ? ` in ${symbol}` : ''}`,
        ...(symbol ? { symbol } : {}),
      });
    }
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const fn = node;
      const startLine = lineOf(sf, fn.getStart(sf));
      const endLine = lineOf(sf, fn.getEnd());
      const length = endLine - startLine + 1;
      if (length > options.maxFunctionLines) {
        const name = functionName(fn);
        findings.push({
          file,
          line: startLine,
          rule: 'long-function',
          symbol: name,
          message: `${name} is ${length} lines long (limit ${options.maxFunctionLines})`,
        });
      }
    }
    for (const child of node.getChildren(sf)) visit(child);
  };
  visit(sf);

  findings.sort((a, b) => a.line - b.line || a.rule.localeCompare(b.rule));
  return { findings, exports, lines: sf.getLineAndCharacterOfPosition(sf.getEnd()).line + 1 };
}

/**
 * Reviews every TypeScript file under `target` (a directory or one file). Finding and export
 * paths are relative to `baseDir` (the worker's directory), with `/` separators.
 */
export async function reviewPath(
  target: string,
  displayPath: string,
  options: ReviewOptions & { baseDir: string },
): Promise<ReviewReport> {
  const info = await stat(target);
  const files = info.isDirectory() ? await listSourceFiles(target, options.signal) : [target];
  const base = options.baseDir;
  const report: ReviewReport = {
    path: displayPath,
    files: [],
    findings: [],
    exports: [],
    summary: {
      files: 0,
      lines: 0,
      exports: 0,
      documentedExports: 0,
      findings: 0,
      byRule: {
        'undocumented-export': 0,
        'long-function': 0,
        'explicit-any': 0,
        'todo-comment': 0,
      },
      truncated: false,
    },
  };
  for (const full of files) {
    options.signal?.throwIfAborted();
    const rel = relative(base, full).split(sep).join('/');
    const r = reviewSource(rel, await readFile(full, 'utf8'), options);
    report.files.push(rel);
    report.findings.push(...r.findings);
    report.exports.push(...r.exports);
    report.summary.lines += r.lines;
  }
  const s = report.summary;
  s.files = report.files.length;
  s.exports = report.exports.length;
  s.documentedExports = report.exports.filter((e) => e.doc !== undefined).length;
  s.findings = report.findings.length;
  for (const f of report.findings) s.byRule[f.rule]++;
  const maxItems = options.maxItems ?? 2000;
  if (report.findings.length > maxItems || report.exports.length > maxItems) {
    s.truncated = true;
    report.findings = report.findings.slice(0, maxItems);
    report.exports = report.exports.slice(0, maxItems);
  }
  return report;
}
