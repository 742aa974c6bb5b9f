import { z } from 'zod';

/**
 * Switchyard's own optional front-matter keys. Claude Code ignores them; an invalid value makes
 * the loader skip the file with a reason naming the key. Defaults are applied by the parser.
 */
export const agentFrontMatterSchema = z
  .object({
    capabilities: z
      .array(
        z.string({ error: 'entries must be strings' }).trim().min(1, 'entries must not be empty'),
        {
          error: 'must be a list of strings',
        },
      )
      .optional(),
    executor: z
      .enum(['builtin', 'command', 'http', 'claude'], {
        error: 'must be one of builtin, command, http, claude',
      })
      .optional(),
    command: z
      .array(z.string({ error: 'entries must be strings' }).min(1, 'entries must not be empty'), {
        error: 'must be a list of strings (argv, not run through a shell)',
      })
      .min(1, 'must not be empty')
      .optional(),
    url: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional(),
    handler: z
      .string({ error: 'must be a builtin handler name or a module path' })
      .trim()
      .min(1, 'must not be empty')
      .optional(),
    maxConcurrency: z
      .number({ error: 'must be an integer ≥ 1' })
      .int('must be an integer ≥ 1')
      .min(1, 'must be an integer ≥ 1')
      .optional(),
    passEnv: z
      .array(
        z
          .string({ error: 'entries must be strings' })
          .regex(
            /^[A-Za-z_][A-Za-z0-9_]{0,127}\*?$/,
            'entries must be environment variable names (NAME_* for a prefix)',
          ),
        { error: 'must be a list of environment variable names' },
      )
      .optional(),
    timeoutSeconds: z
      .number({ error: 'must be a positive number' })
      .positive('must be a positive number')
      .optional(),
    mcp: z.boolean({ error: 'must be true or false' }).optional(),
    resume: z.boolean({ error: 'must be true or false' }).optional(),
    isolation: z.enum(['worktree', 'none'], { error: 'must be worktree or none' }).optional(),
  })
  .superRefine((keys, ctx) => {
    if (keys.executor === 'command' && !keys.command) {
      ctx.addIssue({
        code: 'custom',
        path: ['command'],
        message: 'required when executor is command',
      });
    }
    if (keys.executor === 'http' && !keys.url) {
      ctx.addIssue({ code: 'custom', path: ['url'], message: 'required when executor is http' });
    }
    if (keys.executor === 'builtin' && !keys.handler) {
      ctx.addIssue({
        code: 'custom',
        path: ['handler'],
        message: 'required when executor is builtin',
      });
    }
  });

export type AgentFrontMatterKeys = z.infer<typeof agentFrontMatterSchema>;
