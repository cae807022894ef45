import { defaultNodeOptions, type NodeOptions } from './options.ts'

/**
 * A regtest node for this machine alone, as tests and benchmarks start them
 * in-process: peer-to-peer on loopback and RPC on ports the system picks, no
 * mDNS, no HTTP server (give `http` with port 0 for one), one signature thread
 * (the cores are shared). `options` override these.
 */
export function loopbackNodeOptions (datadir: string, options: Partial<NodeOptions> = {}): NodeOptions {
  return {
    ...defaultNodeOptions('regtest'),
    datadir,
    rpcPort: 0,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    mdns: false,
    http: undefined,
    verifierThreads: 1,
    ...options
  }
}
