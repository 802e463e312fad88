import type { Request, Response } from 'express';
import { listModels, type Routes } from '@relaycast/shared';

/**
 * `GET /v1/models`: the models a caller may use, from the routes (never their address or key variable).
 * `allowed` decides per model, so access rules plug in without touching the handler.
 */
export function modelsHandler(routes: Routes, allowed: (model: string, res: Response) => boolean = () => true) {
  return (_req: Request, res: Response): void => {
    res.json({ models: listModels(routes, (id) => allowed(id, res)) });
  };
}
