// Types of tracker/build.mjs for the tests.
export declare const TRACKER_SOURCE: string;
export declare const TRACKER_OUTPUT: string;
export declare function buildTracker(outfile?: string): Promise<{ code: string; gzipBytes: number }>;
