/* eslint-disable @typescript-eslint/no-unsafe-declaration-merging */
import { Injectable } from '@nestjs/common';
import type { AppConfigValues } from './load-config';

// Declaration merging gives the class one typed property per config section, so adding a
// section file is enough: nothing here needs editing.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ConfigService extends Readonly<AppConfigValues> {}

/**
 * Typed, validated configuration. Inject it and read a section: `config.redis.url`.
 * Built once at boot by {@link loadConfig}; nothing else reads `process.env`.
 */
@Injectable()
export class ConfigService {
  constructor(values: AppConfigValues) {
    Object.assign(this, values);
    Object.freeze(this);
  }
}
