import { startMockModel } from './server.js';

const mock = await startMockModel({
  port: Number(process.env.MOCK_PORT ?? 8090),
  host: process.env.MOCK_HOST ?? '127.0.0.1',
  ...(process.env.MOCK_TRANSCRIPT_DIR ? { transcriptDir: process.env.MOCK_TRANSCRIPT_DIR } : {}),
});
console.log(JSON.stringify({ level: 30, service: 'mock-model', msg: 'mock-model listening', port: mock.port }));
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void mock.close().then(() => process.exit(0)));
