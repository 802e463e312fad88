import { readFileSync } from 'node:fs';
import { parseRedisTarget, type RedisTarget } from '@relaycast/store';
import { z } from 'zod';
import { ConfigError } from './errors.js';
import { defaultRoutes, routesSchema, type Routes } from './routes.js';
import { CONFIG_VARIABLES, type commonSettings } from './settings.js';

type Settings = typeof commonSettings & z.ZodRawShape;

/** A service's parsed settings plus what every service derives from them: its routes and where Redis is. */
export type ServiceConfig<S extends Settings> = Readonly<z.output<z.ZodObject<S>> & { routes: Routes; redis: RedisTarget }>;

/** What every service reads; the processors and the session store need no more. */
export type CommonConfig = ServiceConfig<typeof commonSettings>;

/**
 * Parses the environment against a service's settings, once. Throws a {@link ConfigError} naming the first
 * bad variable, so a typo in a deployment fails at start-up instead of as odd behaviour later. The result is
 * not frozen: the service adds what it derives, then freezes it.
 */
export function parseConfig<S extends Settings>(settings: S, env: NodeJS.ProcessEnv = process.env): ServiceConfig<S> {
  // `VAR=` means "use the default": compose passes every variable through as `${VAR:-}`.
  const parsed = z.object(settings).safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== '')));
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(String(issue.path[0] ?? 'environment'), issue.message);
  }
  const cfg = parsed.data as z.output<z.ZodObject<typeof commonSettings>>;
  const routes = loadRoutes(cfg, env);
  if (!routes[cfg.DEFAULT_MODEL]) throw new ConfigError('DEFAULT_MODEL', `no route named ${JSON.stringify(cfg.DEFAULT_MODEL)}`);
  return { ...parsed.data, routes, redis: parseRedisTarget(cfg.REDIS_URL, cfg.REDIS_CLUSTER_NODES) } as ServiceConfig<S>;
}

/** Where the routes came from, for error messages that name it. */
export function routesSource(cfg: { ROUTES_JSON?: string | undefined; ROUTES_FILE?: string | undefined }): string {
  return cfg.ROUTES_JSON ? 'ROUTES_JSON' : cfg.ROUTES_FILE ? 'ROUTES_FILE' : 'routes';
}

function loadRoutes(cfg: { ROUTES_JSON?: string | undefined; ROUTES_FILE?: string | undefined; MOCK_MODEL_URL: string }, env: NodeJS.ProcessEnv): Routes {
  let raw: unknown;
  const source = routesSource(cfg);
  try {
    if (cfg.ROUTES_JSON) raw = JSON.parse(cfg.ROUTES_JSON);
    else if (cfg.ROUTES_FILE) raw = JSON.parse(readFileSync(cfg.ROUTES_FILE, 'utf8'));
    else raw = defaultRoutes(cfg.MOCK_MODEL_URL);
  } catch (e) {
    throw new ConfigError(source, `cannot read routes: ${(e as Error).message}`);
  }
  const overridden = applyRouteOverrides(raw, env);
  const routes = routesSchema.safeParse(raw);
  if (!routes.success) {
    const issue = routes.error.issues[0]!;
    const where = issue.path.join('.');
    throw new ConfigError(overridden.get(where) ?? source, `route ${where}: ${issue.message}`);
  }
  // A route sends the variable it names to its upstream: it must never name one of Relaycast's own.
  for (const [name, route] of Object.entries(routes.data)) {
    if (route.apiKeyEnv && CONFIG_VARIABLES.includes(route.apiKeyEnv)) throw new ConfigError(source, `route ${name}: apiKeyEnv may not name Relaycast's own ${route.apiKeyEnv}`);
  }
  return routes.data;
}

/** `ROUTE_<NAME>_<FIELD>` variables override one field of one route (NAME: the route name upper-cased, other characters as `_`). */
export const ROUTE_OVERRIDE_FIELDS = { BASE_URL: 'baseUrl', MODEL: 'model', API_KEY_ENV: 'apiKeyEnv' } as const;
const OVERRIDE = new RegExp(`^ROUTE_([A-Z0-9_]+?)_(${Object.keys(ROUTE_OVERRIDE_FIELDS).join('|')})$`);

export function routeEnvName(route: string): string {
  return route.toUpperCase().replace(/[^A-Z0-9]/g, '_');
}

/** Applies the overrides in place; returns `route.field` -> the variable that set it. */
function applyRouteOverrides(raw: unknown, env: NodeJS.ProcessEnv): Map<string, string> {
  const applied = new Map<string, string>();
  const set = Object.entries(env).filter(([k, v]) => v !== undefined && v !== '' && OVERRIDE.test(k));
  if (set.length === 0 || !raw || typeof raw !== 'object' || Array.isArray(raw)) return applied; // the schema reports a bad shape
  const routes = raw as Record<string, Record<string, unknown>>;
  for (const [variable, value] of set) {
    const [, name, field] = OVERRIDE.exec(variable)!;
    const matches = Object.keys(routes).filter((r) => routeEnvName(r) === name);
    if (matches.length === 0) throw new ConfigError(variable, `no route is named ${name!.toLowerCase()} (ROUTE_<NAME>_… uses the route name upper-cased, other characters as _)`);
    if (matches.length > 1) throw new ConfigError(variable, `ambiguous: routes ${matches.join(', ')} all map to ${name}`);
    const route = routes[matches[0]!];
    const key = ROUTE_OVERRIDE_FIELDS[field as keyof typeof ROUTE_OVERRIDE_FIELDS];
    if (route && typeof route === 'object') {
      route[key] = value;
      applied.set(`${matches[0]}.${key}`, variable);
    }
  }
  return applied;
}
