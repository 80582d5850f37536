/**
 * The command line: the original updater's short flags, long forms, and the
 * `status` and `simulate` commands; and `--help`, built from the same option
 * specs. Parsing only; what runs is handed in by `main`.
 */
import * as Command from "@effect/cli/Command"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import type * as Effect from "effect/Effect"
import * as EffectModule from "effect/Effect"
import * as Either from "effect/Either"
import { identity } from "effect/Function"
import type * as Option from "effect/Option"
import { packageManagerNames } from "../layers/packageManagers/names.js"
import { type ServiceManagerKind, serviceManagerKinds } from "../services/AgentService.js"
import type { PackageManagerKind } from "../services/PackageManager.js"
import { DEFAULT_REPOSITORY } from "../services/UpdaterConfig.js"
import { EXIT_ALREADY_RUNNING, EXIT_FAILED, EXIT_OK, EXIT_USAGE } from "../programs/ExitCode.js"
import type * as Completions from "./Completions.js"
import * as Help from "./Help.js"
import { compareUpstream, parseVersionTxt, upstreamOf } from "../domain/Version.js"
import { FLEET_INSTALLED } from "./FleetVersions.js"
import * as OptionSpec from "./OptionSpec.js"

export interface HostOptions {
  readonly repository: string
  readonly packageManager: Option.Option<PackageManagerKind>
  readonly serviceManager: Option.Option<ServiceManagerKind>
}

export interface UpdateOptions extends HostOptions {
  readonly verbose: boolean
  readonly daemon: boolean
  readonly staged: boolean
  readonly interval: number
  readonly logFile: Option.Option<string>
  readonly pidfile: string
  readonly maxWait: Option.Option<number>
  readonly healthGrace: number
  readonly dryRun: boolean
  readonly upgradeWithoutRollback: boolean
  /** Where the Prometheus metrics file goes after each pass; none: no metrics. */
  readonly metricsDir: Option.Option<string>
}

export interface StatusOptions extends HostOptions {
  readonly json: boolean
  readonly pidfile: string
}

export interface SimulateOptions {
  readonly verbose: boolean
  /** A fleet run (`--hosts`) rather than the four-host demonstration; the options below go with it. */
  readonly hosts: Option.Option<number>
  readonly hours: Option.Option<number>
  readonly seed: Option.Option<string>
  readonly failVersion: Option.Option<string>
  readonly json: boolean
}

export interface Handlers<E, R> {
  readonly update: (options: UpdateOptions) => Effect.Effect<void, E, R>
  readonly status: (options: StatusOptions) => Effect.Effect<void, E, R>
  readonly simulate: (options: SimulateOptions) => Effect.Effect<void, E, R>
}

export const DEFAULT_LOG_FILE = "/var/log/cloudbackup-updater.log"
export const DEFAULT_PIDFILE = "/run/cloudbackup-updater.pid"

const invalid = (message: string) => ValidationError.invalidValue(HelpDoc.p(message))

const repository = OptionSpec.value(
  { name: "repository", alias: "r", argument: "URI", description: "agent repository", default: DEFAULT_REPOSITORY },
  Options.mapEffect((uri) =>
    Either.match(normalizeRepository(uri), {
      onLeft: (message) => EffectModule.fail(invalid(message)),
      onRight: EffectModule.succeed
    })
  )
)

/**
 * `-r` as it is written into sources lines, repo files and error lines: through `URL` (scheme and
 * host in lower case, no default port), without trailing slashes. Refused: blank space or control
 * characters (a newline would start a second sources line), user info (it would land in
 * world-readable files; never echoed), a query or a fragment.
 */
