export * from './errors.js';
export * from './keys.js';
export * from './limits.js';
export * from './producer-store.js';
export * from './rates.js';
export * from './redis.js';
export * from './scripts.js';
export * from './store.js';
