import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Controller, Get, Header, NotFoundException, Param, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Public } from '../auth/auth.decorators';

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
};

/** Asset names the console may ask for: one flat folder, no dots or slashes to climb out of it. */
const ASSET_NAME = /^[a-z][a-z0-9-]*\.(js|css)$/;

/** The layout library, copied into dist/public as dagre.js by scripts/copy-assets.js. */
const VENDORED: Record<string, [string, string]> = {
  'dagre.js': ['@dagrejs/dagre/package.json', 'dist/dagre.esm.js'],
};

/** The page may only load its own files and talk to this origin (REST and WebSocket). */
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self' ws: wss:; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** `public/` from src/gateway (ts-node, jest) or dist/public from dist/src/gateway (built). */
function publicDir(): string {
  const candidates = [
    join(__dirname, '..', '..', 'public'),
    join(__dirname, '..', '..', '..', 'public'),
  ];
  return candidates.find((d) => existsSync(join(d, 'index.html'))) ?? candidates[0];
}

/**
 * The console (docs/CONSOLE.md): static ES modules from `public/` (dist/public once built), no
 * build step for the user. Public because the files hold no data: the page asks for a token and
 * uses it for every REST call and as the live feed's first message.
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
    if (!ASSET_NAME.test(file)) throw new NotFoundException(`Cannot GET /status-page/${file}`);
    return this.send(reply, file);
  }

  private async send(reply: FastifyReply, file: string): Promise<void> {
    let body = this.cache.get(file);
    if (!body) {
      body = await this.read(file);
      this.cache.set(file, body);
    }
    await reply
      .header('content-type', TYPES[file.slice(file.lastIndexOf('.') + 1)])
      .header('content-security-policy', CSP)
      .header('x-content-type-options', 'nosniff')
      .send(body);
  }

  private async read(file: string): Promise<Buffer> {
    this.dir ??= publicDir();
    const path = join(this.dir, file);
    if (existsSync(path)) return readFile(path);
    // Running from the sources (tests, ts-node): the vendored library comes from node_modules.
    const vendored = VENDORED[file];
    if (vendored) return readFile(join(dirname(require.resolve(vendored[0])), vendored[1]));
    throw new NotFoundException(`Cannot GET /status-page/${file}`);
  }
}
