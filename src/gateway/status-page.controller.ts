import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Controller, Get, Header, NotFoundException, Param, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Public } from '../auth/auth.decorators';

const ASSETS: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
};

/** The page may only load its own files and talk to this origin (REST and WebSocket). */
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self' ws: wss:; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** `public/` from src/gateway (ts-node, jest) or dist/src/gateway (built). */
function publicDir(): string {
  const candidates = [
    join(__dirname, '..', '..', 'public'),
    join(__dirname, '..', '..', '..', 'public'),
  ];
  return candidates.find((d) => existsSync(join(d, 'index.html'))) ?? candidates[0];
}

/**
 * The status page (docs/STATUS-PAGE.md): static files from `public/`, no build step. Public
 * because the files hold no data: the page asks for a token and uses it for every REST call and
 * for the live feed.
 */
@ApiExcludeController()
@Public()
@Controller()
export class StatusPageController {
  private readonly cache = new Map<string, Buffer>();
  private dir?: string;

  @Get()
  @Header('cache-control', 'no-cache')
  index(@Res() reply: FastifyReply): Promise<void> {
    return this.send(reply, 'index.html');
  }

  @Get('status-page/:file')
  @Header('cache-control', 'no-cache')
  asset(@Param('file') file: string, @Res() reply: FastifyReply): Promise<void> {
    if (!(file in ASSETS) || file === 'index.html')
      throw new NotFoundException(`Cannot GET /status-page/${file}`);
    return this.send(reply, file);
  }

  private async send(reply: FastifyReply, file: string): Promise<void> {
    let body = this.cache.get(file);
    if (!body) {
      this.dir ??= publicDir();
      body = await readFile(join(this.dir, file));
      this.cache.set(file, body);
    }
    await reply
      .header('content-type', ASSETS[file])
      .header('content-security-policy', CSP)
      .header('x-content-type-options', 'nosniff')
      .send(body);
  }
}
