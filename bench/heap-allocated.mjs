// Heap bytes allocated per operation, garbage included: a work count for the core bench that the machine's
// load cannot move (run with --expose-gc). V8's GC profiler reports the heap before and after every collection
// during the run, so allocated = what the heap grew by between collections, summed.
import v8 from 'node:v8';

/** Runs `body(i)` `n` times (awaited) and returns the heap bytes allocated per call. */
export async function allocatedPerOp(n, body) {
  for (let i = 0; i < Math.min(n, 2_000); i++) await body(i); // warm up: optimised code allocates differently
  global.gc?.();
  const profiler = new v8.GCProfiler();
  const start = v8.getHeapStatistics().used_heap_size;
  profiler.start();
  for (let i = 0; i < n; i++) await body(i);
  const end = v8.getHeapStatistics().used_heap_size;
  const { statistics } = profiler.stop();
  let allocated = 0;
  let from = start;
  for (const gc of statistics) {
    allocated += gc.beforeGC.heapStatistics.usedHeapSize - from;
    from = gc.afterGC.heapStatistics.usedHeapSize;
  }
  allocated += end - from;
  return allocated / n;
}
