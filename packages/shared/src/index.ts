export * from './config.js';
export * from './errors.js';
export * from './job.js';
export * from './logger.js';
export * from './routes.js';
export * from './service.js';
export * from './settings.js';