export const normalizeRepository = (uri: string): Either.Either<string, string> => {
  const option = "-r/--repository"
  const notHttp = Either.left(`${option}: ${JSON.stringify(uri)} is not an http:// or https:// URI`)
  if (!/^https?:\/\//i.test(uri)) return notHttp
  // Before `URL`, which drops tabs and newlines silently.
  if (/[\s\x00-\x1f\x7f]/.test(uri)) return Either.left(`${option}: ${JSON.stringify(uri)} holds blank space or a control character`)
  let url: URL
  try {
    url = new URL(uri)
  } catch {
    return notHttp
  }
  if (url.username !== "" || url.password !== "" || /^[a-z]+:\/\/[^/]*@/i.test(uri)) {
    return Either.left(`${option}: the URI holds a user name or password, which would be written to world-readable files`)
  }
  if (url.search !== "" || url.hash !== "" || /[?#]/.test(uri)) return Either.left(`${option}: "${uri}" has a query or a fragment`)
  return Either.right(url.href.replace(/\/+$/, ""))
}

const verbose = OptionSpec.flag({ name: "verbose", alias: "v", description: "debug logging" })

const daemon = OptionSpec.flag({
  name: "daemon",
  alias: "d",
  description: "run as a daemon, checking every interval"
})

const staged = OptionSpec.flag({
  name: "staged",
  description: "plan a newer version after a random delay; upgrade once due"
})

/** A whole number of `unit`, at least `min`; parsed as text so that every bad value gets the same one-line message. */
const wholeNumber = (name: string, options: { readonly min: number; readonly unit: string }) => (text: string) => {
  const value = /^\d+$/.test(text) ? Number(text) : Number.NaN
  return Number.isSafeInteger(value) && value >= options.min
    ? EffectModule.succeed(value)
    : EffectModule.fail(
      invalid(`${name}: "${text}" is not a ${options.min > 0 ? "positive " : ""}whole number of ${options.unit}`)
    )
}

const interval = OptionSpec.value(
  { name: "interval", alias: "i", argument: "NUM", description: "minutes between checks with -d or the timer", default: "60" },
  Options.mapEffect(wholeNumber("-i/--interval", { min: 1, unit: "minutes" }))
)

const maxWait = OptionSpec.value(
  {
    name: "max-wait",
    argument: "MINUTES",
    description: "longest wait for a backup to end",
    otherwise: "no limit"
  },
  (text) => text.pipe(Options.mapEffect(wholeNumber("--max-wait", { min: 0, unit: "minutes" })), Options.optional)
)

const healthGrace = OptionSpec.value(
  {
    name: "health-grace",
    argument: "SECONDS",
    description: "roll back an upgrade whose agent stops this soon",
    default: "30"
  },
  Options.mapEffect(wholeNumber("--health-grace", { min: 0, unit: "seconds" }))
)

const dryRun = OptionSpec.flag({ name: "dry-run", alias: "n", description: "say what the pass would do, and change nothing" })

const upgradeWithoutRollback = OptionSpec.flag({
  name: "upgrade-without-rollback",
  description: "upgrade even if no package is kept for a rollback"
})

// The directory is checked before the first pass (layers/NodeMetricsSink); an empty name is refused here.
const metricsDir = OptionSpec.value(
  {
    name: "metrics-dir",
    argument: "DIR",
    description: "write Prometheus metrics there",
    otherwise: "off",
    values: "file"
  },
  (text) =>
    text.pipe(
      Options.mapEffect((dir) =>
        dir === "" ? EffectModule.fail(invalid("--metrics-dir: the directory name is empty")) : EffectModule.succeed(dir)
      ),
      Options.optional
    )
)

// Without -l under systemd, the daemon logs to stderr (the journal): the parser has no default.
const logFile = OptionSpec.value(
  {
    name: "log-file",
    alias: "l",
    argument: "PATH",
    description: "log file with -d",
    otherwise: `the journal under systemd, else ${DEFAULT_LOG_FILE}`,
    values: "file"
  },
  Options.optional
)

const pidfile = OptionSpec.value(
  { name: "pidfile", alias: "p", argument: "PATH", description: "daemon pidfile", default: DEFAULT_PIDFILE, values: "file" },
  identity
)

const oneOf = <A extends string>(name: string, choices: ReadonlyArray<A>, description: string) =>
  OptionSpec.value(
    { name, argument: choices.join("|"), description, otherwise: "detected", values: choices },
    (text) =>
      text.pipe(
        Options.mapEffect((text) =>
          (choices as ReadonlyArray<string>).includes(text)
            ? EffectModule.succeed(text as A)
            : EffectModule.fail(invalid(`--${name}: "${text}" is not one of ${choices.join(", ")}`))
        ),
        Options.optional
      )
  )

const packageManager = oneOf("package-manager", packageManagerNames, "the package manager to use")

const serviceManager = oneOf("service-manager", serviceManagerKinds, "the init system to use")

const json = OptionSpec.flag({ name: "json", description: "print the status as one JSON object" })

/** At most `max`: a fleet run holds every host, and a counter for every minute, in memory. */
const atMost = (name: string, max: number, unit: string) => (value: number) =>
  value <= max ? EffectModule.succeed(value) : EffectModule.fail(invalid(`${name}: ${value} is more than ${max} ${unit}`))

/** An optional positive whole number of `unit`, at most `max`. */
const upTo = (spec: OptionSpec.OptionSpec & { readonly argument: string }, max: number, unit: string) =>
  OptionSpec.value(spec, (text) =>
    text.pipe(
      Options.mapEffect(wholeNumber(`--${spec.name}`, { min: 1, unit })),
      Options.mapEffect(atMost(`--${spec.name}`, max, unit)),
      Options.optional
    ))

const hosts = upTo(
  { name: "hosts", argument: "N", description: "simulate the staged rollout on a fleet of N hosts", otherwise: "the demonstration" },
  1_000_000,
  "hosts"
)

const hours = upTo(
  { name: "hours", argument: "H", description: "hours of the fleet's rollout to simulate", otherwise: "48" },
  8_760,
  "hours"
)

const seed = OptionSpec.value(
  { name: "seed", argument: "S", description: "seed of the fleet's random draws, to replay a run", otherwise: "random, printed" },
  (text) =>
    text.pipe(
      Options.mapEffect((text) =>
        /^[\x21-\x7e]{1,64}$/.test(text)
          ? EffectModule.succeed(text)
          : EffectModule.fail(invalid(`--seed: "${text}" is not 1 to 64 printable characters without blanks`))
      ),
      Options.optional
    )
)

const failVersion = OptionSpec.value(
  { name: "fail-version", argument: "V", description: "the version published to the fleet is V, and it fails its health check" },
  (text) =>
    text.pipe(
      Options.mapEffect((text) =>
        Either.match(parseVersionTxt(text), {
          onLeft: () => EffectModule.fail(invalid(`--fail-version: "${text}" is not a version (digits and dots)`)),
          onRight: (version) =>
            compareUpstream(version, upstreamOf(FLEET_INSTALLED)) > 0
              ? EffectModule.succeed(version)
              : EffectModule.fail(
                invalid(`--fail-version: "${text}" is not newer than the fleet's agent ${upstreamOf(FLEET_INSTALLED)}`)
              )
        })
      ),
      Options.optional
    )
)

const fleetJson = OptionSpec.flag({ name: "json", description: "print the fleet's report as one JSON object" })

/** The options of each command, in the order the help lists them. */
export const described = {
  update: {
    repository,
    verbose,
    daemon,
    staged,
    interval,
    logFile,
    pidfile,
    packageManager,
    serviceManager,
    maxWait,
    healthGrace,
    dryRun,
    upgradeWithoutRollback,
    metricsDir
  },
  status: { json, repository, pidfile, packageManager, serviceManager },
  simulate: { verbose, hosts, hours, seed, failVersion, json: fleetJson }
} as const

export type CommandName = keyof typeof described

const summaries: Record<CommandName, string> = {
  update: "Keeps the driveclient backup agent installed and up to date: one update pass, " +
    "one staged pass (--staged, as the systemd timer runs it), or with -d a daemon that checks every interval.",
  status: "Shows what the updater sees and remembers; changes nothing.",
  simulate: "Simulates hosts, or with --hosts a fleet's rollout; changes nothing."
}

/** Options of every command that @effect/cli provides itself. */
export const builtIns: ReadonlyArray<OptionSpec.OptionSpec> = [
  { name: "help", alias: "h", description: "show this help and exit" },
  { name: "version", description: "show the version and exit" }
]

const PROGRAM = "cloudbackup-updater"

const usageOf = (name: CommandName) =>
  Help.synopsis(name === "update" ? PROGRAM : `${PROGRAM} ${name}`, OptionSpec.specsOf(described[name]))

const exitStatus = (name: CommandName) =>
  `Exit status: ${EXIT_OK} done, ${EXIT_FAILED} failed, ${EXIT_USAGE} usage error` +
  (name === "update" ? `, ${EXIT_ALREADY_RUNNING} already running.` : ".")

/** The text of `--help` for a command. */
export const help = (name: CommandName): string =>
  Help.render({
    usage: name === "update" ? [usageOf("update"), usageOf("status"), usageOf("simulate")] : [usageOf(name)],
    summary: summaries[name],
    options: [...OptionSpec.specsOf(described[name]), ...builtIns],
    commands: name === "update" ? [["status", summaries.status], ["simulate", summaries.simulate]] : [],
    footer: [exitStatus(name), `See ${PROGRAM}(8).`]
  })

/** The command line as the bash and zsh completions offer it: each command's options, and the built-ins. */
export const completionSpec: Completions.CommandLine = {
  program: PROGRAM,
  options: [...OptionSpec.specsOf(described.update), ...builtIns],
  commands: (["status", "simulate"] as const).map((name) => ({
    name,
    summary: summaries[name],
    options: [...OptionSpec.specsOf(described[name]), ...builtIns]
  }))
}

/**
 * The updater's command, and `status` and `simulate` as commands of their own: as subcommands
 * of a command with options, @effect/cli would report any unknown option as an
 * invalid subcommand.
 */
export const make = <E, R>(handlers: Handlers<E, R>) => ({
  update: Command.make(PROGRAM, OptionSpec.optionsOf(described.update), handlers.update).pipe(
    Command.withDescription(summaries.update)
  ),
  status: Command.make("status", OptionSpec.optionsOf(described.status), handlers.status).pipe(
    Command.withDescription(summaries.status)
  ),
  simulate: Command.make("simulate", OptionSpec.optionsOf(described.simulate), handlers.simulate).pipe(
    Command.withDescription(summaries.simulate)
  )
})

/** The command that `argv` names (`node script command …`): the updater's own unless it is `status` or `simulate`. */
export const commandOf = (argv: ReadonlyArray<string>): "update" | "status" | "simulate" =>
  argv[2] === "status" || argv[2] === "simulate" ? argv[2] : "update"

/** Whether `argv` runs the daemon (`-d`, `--daemon`). */
export const runsDaemon = (argv: ReadonlyArray<string>): boolean =>
  commandOf(argv) === "update" && argv.slice(2).some((arg) => arg === "-d" || arg === "--daemon")

/**
 * Whether a signal ends `argv`'s run as a normal stop (exit 0) rather than cutting a pass short (exit 1): the
 * daemon's, and a `--staged` pass, which the timer's service runs and `systemctl stop` (a shutdown, the package's
 * removal) may end; the next run goes on from the state file.
 */
export const stopsOnSignal = (argv: ReadonlyArray<string>): boolean =>
  runsDaemon(argv) || (commandOf(argv) === "update" && argv.slice(2).includes("--staged"))
