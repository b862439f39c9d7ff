// The heap of a process that applies events. A group of up to WORKER_FLUSH_MAX_EVENTS events lives
// for its whole transaction (a second or so), long enough to be promoted to V8's old generation, so
// a worker makes old garbage fast. V8 then lets the heap grow up to 4× what survived the last full
// collection before collecting again: ~1 GB of RSS for ~150-350 MB of live data in the bench's
// drain. Growing by 2× at most instead kept the peak at ~600 MB for the same events per second
// (1,000,000 events in groups of 20,000, in process: 20.1k/s and 650 MB vs 20.7k/s and 1,050 MB).
// The flag is read at every collection, so setting it at start-up takes effect; it is process-wide
// (embedded mode: the API's heap too, which there shares the machine with the worker anyway).
import v8 from 'node:v8';

export function limitHeapGrowth(): void {
  v8.setFlagsFromString('--heap-growing-percent=100');
}
