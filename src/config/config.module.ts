import { DynamicModule, Global, Module } from '@nestjs/common';
import { ConfigService } from './config.service';
import { type AppConfigValues, type Env, loadConfig } from './load-config';

@Global()
@Module({})
export class ConfigModule {
  /** Validates the environment (or the given values) once and provides {@link ConfigService}. */
  static forRoot(source: { env?: Env; values?: AppConfigValues } = {}): DynamicModule {
    const values = source.values ?? loadConfig(source.env ?? process.env);
    return {
      module: ConfigModule,
      providers: [{ provide: ConfigService, useValue: new ConfigService(values) }],
      exports: [ConfigService],
    };
  }
}
