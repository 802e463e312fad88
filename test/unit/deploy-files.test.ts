import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, DEFAULTS } from '@relaycast/shared';
import { loadEdgeConfig } from '../../services/edge/src/config.js';
import { loadIngestConfig } from '../../services/ingest/src/config.js';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

// docker-compose.yml sets these for its own network, so .env.example shows compose's values, not DEFAULTS.
const SET_BY_COMPOSE = new Set(['NODE_ENV', 'REDIS_URL', 'MOCK_MODEL_URL', 'HOST', 'PORT']);

describe('deployment files list every config variable', () => {
  const readme = read('README.md');
  const table = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('## Repository'));
  const envExample = read('.env.example');
  const compose = read('docker-compose.yml');

  it.each(CONFIG_VARIABLES)('%s is in the README table, .env.example and docker-compose.yml', (name) => {
    expect(table).toContain(`\`${name}\``);
    expect(envExample).toMatch(new RegExp(`^#? ?${name}=`, 'm'));
    expect(compose).toMatch(new RegExp(`^\\s+${name}: `, 'm'));
  });

  it('.env.example shows the real defaults', () => {
    for (const [name, value] of Object.entries(DEFAULTS)) {
      if (SET_BY_COMPOSE.has(name)) continue;
      const line = new RegExp(`^#? ?${name}=(\\S*)`, 'm').exec(envExample);
      expect(line?.[1], name).toBe(String(value));
    }
  });

  it('an empty variable (what compose passes for an unset one) means the default', () => {
    const empty = Object.fromEntries(CONFIG_VARIABLES.map((name) => [name, '']));
    expect(loadEdgeConfig(empty)).toEqual(loadEdgeConfig({}));
    expect(loadIngestConfig(empty)).toEqual(loadIngestConfig({}));
  });
});

describe('deploy/nginx.conf is set up for SSE', () => {
  const conf = read('deploy/nginx.conf');
  const events = /location ~ \^\/v1\/sessions\/\[\^\/\]\+\/events\$ \{([^}]*)\}/.exec(conf)?.[1] ?? '';

  it('has a location for the event stream', () => {
    expect(events).toContain('proxy_pass http://edges;');
  });

  it('does not buffer, cache or compress the stream', () => {
    expect(events).toMatch(/^\s*proxy_buffering off;/m);
    expect(events).toMatch(/^\s*proxy_cache off;/m);
    expect(events).toMatch(/^\s*gzip off;/m);
    expect(conf).not.toMatch(/gzip_types[^;]*text\/event-stream/);
  });

  it('waits for an edge longer than several heartbeats', () => {
    const seconds = Number(/proxy_read_timeout (\d+)s;/.exec(events)?.[1]);
    expect(seconds * 1000).toBeGreaterThanOrEqual(3 * DEFAULTS.HEARTBEAT_MS);
  });

  it('speaks HTTP/1.1 with keep-alive to the edges', () => {
    expect(conf).toMatch(/^\s*proxy_http_version 1\.1;/m);
    expect(conf).toMatch(/^\s*proxy_set_header Connection "";/m);
    expect(conf).toMatch(/upstream edges \{[^}]*^\s*keepalive \d+;/m);
  });
});
