import { z } from 'zod';

/**
 * A model route: how a model name a client may ask for maps onto an upstream. Routes live in server
 * config only, so no request can choose the address Relaycast calls.
 */
export const routeSchema = z.object({
  provider: z.enum(['openai']),
  baseUrl: z.url(),
  /** The model name sent upstream. */
  model: z.string().min(1),
  /** Name of the environment variable holding the provider's API key (never the key itself). */
  apiKeyEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/).optional(),
  defaults: z.object({ temperature: z.number().min(0).max(2).optional(), max_tokens: z.number().int().positive().optional() }).default({}),
  /** Whether clients may pass the `mock` control object through (only for the mock model). */
  allowMock: z.boolean().default(false),
});
export type Route = z.infer<typeof routeSchema>;

export const routesSchema = z.record(z.string().regex(/^[A-Za-z0-9._:-]{1,64}$/), routeSchema).refine((r) => Object.keys(r).length > 0, 'at least one route');
export type Routes = z.infer<typeof routesSchema>;
