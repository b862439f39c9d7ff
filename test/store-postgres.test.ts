import { describe } from 'vitest';
import { POSTGRES_URL, serviceAvailable } from './helpers/services.js';
import { postgresHarness } from './helpers/stores.js';
import { storeContract } from './store.contract.js';

const available = await serviceAvailable('PostgreSQL', POSTGRES_URL);
describe.runIf(available)('PostgreSQL', () => {
  storeContract('PostgreSQL', postgresHarness);
});
