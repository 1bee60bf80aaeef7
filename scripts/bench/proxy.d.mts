/** Types of proxy.mjs, for the TypeScript tests that count a push's round trips through it. */
export interface ProxyStats {
  readonly connections: number;
  readonly bytesToServer: number;
  readonly bytesToClient: number;
  readonly roundTrips: number;
}

export interface DelayProxy {
  readonly port: number;
  readonly trace: string[] | null;
  stats(): ProxyStats;
  reset(): void;
  close(): Promise<void>;
}

export function startDelayProxy(options: {
  targetHost?: string;
  targetPort: number;
  delayMs: number;
  mbitPerS?: number;
  trace?: string[] | null;
}): Promise<DelayProxy>;
