import { Global, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ApiKeyService } from './api-key.service';
import { AuthFailureLimiter } from './auth-failure-limiter.service';
import { AuthGuard } from './auth.guard';
import { TaskCredentialService } from './task-credential.service';
import { TaskDirectory } from './task-directory';
import { TaskScopePolicy } from './task-scope.policy';
import { WhoAmIController } from './whoami.controller';

@Global()
@Module({
  controllers: [WhoAmIController],
  providers: [
    ApiKeyService,
    AuthFailureLimiter,
    TaskDirectory,
    TaskCredentialService,
    TaskScopePolicy,
    { provide: APP_GUARD, useClass: AuthGuard },
  ],
  exports: [ApiKeyService, AuthFailureLimiter, TaskCredentialService, TaskScopePolicy],
})
export class AuthModule {}
