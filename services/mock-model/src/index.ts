export { startMockModel, DEFAULT_TRANSCRIPT_DIR, FORMATS, type MockModel } from './server.js';
export { tokensFor, tokenStream, promptOf } from './text.js';
export { mockExpectation, mockPlan, type MockShape } from './plan.js';
export { parseFault, type Fault } from './faults.js';
