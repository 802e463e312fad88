import { isAbsolute, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Request, type Response, type Router } from 'express';
import { sendError } from './http-error.js';
// Vite's build emits only external hashed files, so the page's strict policy is enough (test/browser asserts
// that no violation is reported).
import { pageSecurityHeaders } from './security-headers.js';


// services/edge/{src,dist}/web.{ts,js} → the repository root (the image's /app).
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export function resolveWebDir(dir: string): string {
  return isAbsolute(dir) ? dir : resolve(ROOT, dir);
}

/**
 * Serves the built page: `/` is index.html, never cached (it names the current hashed assets); files under
 * assets/ carry a content hash in their name, so they are cached for a year and never revalidated. When the
 * page is not built, `/` says so in the JSON error shape and everything else falls through to the API's 404.
 */
export function webRoutes(webDir: string): Router {
  const dir = resolveWebDir(webDir);
  const assets = join(dir, 'assets') + sep;
  const router = express.Router();
  router.get('/', (_req: Request, res: Response, next) => {
    pageSecurityHeaders(res);
    res.sendFile(join(dir, 'index.html'), { headers: { 'Cache-Control': 'no-cache' } }, (err) => {
      if (!err) return;
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return sendError(res, 'web_not_built', `the web page is not built (no ${join(dir, 'index.html')}): run npm run build`);
      next(err);
    });
  });
  router.use(
    express.static(dir, {
      index: false,
      redirect: false,
      dotfiles: 'ignore',
      setHeaders(res, path) {
        pageSecurityHeaders(res);
        res.set('Cache-Control', path.startsWith(assets) ? 'public, max-age=31536000, immutable' : 'no-cache');
      },
    }),
  );
  return router;
}
