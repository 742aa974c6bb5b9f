import {
  Body,
  Controller,
  Delete,
  Get,
  Headers,
  HttpCode,
  Param,
  Patch,
  Put,
  Query,
  Res,
} from '@nestjs/common';
import {
  ApiBody,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { createZodDto } from 'nestjs-zod';
import { CurrentPrincipal } from '../auth/auth.decorators';
import type { Principal } from '../auth/principal.type';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-code.enum';
import { type Page, pageSchema } from '../common/http/pagination';
import type { StateDocument } from './state-document.type';
import { etagFor, parseIfMatch } from './state-key.util';
import {
  listStateQuerySchema,
  putStateBodySchema,
  stateDocumentSchema,
  stateKeySummarySchema,
} from './state.schemas';
import { type KeySummary, type Precondition, type SaveResult, StateService } from './state.service';

class StateDocumentDto extends createZodDto(stateDocumentSchema) {}
class PutStateBodyDto extends createZodDto(putStateBodySchema) {}
class ListStateQueryDto extends createZodDto(listStateQuerySchema) {}
class StateKeyPageDto extends createZodDto(pageSchema(stateKeySummarySchema)) {}

// Swagger renders the wildcard route `/v1/state/*` as `/v1/state/{path}`.
const KEY_PARAM = {
  name: 'path',
  description: 'Document key, e.g. `project/alpha`: `/`-separated segments of [A-Za-z0-9._-]',
};

function view(doc: StateDocument): StateDocumentDto {
  return {
    key: doc.key,
    version: doc.version,
    value: doc.value,
    updatedAt: doc.updatedAt,
    updatedBy: doc.updatedBy,
  };
}

/** `If-Match` (a version) or `If-None-Match: *` (create only: version 0). */
function precondition(ifMatch: string | undefined, ifNoneMatch: string | undefined): Precondition {
  if (ifNoneMatch !== undefined) {
    if (ifNoneMatch.trim() !== '*' || ifMatch !== undefined) {
      throw new AppException(
        ErrorCode.BadRequest,
        'If-None-Match is only supported as `*` (create if absent), without If-Match',
        { header: 'if-none-match' },
      );
    }
    return 0;
  }
  return parseIfMatch(ifMatch);
}

/** Versioned JSON documents shared by every instance (see docs/DISTRIBUTED-STATE.md). */
@ApiTags('state')
@Controller('v1/state')
export class StateController {
  constructor(private readonly state: StateService) {}

  @Get()
  @ApiOperation({ summary: 'List document keys by prefix, in key order, with cursor pagination' })
  @ApiOkResponse({ type: StateKeyPageDto })
  list(@Query() query: ListStateQueryDto): Promise<Page<KeySummary>> {
    return this.state.list(query.prefix, query.cursor, query.limit);
  }

  @Get('*')
  @ApiParam(KEY_PARAM)
  @ApiOperation({ summary: 'Read a document; the ETag is its version' })
  @ApiOkResponse({ type: StateDocumentDto })
  @ApiResponse({ status: 404, description: 'No such document' })
  async get(
    @Param('*') key: string,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<StateDocumentDto> {
    const doc = await this.state.get(key);
    void reply.header('etag', etagFor(doc.version));
    return view(doc);
  }

  @Put('*')
  @HttpCode(200)
  @ApiParam(KEY_PARAM)
  @ApiHeader({
    name: 'If-Match',
    required: false,
    description: 'Version you read: "3", 3 or W/"3"',
  })
  @ApiHeader({ name: 'If-None-Match', required: false, description: '`*`: create only' })
  @ApiOperation({
    summary: 'Replace a document (optimistic concurrency)',
    description:
      'Needs If-Match (or If-None-Match: * to create) except in last-write-wins namespaces: 428 without it. ' +
      '412 when the version moved (reject strategy); merge-patch namespaces merge the value into the current one instead.',
  })
  @ApiBody({ type: PutStateBodyDto })
  @ApiOkResponse({ type: StateDocumentDto })
  @ApiResponse({ status: 412, description: 'The version moved' })
  @ApiResponse({ status: 428, description: 'If-Match missing' })
  @ApiResponse({ status: 413, description: 'Document too large' })
  async put(
    @Param('*') key: string,
    @Body() body: PutStateBodyDto,
    @Headers('if-match') ifMatch: string | undefined,
    @Headers('if-none-match') ifNoneMatch: string | undefined,
    @CurrentPrincipal() principal: Principal,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<StateDocumentDto> {
    const pre = precondition(ifMatch, ifNoneMatch);
    return this.respond(reply, await this.state.put(key, body.value, pre, principal.name));
  }

  @Patch('*')
  @ApiParam(KEY_PARAM)
  @ApiHeader({ name: 'If-Match', required: false, description: 'Optional version precondition' })
  @ApiOperation({
    summary:
      'Apply a JSON merge patch (RFC 7386) under the document lock; no concurrent patch is lost',
  })
  @ApiBody({
    schema: { type: 'object', description: 'application/merge-patch+json or application/json' },
  })
  @ApiOkResponse({ type: StateDocumentDto })
  async patch(
    @Param('*') key: string,
    @Body() patch: unknown,
    @Headers('if-match') ifMatch: string | undefined,
    @Headers('content-type') contentType: string | undefined,
    @CurrentPrincipal() principal: Principal,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<StateDocumentDto> {
    const mediaType = (contentType ?? '').split(';')[0].trim().toLowerCase();
    if (mediaType !== 'application/json' && mediaType !== 'application/merge-patch+json') {
      throw new AppException(
        ErrorCode.UnsupportedMediaType,
        'PATCH takes a JSON merge patch: Content-Type application/merge-patch+json or application/json',
        { contentType: contentType ?? null },
      );
    }
    if (patch === undefined) {
      throw AppException.validation('PATCH needs a JSON merge patch body', [
        { field: '', message: 'required' },
      ]);
    }
    return this.respond(
      reply,
      await this.state.patch(key, patch, parseIfMatch(ifMatch), principal.name),
    );
  }

  @Delete('*')
  @ApiParam(KEY_PARAM)
  @ApiHeader({ name: 'If-Match', required: false, description: 'Optional version precondition' })
  @ApiOperation({
    summary: 'Delete a document (its version keeps counting if it is created again)',
  })
  @ApiOkResponse({ description: '{ key, version, deleted: true }' })
  async remove(
    @Param('*') key: string,
    @Headers('if-match') ifMatch: string | undefined,
    @CurrentPrincipal() principal: Principal,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<{ key: string; version: number; deleted: true }> {
    const result = await this.state.delete(key, parseIfMatch(ifMatch), principal.name);
    void reply.header('x-state-stored', String(result.stored));
    return { key, version: result.doc.version, deleted: true };
  }

  private respond(reply: FastifyReply, result: SaveResult): StateDocumentDto {
    void reply.header('etag', etagFor(result.doc.version));
    // false: accepted in Redis, the durable store is behind (uploaded by the background job).
    void reply.header('x-state-stored', String(result.stored));
    return view(result.doc);
  }
}
