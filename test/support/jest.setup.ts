import 'reflect-metadata';

// Tests log at warn unless asked otherwise; the app reads LOG_LEVEL through its config module.
process.env.LOG_LEVEL ??= 'warn';
