export { startIngest, type Ingest, type IngestOptions } from './ingest.js';
export { BUILTIN_PROCESSORS, compilePipelines, defineProcessor, Pipeline, type PipelineSink, type Processor, type ProcessorDefinition, type ProcessorOutput, type StreamEvent } from './processors/index.js';
