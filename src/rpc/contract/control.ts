import type { MethodDoc } from './types.ts'

/** What each of the node's own methods answers. */
export interface ControlResults {
  help: string
  uptime: number
  stop: string
}

/** The node's own methods: help, uptime and stop. */
export const CONTROL_METHODS = {
  help: {
    description: 'Lists every method by group with its arguments; `help METHOD` explains one.',
    params: [{ name: 'command', type: 'string', optional: true, max: 100 }]
  },
  uptime: {
    description: 'Seconds since this node started.',
    params: []
  },
  stop: {
    description: 'Shuts the node down.',
    params: []
  }
} as const satisfies Record<keyof ControlResults, MethodDoc>
