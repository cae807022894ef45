import { exportCar, importCar } from '../../rpc/car-transfer.ts'
import { helpText, intFlag, parseFlags, UsageError, type Command } from '../command.ts'
import { endProgress, progressLine } from '../prompt.ts'
import { rpcTargetOf, targetFlagHelp, targetFlags } from './common.ts'

function carPath (values: Record<string, unknown>, command: Command): string {
  const file = values.car
  if (typeof file !== 'string' || file === '') throw new UsageError('BAD_FLAGS', `which file? --car FILE\nsee: coints ${command.name} --help`)
  return file
}

const rangeFlags = { ...targetFlags, car: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' } } as const

export const exportCommand: Command = {
  name: 'export',
  summary: 'Writes the running node\'s best-chain blocks (headers, transaction lists, transactions) as a CAR v1 file with the last block as root, for any IPFS implementation (ipfs dag import). Progress on a terminal.',
  usage: 'coints export [options] --car FILE [--from H] [--to H]',
  flags: [
    ['--car FILE', 'the CAR file to write (replaced once complete)'],
    ['--from H', 'first height (default 0, genesis)'],
    ['--to H', 'last height, the CAR\'s root (default the tip)'],
    ...targetFlagHelp
  ],
  async run (argv) {
    const { values } = parseFlags(this, argv, rangeFlags)
    if (values.help === true) {
      console.log(helpText(this))
      return 0
    }
    const file = carPath(values, this)
    const range = { from: intFlag('from', values.from, 0, 2 ** 32 - 1), to: intFlag('to', values.to, 0, 2 ** 32 - 1) }
    const { blocks, objects, root } = await exportCar(await rpcTargetOf(values), file, range, progressLine).finally(endProgress)
    console.log(`exported ${blocks} blocks (${objects} objects) to ${file}, root ${root}`)
    return 0
  }
}

export const importCommand: Command = {
  name: 'import',
  summary: 'Feeds every block of a CAR file (as coints export writes them: each block\'s header, list and transactions) to the running node, which validates each as a block from a peer; reports what it accepted and refused. A damaged file stops the import at its first bad object.',
  usage: 'coints import [options] --car FILE',
  flags: [['--car FILE', 'the CAR file to read'], ...targetFlagHelp],
  async run (argv) {
    const { values } = parseFlags(this, argv, { ...targetFlags, car: { type: 'string' } })
    if (values.help === true) {
      console.log(helpText(this))
      return 0
    }
    const file = carPath(values, this)
    const report = await importCar(await rpcTargetOf(values), file, progressLine).finally(endProgress)
    const accepted = Object.entries(report.statuses).map(([status, n]) => `${n} ${status}`).join(', ')
    console.log(`imported ${file}: ${accepted === '' ? 'no blocks' : accepted}; ${report.refused.length} refused`)
    for (const r of report.refused.slice(0, 10)) console.log(`  refused ${r.id ?? '(undecodable block)'}: ${r.message}`)
    if (report.refused.length > 10) console.log(`  … and ${report.refused.length - 10} more`)
    if (report.failure !== undefined) throw report.failure
    return report.refused.length > 0 ? 1 : 0
  }
}
