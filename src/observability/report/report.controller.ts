import { Controller, Get, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { createZodDto } from 'nestjs-zod';
import { z } from 'zod';
import type { PlanReport } from './plan-report.util';
import { ReportService } from './report.service';

export const reportQuerySchema = z.strictObject({
  from: z.iso
    .datetime({ offset: true })
    .optional()
    .describe('Start of the period (ISO-8601); default: 7 days before `to`'),
  to: z.iso.datetime({ offset: true }).optional().describe('End of the period; default: now'),
});

class ReportQueryDto extends createZodDto(reportQuerySchema) {}

@ApiTags('observability')
@Controller('v1/report')
export class ReportController {
  constructor(private readonly reports: ReportService) {}

  @Get()
  @ApiOperation({
    summary:
      "The plan's success metrics for a period (autonomy, tasks completed, dispatch latency, error rate, uptime, recovery time, utilization) with their targets",
  })
  report(@Query() query: ReportQueryDto): Promise<PlanReport> {
    return this.reports.report(query.from, query.to);
  }
}
