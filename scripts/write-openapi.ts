import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderOpenApiJson } from './openapi-json';

// `npm run openapi`: regenerate openapi/openapi.json from the controllers.
async function main(): Promise<void> {
  const out = join(__dirname, '..', '..', 'openapi', 'openapi.json');
  writeFileSync(out, await renderOpenApiJson());
  process.stdout.write(`wrote ${out}\n`);
  process.exit(0);
}

void main();
