import { readFile } from 'node:fs/promises'
import { getNetwork, NETWORK_NAMES, type NetworkName } from '../../core/params.ts'
import { defaultDatadir } from '../../node/options.ts'
import { intFlag, UsageError } from '../command.ts'

/** Flags every command that talks to a node shares. */
export const targetFlags = {
  network: { type: 'string' },
  datadir: { type: 'string' },
  'rpc-port': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' }
} as const

export const targetFlagHelp: Array<[string, string]> = [
  ['--network regtest|lan', 'network (default lan)'],
  ['--datadir DIR', 'the node\'s data directory (default ~/.coints/<network>)'],
  ['--rpc-port N', 'the node\'s RPC port (default: the network\'s)']
]

export function networkOf (value: unknown): NetworkName {
  const name = value ?? 'lan'
  if (typeof name !== 'string' || !(NETWORK_NAMES as readonly string[]).includes(name)) {
    throw new UsageError('BAD_FLAGS', `--network must be one of ${NETWORK_NAMES.join(', ')}, got ${JSON.stringify(name)}`)
  }
  return name as NetworkName
}

export function rpcTargetOf (values: Record<string, unknown>): { datadir: string, port: number } {
  const network = networkOf(values.network)
  return {
    datadir: typeof values.datadir === 'string' ? values.datadir : defaultDatadir(network),
    port: intFlag('rpc-port', values['rpc-port'], 0, 65_535) ?? getNetwork(network).defaultRpcPort
  }
}

/** A JSON config file whose keys are the flags' names. */
export async function readConfig (path: string): Promise<Record<string, unknown>> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new UsageError('BAD_CONFIG', `cannot read config file ${path}: ${(err as Error).message}`)
  }
  let config: unknown
  try {
    config = JSON.parse(text)
  } catch (err) {
    throw new UsageError('BAD_CONFIG', `config file ${path} is not valid JSON: ${(err as Error).message}`)
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) throw new UsageError('BAD_CONFIG', `config file ${path} must hold a JSON object`)
  return config as Record<string, unknown>
}
