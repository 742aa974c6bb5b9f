/**
 * Names and arguments of every exchange and queue of the bus (see docs/message-bus-topology.md).
 * Both transports use these names, so routing behaves the same in memory and on RabbitMQ.
 */
export class BusTopology {
  constructor(readonly namespace: string) {}

  private n(name: string): string {
    return `${this.namespace}${name}`;
  }

  /** topic: tasks, routing key `agent.{agentId}`. */
  get tasksExchange(): string {
    return this.n('agent.tasks');
  }
  /** fanout: events every subscriber receives. */
  get broadcastsExchange(): string {
    return this.n('agent.broadcasts');
  }
  /** direct: responses, routing key `{name}.response`. */
  get responsesExchange(): string {
    return this.n('agent.responses');
  }
  /** topic: where agent queues dead-letter (failed handler, expired task). */
  get deadLetterExchange(): string {
    return this.n('agent.dlx');
  }
  /** Tasks that need re-dispatch (dead-lettered from agent queues), by priority. */
  get orchestratorQueue(): string {
    return this.n('orchestrator.priority');
  }
  /** Messages nobody can process (invalid, too large, failed response/broadcast handlers). */
  get parkingQueue(): string {
    return this.n('agent.dead-letters');
  }

  taskRoutingKey(agentId: string): string {
    return `agent.${agentId}`;
  }
  agentQueue(agentId: string): string {
    return this.n(`agent.${agentId}.tasks`);
  }
  responseRoutingKey(name: string): string {
    return `${name}.response`;
  }
  responseQueue(name: string): string {
    return this.n(`agent.${name}.responses`);
  }
  broadcastQueue(instanceId: string, seq: number): string {
    return this.n(`agent.broadcasts.${instanceId}.${seq}`);
  }

  /** Routing key of messages dead-lettered from response and broadcast queues (to the parking queue). */
  static readonly PARKING_KEY = 'parked';
}
