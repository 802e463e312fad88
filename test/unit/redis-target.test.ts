import { describe, expect, it } from 'vitest';
import { parseRedisTarget } from '@relaycast/store';
import { ConfigError } from '@relaycast/shared';
import { loadIngestConfig } from '../../services/ingest/src/config.js';

describe('Redis target', () => {
  it('a redis:// URL is a single server', () => {
    expect(parseRedisTarget('redis://h:6379')).toEqual({ mode: 'single', url: 'redis://h:6379' });
  });
  it('a redis+cluster:// URL lists seed nodes, with an optional password', () => {
    expect(parseRedisTarget('redis+cluster://a:7000,b:7001')).toEqual({ mode: 'cluster', nodes: [{ host: 'a', port: 7000 }, { host: 'b', port: 7001 }], password: undefined });
    expect(parseRedisTarget('redis+cluster://:s%40cret@a:7000')).toMatchObject({ mode: 'cluster', nodes: [{ host: 'a', port: 7000 }], password: 's@cret' });
  });
  it('REDIS_CLUSTER_NODES switches to cluster mode and takes the password from REDIS_URL', () => {
    const c = loadIngestConfig({ REDIS_URL: 'redis://:pw@ignored:1', REDIS_CLUSTER_NODES: '10.0.0.1:7000,10.0.0.2:7000' });
    expect(c.redis).toEqual({ mode: 'cluster', nodes: [{ host: '10.0.0.1', port: 7000 }, { host: '10.0.0.2', port: 7000 }], password: 'pw' });
  });
  it('names the variable when the node list is malformed', () => {
    expect(() => loadIngestConfig({ REDIS_CLUSTER_NODES: 'nohostport' })).toThrow(ConfigError);
    expect(() => loadIngestConfig({ REDIS_CLUSTER_NODES: 'nohostport' })).toThrow(/REDIS_CLUSTER_NODES/);
  });
});
