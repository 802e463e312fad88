export { startIngest, type Ingest, type IngestOptions } from './ingest.js';
