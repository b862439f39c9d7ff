// The background event processor named by the spec: `npm run worker` (reloads on change)
// and `npm run worker:prod`. The implementation lives in src/worker/.
import '../src/worker/main.js';
