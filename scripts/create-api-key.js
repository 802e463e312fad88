#!/usr/bin/env node
// Makes a new API key and prints it once, with the entry an operator adds to API_KEYS (which holds only the
// key's hash). Usage: npm run create-api-key -- --tenant acme [--id acme-1] [--models mock,other]
// In a container: docker compose run --rm --no-deps edge node scripts/create-api-key.js --tenant acme
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { apiKeyEntry, newApiKey } from '../services/edge/dist/api-keys.js';

let values;
try {
  ({ values } = parseArgs({ options: { tenant: { type: 'string' }, id: { type: 'string' }, models: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }));
} catch (e) {
  console.error(e.message);
  process.exit(2);
}
if (values.help || !values.tenant) {
  console.error('usage: create-api-key --tenant <name> [--id <key id>] [--models <route,route|*>]');
  process.exit(values.help ? 0 : 2);
}
const key = newApiKey();
let entry;
try {
  entry = apiKeyEntry(key, values.id ?? `${values.tenant}-${randomBytes(3).toString('hex')}`, values.tenant, (values.models ?? '*').split(',').map((m) => m.trim()).filter(Boolean));
} catch (e) {
  console.error(`invalid key settings: ${e.issues?.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') ?? e.message}`);
  process.exit(2);
}
process.stdout.write(`API key (shown this once: hand it to the tenant over a secure channel; Relaycast keeps only its hash):
  ${key}

Entry for the API_KEYS array (or the API_KEYS_FILE JSON), safe to store with the rest of the configuration:
  ${JSON.stringify(entry)}
`);
