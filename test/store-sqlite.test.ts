import { sqliteHarness } from './helpers/stores.js';
import { storeContract } from './store.contract.js';

storeContract('SQLite', sqliteHarness);
