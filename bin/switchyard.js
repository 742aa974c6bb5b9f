#!/usr/bin/env node
'use strict';
const path = require('node:path');
const fs = require('node:fs');
const entry = path.join(__dirname, '..', 'dist', 'src', 'cli', 'main.js');
if (!fs.existsSync(entry)) {
  process.stderr.write('switchyard: not built yet. Run `npm run build` first.\n');
  process.exit(1);
}
require(entry).run(process.argv);
