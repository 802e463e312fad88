import { readdirSync, readFileSync } from 'node:fs';
import { Cluster, Redis } from 'ioredis';
import type { RedisClient } from './redis.js';

/**
 * The one loader of lua/*.lua. BullMQ's convention: a script's file is `name-N.lua` where N is the number of
 * KEYS it takes, so the key count is stated once, by the file name, and read from there. Each script becomes
 * the ioredis command `rc<Name>` (EVALSHA with an EVAL fallback).
 */
const DIR = new URL('../lua/', import.meta.url);
const FILE = /^([a-z-]+?)-(\d+)\.lua$/;

export type ScriptArg = string | number;

function commandName(script: string): string {
  return 'rc' + script.split('-').map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
}

// Redis scripts cannot include one another: a line `-- requires: <name>.lib` prepends lua/<name>.lib.lua.
const REQUIRES = /^-- requires: ([a-z-]+\.lib)$/gm;

function source(file: string): string {
  const text = readFileSync(new URL(file, DIR), 'utf8');
  const libs = [...text.matchAll(REQUIRES)].map((m) => readFileSync(new URL(`${m[1]}.lua`, DIR), 'utf8'));
  return [...libs, text].join('\n');
}

/** Defines every script of lua/ on `redis` (once per connection); returns the connection, typed with them. */
function withScripts<C>(redis: RedisClient): RedisClient & C {
  for (const file of readdirSync(DIR)) {
    const m = FILE.exec(file);
    if (!m) continue;
    const name = commandName(m[1]!);
    if (!(name in redis)) redis.defineCommand(name, { lua: source(file), numberOfKeys: Number(m[2]) });
  }
  return redis as RedisClient & C;
}

/**
 * The commands a store class runs: a real connection gets the scripts defined on it; anything else (a
 * second backend, a fault-injecting wrapper) is taken as already implementing `C`, the class's narrow
 * interface, which names exactly the Redis commands and scripts it uses.
 */
export function commandsOf<C>(redis: RedisClient | C): C {
  return redis instanceof Redis || redis instanceof Cluster ? withScripts<C>(redis) : (redis as C);
}

/** Return codes of the scripts, named as each script's header lists them. */
export const AdmitCode = { Admitted: 1, OverRate: -1, OverRunning: -2 } as const;
export const AppendCode = { Appended: 1, Duplicate: 0, Missing: -1, Fenced: -2, Ended: -3, AppendedAfterLoss: 2 } as const;
export const BeginCode = { Began: 1, Missing: -1, Ended: -3 } as const;
export const ChatOwnerCode = { Ours: 1, Others: 0 } as const;
export const CancelCode = { Recorded: 1, Missing: -1, Ended: -3 } as const;
export const ConnectCode = { Taken: 1, Refused: 0 } as const;
export const SubscribeCode = { Admitted: 1, SessionFull: 0, Missing: -1, Forbidden: -2, Finished: -3 } as const;
export const RateCode = { Allowed: 1, Refused: 0 } as const;
