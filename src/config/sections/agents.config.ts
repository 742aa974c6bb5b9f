import { z } from 'zod';
import { defineSection, field } from '../config-field.util';

export const agentsSection = defineSection('agents', 'Agent definitions', {
  dir: field(
    'AGENTS_DIR',
    z.string().optional(),
    'Directory of agent definition files (Claude Code format) registered at startup',
    { example: './examples/agents' },
  ),
});
