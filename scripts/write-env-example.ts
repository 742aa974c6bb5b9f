import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderEnvExample } from '../src/config/load-config';

// `npm run env:example`: regenerate .env.example from the config sections.
const out = join(__dirname, '..', '..', '.env.example');
writeFileSync(out, renderEnvExample());
process.stdout.write(`wrote ${out}\n`);
