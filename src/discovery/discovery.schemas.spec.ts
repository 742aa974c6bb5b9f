import { AgentStatus } from './agent-record.type';
import {
  findAgentsQuerySchema,
  heartbeatSchema,
  listAgentsQuerySchema,
  registerAgentSchema,
} from './discovery.schemas';
import { zodProblems } from '../common/errors/zod-problems.util';

const problems = (r: { success: boolean; error?: unknown }) =>
  r.success ? [] : zodProblems(r.error as never).map((p) => p.field);

describe('registerAgentSchema', () => {
  it('accepts a minimal and a full registration', () => {
    expect(registerAgentSchema.safeParse({ id: 'a', capabilities: ['x'] }).success).toBe(true);
    const full = {
      id: 'code-reviewer@team.1',
      name: 'Code reviewer',
      description: 'Reviews',
      capabilities: ['code-review', 'mcp:github', 'lang/ts'],
      status: AgentStatus.Busy,
      load: 1,
      maxLoad: 4,
      healthScore: 0,
      executor: 'claude',
      model: 'opus',
      workerId: 'w-1',
      metadata: { team: 'core' },
      ttlSeconds: 60,
    };
    expect(registerAgentSchema.parse(full)).toEqual(full);
  });

  it.each([
    [{ id: '', capabilities: ['x'] }, 'id'],
    [{ id: '-lead', capabilities: ['x'] }, 'id'],
    [{ id: 'a'.repeat(129), capabilities: ['x'] }, 'id'],
    [{ id: 'a', capabilities: 'x' }, 'capabilities'],
    [{ id: 'a', capabilities: ['x y'] }, 'capabilities.0'],
    [{ id: 'a', capabilities: ['x'], healthScore: 1.01 }, 'healthScore'],
    [{ id: 'a', capabilities: ['x'], load: 1.5 }, 'load'],
    [{ id: 'a', capabilities: ['x'], ttlSeconds: 0 }, 'ttlSeconds'],
    [{ id: 'a', capabilities: ['x'], extra: 1 }, 'extra'],
  ])('rejects %j naming %s', (input, field) => {
    expect(problems(registerAgentSchema.safeParse(input))).toContain(field);
  });

  it('caps metadata at 64 entries', () => {
    const metadata = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']));
    expect(
      problems(registerAgentSchema.safeParse({ id: 'a', capabilities: ['x'], metadata })),
    ).toEqual(['metadata']);
  });
});

describe('heartbeatSchema', () => {
  it('accepts an empty heartbeat and partial updates, refuses unknown fields', () => {
    expect(heartbeatSchema.parse({})).toEqual({});
    expect(heartbeatSchema.parse({ load: 2, healthScore: 0.5 })).toEqual({
      load: 2,
      healthScore: 0.5,
    });
    expect(problems(heartbeatSchema.safeParse({ healthScore: 2, pulse: 1 }))).toEqual([
      'healthScore',
      'pulse',
    ]);
  });
});

describe('listAgentsQuerySchema', () => {
  it('coerces query strings and splits status lists', () => {
    expect(
      listAgentsQuerySchema.parse({
        capability: 'x',
        status: 'AVAILABLE, BUSY',
        minHealthScore: '0.5',
        maxLoadRatio: '0.8',
        limit: '5',
      }),
    ).toEqual({
      capability: 'x',
      status: ['AVAILABLE', 'BUSY'],
      minHealthScore: 0.5,
      maxLoadRatio: 0.8,
      limit: 5,
      sort: 'id',
    });
    expect(listAgentsQuerySchema.parse({ status: ['OFFLINE', 'DRAINING'] }).status).toEqual([
      'OFFLINE',
      'DRAINING',
    ]);
  });

  it('takes status filters in any case, as every enum filter does', () => {
    expect(listAgentsQuerySchema.parse({ status: 'available' }).status).toEqual(['AVAILABLE']);
    expect(listAgentsQuerySchema.parse({ status: ['busy', 'Offline'] }).status).toEqual([
      'BUSY',
      'OFFLINE',
    ]);
    expect(problems(listAgentsQuerySchema.safeParse({ status: 'sleepy' }))).toEqual(['status.0']);
  });

  it('needs a capability and no cursor for sort=load', () => {
    expect(problems(listAgentsQuerySchema.safeParse({ sort: 'load' }))).toEqual(['capability']);
    expect(
      problems(listAgentsQuerySchema.safeParse({ sort: 'load', capability: 'x', cursor: 'y' })),
    ).toEqual(['cursor']);
    expect(listAgentsQuerySchema.safeParse({ sort: 'load', capability: 'x' }).success).toBe(true);
  });
});

describe('findAgentsQuerySchema', () => {
  it('validates the programmatic find query', () => {
    expect(findAgentsQuerySchema.safeParse({ capability: 'x', limit: 3 }).success).toBe(true);
    expect(
      problems(findAgentsQuerySchema.safeParse({ capability: 'x', limit: 0, maxLoadRatio: -1 })),
    ).toEqual(['maxLoadRatio', 'limit']);
    expect(problems(findAgentsQuerySchema.safeParse({ capability: 'x', status: [] }))).toEqual([
      'status',
    ]);
  });
});
