/** systemctl, `service` and the agent's init script, as the fake host answers them, with their exit codes. */
import * as Effect from "effect/Effect"
import { agentPresent } from "../../../src/layers/simulated/HostState.js"
import { ShellError } from "../../../src/services/Shell.js"
import {
  HOLE,
  initScriptCommands,
  serviceCommands,
  type ServiceCommands,
  SYSTEMCTL_IS_ACTIVE,
  SYSTEMCTL_IS_ENABLED,
  SYSTEMCTL_MAIN_PID,
  systemdCommands
} from "../ExpectedCommands.js"
import { type Answer, type Call, type CommandEntry, type CommandTable, entry, notFound, result } from "./CommandTable.js"

const UNIT = "driveclient"

/** The agent's main pid that `systemctl show --property=MainPID` reports while it runs. */
export const AGENT_MAIN_PID = 4242

/** `systemctl is-enabled` exits 0 for these unit file states, 1 for any other. */
const ENABLED_EXIT_0 = new Set(["enabled", "enabled-runtime", "static", "alias", "indirect", "generated", "transient"])

const isActive = ({ host }: Call): Answer =>
  Effect.map(host.model.state, (state) => result(!agentPresent(state) ? 4 : state.running ? 0 : 3))

// Also for a unit systemd does not know: `show` reports its defaults.
const mainPid = ({ host }: Call): Answer =>
  Effect.map(host.model.state, (state) => result(0, `MainPID=${agentPresent(state) && state.running ? AGENT_MAIN_PID : 0}\n`))

const isEnabled = ({ host }: Call): Answer =>
  Effect.map(host.model.state, (state) => {
    if (!agentPresent(state)) return result(1, "", `Failed to get unit file state for ${UNIT}.service: No such file or directory\n`)
    return result(ENABLED_EXIT_0.has(state.unitFileState) ? 0 : 1, `${state.unitFileState}\n`)
  })

const systemctlStopStart = (operation: "stop" | "start") => ({ host }: Call): Answer =>
  Effect.gen(function*() {
    if (!agentPresent(yield* host.model.state)) {
      return result(5, "", `Failed to ${operation} ${UNIT}.service: Unit ${UNIT}.service not ${operation === "stop" ? "loaded" : "found"}.\n`)
    }
    const outcome = yield* (operation === "stop" ? host.model.stopAgent : host.model.startAgent)
    return outcome._tag === "Failed" ? result(1, "", `${outcome.line ?? `Job for ${UNIT}.service failed`}\n`) : result(0)
  })

/** An init script's action, with LSB exit codes; `service` says so of a missing agent, a missing script is not found. */
const initScript = (action: "status" | "stop" | "start" | "other", viaService: boolean) => (call: Call): Answer =>
  Effect.gen(function*() {
    const { host } = call
    const state = yield* host.model.state
    if (!agentPresent(state)) {
      if (viaService) return result(1, "", `${UNIT}: unrecognized service\n`)
      return yield* new ShellError({ argv: call.argv, reason: "NotFound", detail: "command not found" })
    }
    switch (action) {
      case "status":
        return result((yield* host.lsbStatus) ?? (state.running ? 0 : 3), state.running ? `${UNIT} is running\n` : `${UNIT} is stopped\n`)
      case "stop":
      case "start": {
        const outcome = yield* (action === "stop" ? host.model.stopAgent : host.model.startAgent)
        if (outcome._tag === "Failed") return result(1, "", `${outcome.line ?? `Starting ${UNIT}: [FAILED]`}\n`)
        return result(0, `${action === "stop" ? "Stopping" : "Starting"} ${UNIT}: [  OK  ]\n`)
      }
      case "other":
        return result(2, "", `Usage: /etc/init.d/${UNIT} {start|stop|status|restart}\n`)
    }
  })

/** The three actions the updater runs, then any other action in the same place. */
const sysv = (commands: ServiceCommands, viaService: boolean): ReadonlyArray<CommandEntry> => [
  entry(commands.status, initScript("status", viaService)),
  entry(commands.stop, initScript("stop", viaService)),
  entry(commands.start, initScript("start", viaService)),
  entry([commands.status[0], ...commands.status.slice(1, -1), HOLE], initScript("other", viaService))
]

export const servicesTable: CommandTable = {
  programs: ["systemctl", "service", initScriptCommands.status[0]],
  entries: [
    entry(SYSTEMCTL_IS_ACTIVE, isActive),
    entry(SYSTEMCTL_MAIN_PID, mainPid),
    entry(SYSTEMCTL_IS_ENABLED, isEnabled),
    entry(systemdCommands.stop, systemctlStopStart("stop")),
    entry(systemdCommands.start, systemctlStopStart("start")),
    ...sysv(serviceCommands, true),
    ...sysv(initScriptCommands, false)
  ],
  notUnderstood: (argv) =>
    argv[0] === "systemctl" ? result(1, "", `Unknown command verb ${argv.slice(1).join(" ")}.\n`) : notFound(argv)
}
