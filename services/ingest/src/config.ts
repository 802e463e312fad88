import { commonSettings, ingestSettings, parseConfig, type ServiceConfig } from '@relaycast/shared';

const settings = { ...commonSettings, ...ingestSettings };

/** Ingest's config: the common settings and its own; none of the edge's (API keys, tokens, HTTP limits). */
export type IngestConfig = ServiceConfig<typeof settings>;

export function loadIngestConfig(env: NodeJS.ProcessEnv = process.env): IngestConfig {
  return Object.freeze(parseConfig(settings, env));
}
