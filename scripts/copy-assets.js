#!/usr/bin/env node
// Copies non-TypeScript runtime assets (Lua scripts) from src/ into dist/src/ after `tsc`, so the
// compiled app runs without the sources (e.g. in the Docker image).
'use strict';
const { cpSync, readdirSync, statSync, mkdirSync } = require('node:fs');
const { join, relative, dirname } = require('node:path');

const root = join(__dirname, '..');
const src = join(root, 'src');
let copied = 0;
(function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (name.endsWith('.lua')) {
      const out = join(root, 'dist', 'src', relative(src, path));
      mkdirSync(dirname(out), { recursive: true });
      cpSync(path, out);
      copied++;
    }
  }
})(src);
process.stdout.write(`copied ${copied} asset(s) into dist/\n`);
