/** The fixture agent's event log (/var/log/driveclient-events.log) and what it proves. */

export type AgentEvent =
  | { readonly at: number; readonly kind: "up"; readonly version: string; readonly pid: number }
  /** `lockOwner`: the pid in the backup lock when the agent stopped, undefined when there was none. */
  | { readonly at: number; readonly kind: "down"; readonly version: string; readonly lockOwner: number | undefined }
  | { readonly at: number; readonly kind: "lock" | "unlock"; readonly pid: number }
  /** The daemon died on its own (the crashing-agent fixture variant). */
  | { readonly at: number; readonly kind: "crash"; readonly version: string; readonly pid: number }

export const parseEvents = (text: string): AgentEvent[] =>
  text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line): AgentEvent => {
      const [at = "", kind = "", a = "", b = ""] = line.trim().split(/\s+/)
      const time = Number(at)
      switch (kind) {
        case "up":
          return { at: time, kind, version: a, pid: Number(b) }
        case "down": {
          const owner = /^lock=(\d+)$/.exec(b)?.[1]
          return { at: time, kind, version: a, lockOwner: owner === undefined ? undefined : Number(owner) }
        }
        case "lock":
        case "unlock":
          return { at: time, kind, pid: Number(a) }
        case "crash":
          return { at: time, kind, version: a, pid: Number(b) }
        default:
          throw new Error(`unexpected agent event line: ${line}`)
      }
    })

export interface Outage {
  readonly down: Extract<AgentEvent, { kind: "down" }>
  readonly up: Extract<AgentEvent, { kind: "up" }> | undefined
  /** ms from down to the next up (undefined while still down). */
  readonly ms: number | undefined
}

export const outages = (events: ReadonlyArray<AgentEvent>): Outage[] => {
  const result: Outage[] = []
  events.forEach((event, index) => {
    if (event.kind !== "down") return
    const up = events.slice(index + 1).find((e): e is Extract<AgentEvent, { kind: "up" }> => e.kind === "up")
    result.push({ down: event, up, ms: up === undefined ? undefined : up.at - event.at })
  })
  return result
}

/**
 * Every way the log shows the agent stopped while it held the backup lock itself: a "down"
 * inside a lock..unlock window, or a "down" whose lock owner is the agent's own pid.
 */
export const stopsWhileAgentLocked = (events: ReadonlyArray<AgentEvent>): string[] => {
  const problems: string[] = []
  let agentPid: number | undefined
  let locked: number | undefined
  for (const event of events) {
    if (event.kind === "up") agentPid = event.pid
    if (event.kind === "lock") locked = event.pid
    if (event.kind === "unlock") locked = undefined
    if (event.kind !== "down") continue
    if (locked !== undefined) problems.push(`down at ${event.at} while the agent's lock (pid ${locked}) was held`)
    if (event.lockOwner !== undefined && event.lockOwner === agentPid) {
      problems.push(`down at ${event.at} with the lock owned by the agent itself (pid ${agentPid})`)
    }
  }
  return problems
}
