import { type AmqpQueueType, busOptions } from '../../../src/bus/bus-options';
import { RabbitMqMessageBus } from '../../../src/bus/rabbitmq.transport';
import { deleteBusObjects, uniqueNamespace } from '../../support/amqp-cleanup';
import { AGENTS, messageBusContract } from './message-bus.contract';

const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

// Both queue layouts (AMQP_QUEUE_TYPE) keep the contract; quorum queues work on one node too.
const factory =
  (queueType: AmqpQueueType) =>
  async (overrides = {}) => {
    const namespace = uniqueNamespace(`contract-${queueType}`);
    const instanceId = 'rmq-test';
    const bus = new RabbitMqMessageBus(
      busOptions({
        amqpUrl: AMQP_URL,
        queueType,
        namespace,
        instanceId,
        maxMessageBytes: 65_536,
        ...overrides,
      }),
    );
    await bus.connect(10_000);
    return {
      bus,
      cleanup: async () => {
        await bus.close();
        // Deletes the queues (the ones of broadcast subscriptions are deleted on cancel; close
        // does not cancel them, so list them too).
        await deleteBusObjects(
          AMQP_URL,
          namespace,
          [...AGENTS, instanceId],
          [{ instanceId, count: 4 }],
        );
      },
    };
  };

messageBusContract('rabbitmq', factory('classic'));
messageBusContract('rabbitmq, quorum queues', factory('quorum'), { priorityQueues: false });
