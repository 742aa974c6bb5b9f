import { z } from 'zod';
import { findAgentsQuerySchema } from '../discovery/discovery.schemas';
import { createTaskSchema, taskIdSchema } from '../queue/task.schemas';
import { listStateQuerySchema, putStateBodySchema } from '../state/state.schemas';

/**
 * Input schemas of the MCP tools, built from the REST API's zod schemas so both validate the
 * same way (and report the same VALIDATION_FAILED field problems). The JSON Schemas clients see
 * in `tools/list` are generated from these.
 */

const stateKey = z
  .string()
  .min(1)
  .max(512)
  .describe('Document key, e.g. `workflows/<workflowId>/notes`: `/`-separated segments');

const ifMatch = z
  .union([z.int().min(0), z.literal('*')])
  .describe('Version you read (0 = create only); `*` = any version');

export const delegateInputSchema = createTaskSchema
  .pick({ capability: true, payload: true, priority: true, description: true, budget: true })
  .extend({
    prompt: z
      .string()
      .max(200_000)
      .optional()
      .describe('Instructions for the agent; sent as payload.prompt'),
    timeoutSeconds: z
      .int()
      .min(1)
      .max(86_400)
      .optional()
      .describe("The child's execution timeout, and how long `wait` waits for it"),
    wait: z
      .boolean()
      .default(true)
      .describe(
        'true: return the result when the child is done; false: return its task id at once',
      ),
  });
export type DelegateInput = z.infer<typeof delegateInputSchema>;

export const MAX_DELEGATE_MANY = 50;

export const toolInputSchemas = {
  find_agents: findAgentsQuerySchema.pick({ capability: true, minHealthScore: true, limit: true }),
  list_capabilities: z.strictObject({}),
  delegate: delegateInputSchema,
  delegate_many: z.strictObject({
    tasks: z
      .array(delegateInputSchema.omit({ wait: true }))
      .min(1)
      .max(MAX_DELEGATE_MANY),
  }),
  get_task: z.strictObject({ taskId: taskIdSchema }),
  wait_task: z.strictObject({
    taskId: taskIdSchema,
    timeoutSeconds: z.int().min(0).max(3600).default(60).describe('Longest wait'),
  }),
  cancel_task: z.strictObject({ taskId: taskIdSchema }),
  state_get: z.strictObject({ key: stateKey }),
  state_put: z.strictObject({
    key: stateKey,
    value: putStateBodySchema.shape.value,
    ifMatch: ifMatch.optional(),
  }),
  state_patch: z.strictObject({
    key: stateKey,
    patch: z.unknown().describe('JSON merge patch (RFC 7396)'),
    ifMatch: ifMatch.optional(),
  }),
  state_list: listStateQuerySchema,
  report_progress: z.strictObject({
    message: z.string().min(1).max(2000),
    percent: z.number().min(0).max(100).optional(),
  }),
} as const;

export type ToolName = keyof typeof toolInputSchemas;
export type ToolInput<N extends ToolName> = z.infer<(typeof toolInputSchemas)[N]>;

export const TOOL_DESCRIPTIONS: Record<ToolName, string> = {
  find_agents:
    'Find live agents that offer a capability: name, description, capabilities, status and load.',
  list_capabilities: 'List every capability the live agents offer, with how many agents offer it.',
  delegate:
    "Hand work to another agent as a child task of the calling task. With wait (default) returns the child's output or error when it is done; without wait returns its task id at once.",
  delegate_many:
    'Fan out: submit several child tasks at once, wait for all, return their results in order.',
  get_task: 'Read a task: status, result or error, timings, cost.',
  wait_task: 'Wait until a task is terminal (or timeoutSeconds pass) and return it.',
  cancel_task: 'Cancel a task and its unfinished descendants.',
  state_get: 'Read a shared JSON document and its version.',
  state_put:
    'Write a shared JSON document. ifMatch: the version you read (412 CONFLICT-style PRECONDITION_FAILED when it moved), 0 to create.',
  state_patch: 'Apply a JSON merge patch to a shared document (optionally with ifMatch).',
  state_list: 'List document keys under a prefix.',
  report_progress: 'Tell the people watching what the calling task is doing (live feed).',
};

/** Tools that only read: every role with read access may call them. */
export const READ_ONLY_TOOLS: ReadonlySet<ToolName> = new Set<ToolName>([
  'find_agents',
  'list_capabilities',
  'get_task',
  'wait_task',
  'state_get',
  'state_list',
]);
