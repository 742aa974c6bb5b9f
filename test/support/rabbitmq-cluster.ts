// The private three-node RabbitMQ cluster lives with the bench code (compiled with the project, so
// `npm run test:ha` can use it from dist/); tests share it.
export * from '../../bench/support/rabbitmq-cluster';
