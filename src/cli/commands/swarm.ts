import { readFile } from 'node:fs/promises'
import { formatReport, SCENARIOS, Swarm, type Scenario, type SwarmOptions } from '../../swarm/swarm.ts'
import { helpText, intFlag, parseFlags, UsageError, type Command } from '../command.ts'
import { endProgress, progressLine } from '../prompt.ts'
import { onStopSignal } from '../signals.ts'

const flags = {
  nodes: { type: 'string' },
  miners: { type: 'string' },
  mode: { type: 'string' },
  scenario: { type: 'string' },
  'scenario-file': { type: 'string' },
  'phase-seconds': { type: 'string' },
  'block-interval-ms': { type: 'string' },
  'tx-rate': { type: 'string' },
  'late-nodes': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' }
} as const

function scenariosOf (text: string): Scenario[] {
  const names = text === 'all' ? [...SCENARIOS] : text.split(',').map(s => s.trim()).filter(s => s !== '')
  for (const name of names) {
    if (!(SCENARIOS as readonly string[]).includes(name)) throw new UsageError('BAD_FLAGS', `unknown scenario "${name}"; scenarios: ${SCENARIOS.join(', ')}, or all`)
  }
  return names as Scenario[]
}

/** A scenario file: JSON with the flags' names, e.g. {"nodes": 5, "scenario": "partition,crash"}. */
async function fileOptions (path: string): Promise<Record<string, unknown>> {
  try {
    const value: unknown = JSON.parse(await readFile(path, 'utf8'))
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not a JSON object')
    for (const key of Object.keys(value)) if (!(key in flags) || key === 'help' || key === 'scenario-file') throw new Error(`unknown key "${key}"`)
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, String(v)]))
  } catch (err) {
    throw new UsageError('BAD_CONFIG', `scenario file ${path}: ${(err as Error).message}`)
  }
}

export const swarmCommand: Command = {
  name: 'swarm',
  summary: 'Runs a swarm of regtest nodes on this machine, mines and sends transactions among them, applies faults and reports propagation and convergence (exit status 1 when they did not converge).',
  usage: 'coints swarm [--nodes N] [--miners M] [--mode loopback|lan|nat] [--scenario steady,partition,crash,late|all] [--json]',
  flags: [
    ['--nodes N', 'node processes (default 8)'],
    ['--miners M', 'of which mining, in turn (default 2)'],
    ['--mode loopback|lan|nat', 'loopback: bootstrap lists on 127.0.0.1 (anywhere); lan: each node in its own network namespace on a bridge, found by mDNS (root and iproute2); nat: two public nodes and the others each behind a home router (port-restricted, UPnP or symmetric NAT) on a simulated internet with a STUN server, found through the DHT (root, iproute2, iptables, nftables, miniupnpd, stund)'],
    ['--scenario LIST', 'steady, partition (split, both sides mine, heal), crash (SIGKILL and restart), late (add nodes that must sync), or all (default steady)'],
    ['--scenario-file FILE', 'JSON with these flags\' names'],
    ['--phase-seconds S', 'length of each scenario phase (default 10)'],
    ['--block-interval-ms N', 'time between blocks (default 1000)'],
    ['--tx-rate R', 'wallet-to-wallet sends per second (default 2; 0 for none)'],
    ['--late-nodes N', 'nodes added by the late scenario (default 2)'],
    ['--json', 'end with the report as one JSON object on the last line of stdout']
  ],
  async run (argv) {
    const parsed = parseFlags(this, argv, flags).values
    if (parsed.help === true) {
      console.log(helpText(this))
      return 0
    }
    const v = { ...(typeof parsed['scenario-file'] === 'string' ? await fileOptions(parsed['scenario-file']) : {}), ...Object.fromEntries(Object.entries(parsed).filter(([, x]) => x !== undefined)) }
    const mode = v.mode ?? 'loopback'
    if (mode !== 'loopback' && mode !== 'lan' && mode !== 'nat') throw new UsageError('BAD_FLAGS', '--mode must be loopback, lan or nat')
    const options: SwarmOptions = {
      nodes: intFlag('nodes', v.nodes, 2, 200) ?? 8,
      miners: intFlag('miners', v.miners, 1, 200) ?? 2,
      mode,
      scenarios: scenariosOf(typeof v.scenario === 'string' ? v.scenario : 'steady'),
      phaseSeconds: intFlag('phase-seconds', v['phase-seconds'], 1, 3_600) ?? 10,
      blockIntervalMs: intFlag('block-interval-ms', v['block-interval-ms'], 50, 600_000) ?? 1_000,
      txRate: intFlag('tx-rate', v['tx-rate'], 0, 1_000) ?? 2,
      lateNodes: intFlag('late-nodes', v['late-nodes'], 1, 100) ?? 2,
      onProgress: (line, lasting) => {
        if (!lasting) {
          progressLine(`swarm: ${line}`)
          return
        }
        // A scenario's start and end stay on screen (on a terminal the progress line below them moves on).
        endProgress()
        process.stderr.write(`swarm: ${line}\n`)
      }
    }
    const swarm = new Swarm(options)
    onStopSignal((_signal, count) => {
      // A second Ctrl-C must not cut the cleanup short: it would leave namespaces and node processes behind.
      if (count > 1) {
        process.stderr.write('swarm: still stopping (every wait has a deadline)...\n')
        return
      }
      endProgress()
      process.stderr.write('swarm: stopping every node and removing the namespaces...\n')
      void swarm.shutdown().finally(() => process.exit(130))
    })
    const report = await swarm.run()
    endProgress()
    console.log(formatReport(report))
    if (v.json === true) console.log(JSON.stringify(report))
    return report.converged ? 0 : 1
  }
}
