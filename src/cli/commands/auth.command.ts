import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { hashToken } from '../../auth/api-key.service';

/** `switchyard auth ...`: make tokens and the hashes the config stores. */
export function registerAuthCommand(program: Command): void {
  const auth = program.command('auth').description('API key helpers');
  auth
    .command('hash-key <token>')
    .description('Print the sha256 to put in SWITCHYARD_API_KEYS for a token')
    .action((token: string) => {
      process.stdout.write(`${hashToken(token)}\n`);
    });
  auth
    .command('new-key')
    .description('Generate a random token and its sha256')
    .option('--role <role>', 'role of the key', 'operator')
    .option('--name <name>', 'name of the key', 'key')
    .option('--agent-id <id>', 'agent id (agent role only)')
    .action((opts: { role: string; name: string; agentId?: string }) => {
      const token = `sy_${randomBytes(24).toString('base64url')}`;
      const entry = {
        name: opts.name,
        role: opts.role,
        sha256: hashToken(token),
        ...(opts.agentId ? { agentId: opts.agentId } : {}),
      };
      process.stdout.write(`token: ${token}\nconfig entry: ${JSON.stringify(entry)}\n`);
    });
}
