import { Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import { ApiBody, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { createZodDto } from 'nestjs-zod';
import { CurrentPrincipal, Roles } from '../auth/auth.decorators';
import type { Principal } from '../auth/principal.type';
import { Role } from '../auth/role.enum';
import { type RestoreReport, StateBackupService } from './state-backup.service';
import { StateSyncService } from './state-sync.service';
import { restoreReportSchema, stateBackupSchema, syncReportSchema } from './state.schemas';

class StateBackupDto extends createZodDto(stateBackupSchema) {}
class RestoreReportDto extends createZodDto(restoreReportSchema) {}
class SyncReportDto extends createZodDto(syncReportSchema) {}

/** Admin operations on the whole state: snapshot, restore, reconcile with the durable store. */
@ApiTags('state')
@Roles(Role.Admin)
@Controller('v1')
export class StateAdminController {
  constructor(
    private readonly backups: StateBackupService,
    private readonly sync: StateSyncService,
  ) {}

  @Get('state-backup')
  @ApiOperation({ summary: 'Full snapshot of every live document (admin)' })
  @ApiOkResponse({ type: StateBackupDto })
  backup(): Promise<StateBackupDto> {
    return this.backups.snapshot();
  }

  @Post('state-restore')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Restore a snapshot (admin): each value becomes a new version of its document',
  })
  @ApiBody({ type: StateBackupDto })
  @ApiOkResponse({ type: RestoreReportDto })
  restore(
    @Body() backup: StateBackupDto,
    @CurrentPrincipal() principal: Principal,
  ): Promise<RestoreReport> {
    return this.backups.restore(backup, principal.name);
  }

  @Post('state-sync')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'sync_from_cloud (admin): load newer documents from the store, upload newer ones, flush pending uploads',
  })
  @ApiOkResponse({ type: SyncReportDto })
  async syncNow(): Promise<SyncReportDto> {
    const report = await this.sync.syncFromCloud();
    const pending = await this.sync.flushPending().catch(() => -1);
    return { ...report, pending };
  }
}
