// The private RabbitMQ node lives with the chaos suite (compiled with the project); tests share it.
export * from '../../bench/support/rabbitmq-node';
