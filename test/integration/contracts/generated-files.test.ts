import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderEnvExample } from '../../../src/config/load-config';
import { renderOpenApiJson } from '../../../scripts/openapi-json';

const root = join(__dirname, '..', '..', '..');

describe('committed generated files', () => {
  it('openapi/openapi.json matches what the code generates (run `npm run openapi`)', async () => {
    const committed = readFileSync(join(root, 'openapi', 'openapi.json'), 'utf8');
    expect(committed).toBe(await renderOpenApiJson());
  });

  it('.env.example matches the config sections (run `npm run env:example`)', () => {
    const committed = readFileSync(join(root, '.env.example'), 'utf8');
    expect(committed).toBe(renderEnvExample());
  });
});
