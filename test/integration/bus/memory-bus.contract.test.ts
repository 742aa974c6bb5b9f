import { busOptions } from '../../../src/bus/bus-options';
import { MemoryMessageBus } from '../../../src/bus/memory.transport';
import { messageBusContract } from './message-bus.contract';

messageBusContract('memory', async (overrides = {}) => {
  const bus = new MemoryMessageBus(
    busOptions({ maxMessageBytes: 65_536, instanceId: 'mem-test', ...overrides }),
  );
  await bus.connect();
  return { bus, cleanup: () => bus.close() };
});
