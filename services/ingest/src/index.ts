export { startIngest, type Ingest } from './ingest.js';
