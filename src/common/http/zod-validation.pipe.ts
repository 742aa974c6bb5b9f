import { createZodValidationPipe } from 'nestjs-zod';
import type { ZodError } from 'zod';
import { AppException } from '../errors/app.exception';
import { zodProblems } from '../errors/zod-problems.util';

/** Validates every `@Body()`, `@Query()` and `@Param()` typed with a zod DTO; 400 names each bad field. */
export const ZodValidationPipe = createZodValidationPipe({
  createValidationException: (error: unknown) =>
    AppException.validation('Request validation failed', zodProblems(error as ZodError)),
});
