import type { SectionValue } from '../../config/config-field.util';
import { workerSection } from '../../config/sections/worker.config';
import { DEFAULT_EXECUTOR_OPTIONS } from './executor-options';
import { executorOptionsFromConfig } from './executor-options.from-config';

/** `config.worker` as it is with no environment variables set. */
function defaults(env: Record<string, string> = {}): SectionValue<typeof workerSection> {
  return Object.fromEntries(
    Object.entries(workerSection.fields).map(([key, f]) => [key, f.schema.parse(env[f.env])]),
  ) as SectionValue<typeof workerSection>;
}

describe('executorOptionsFromConfig', () => {
  it('maps config.worker, and the defaults match DEFAULT_EXECUTOR_OPTIONS', () => {
    const options = executorOptionsFromConfig(defaults(), { env: { PATH: '/bin' }, cwd: '/srv' });
    const { builtinHandlers, env, cwd, ...rest } = options;
    expect(rest).toEqual(DEFAULT_EXECUTOR_OPTIONS);
    expect(env).toEqual({ PATH: '/bin' });
    expect(cwd).toBe('/srv');
    expect([...builtinHandlers.keys()]).toEqual(
      expect.arrayContaining([
        'code-reviewer',
        'doc-writer',
        'echo',
        'noop',
        'fail',
        'flaky',
        'sleep',
        'delegate',
        'merge',
      ]),
    );
  });

  it('reads the switches from the environment', () => {
    const options = executorOptionsFromConfig(
      defaults({
        WORKER_HTTP_ALLOW_PRIVATE: 'no',
        WORKER_HTTP_ALLOW_LINK_LOCAL: 'yes',
        CLAUDE_BIN: '/opt/claude',
        WORKER_KILL_GRACE_MS: '50',
      }),
      { env: {}, cwd: '/srv', extraHandlers: { mine: async () => 1 } },
    );
    expect(options).toMatchObject({
      httpAllowPrivate: false,
      httpAllowLinkLocal: true,
      claudeBin: '/opt/claude',
      killGraceMs: 50,
    });
    expect(options.builtinHandlers.has('mine')).toBe(true);
  });
});
