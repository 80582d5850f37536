/**
 * The command line: the original updater's short flags, long forms, and the
 * `simulate` subcommand. Parsing only; what runs is handed in by `main`.
 */
import * as Command from "@effect/cli/Command"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import type * as Effect from "effect/Effect"
import * as EffectModule from "effect/Effect"
import * as Either from "effect/Either"
import type * as Option from "effect/Option"
import { packageManagerNames } from "../layers/packageManagers/index.js"
import { type ServiceManagerKind, serviceManagerKinds } from "../services/AgentService.js"
import type { PackageManagerKind } from "../services/PackageManager.js"
import { DEFAULT_REPOSITORY } from "../services/UpdaterConfig.js"

export interface HostOptions {
  readonly repository: string
  readonly packageManager: Option.Option<PackageManagerKind>
  readonly serviceManager: Option.Option<ServiceManagerKind>
}

export interface UpdateOptions extends HostOptions {
  readonly verbose: boolean
  readonly daemon: boolean
  readonly interval: number
  readonly logFile: Option.Option<string>
  readonly pidfile: string
  readonly maxWait: Option.Option<number>
  readonly healthGrace: number
  readonly dryRun: boolean
  readonly upgradeWithoutRollback: boolean
}

export interface StatusOptions extends HostOptions {
  readonly json: boolean
  readonly pidfile: string
}

export interface SimulateOptions {
  readonly verbose: boolean
}

export interface Handlers<E, R> {
  readonly update: (options: UpdateOptions) => Effect.Effect<void, E, R>
  readonly status: (options: StatusOptions) => Effect.Effect<void, E, R>
  readonly simulate: (options: SimulateOptions) => Effect.Effect<void, E, R>
}

export const DEFAULT_LOG_FILE = "/var/log/cloudbackup-updater.log"
export const DEFAULT_PIDFILE = "/run/cloudbackup-updater.pid"

const invalid = (message: string) => ValidationError.invalidValue(HelpDoc.p(message))

const repository = Options.text("repository").pipe(
  Options.withAlias("r"),
  Options.withPseudoName("URI"),
  Options.withDescription(`Base URI of the remote agent repository (default ${DEFAULT_REPOSITORY}).`),
  Options.withDefault(DEFAULT_REPOSITORY),
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

const verbose = Options.boolean("verbose").pipe(
  Options.withAlias("v"),
  Options.withDescription("Verbose (debug) logging.")
)

const daemon = Options.boolean("daemon").pipe(
  Options.withAlias("d"),
  Options.withDescription("Run as a daemon: one pass at start, then a check every interval.")
)

/** A whole number of `unit`, at least `min`; parsed as text so that every bad value gets the same one-line message. */
const wholeNumber = (name: string, options: { readonly min: number; readonly unit: string }) => (text: string) => {
  const value = /^\d+$/.test(text) ? Number(text) : Number.NaN
  return Number.isSafeInteger(value) && value >= options.min
    ? EffectModule.succeed(value)
    : EffectModule.fail(
      invalid(`${name}: "${text}" is not a ${options.min > 0 ? "positive " : ""}whole number of ${options.unit}`)
    )
}

const interval = Options.text("interval").pipe(
  Options.withAlias("i"),
  Options.withPseudoName("NUM"),
  Options.withDescription("Minutes between checks in daemon mode (default 60). Ignored otherwise."),
  Options.withDefault("60"),
  Options.mapEffect(wholeNumber("-i/--interval", { min: 1, unit: "minutes" }))
)

const maxWait = Options.text("max-wait").pipe(
  Options.withPseudoName("MINUTES"),
  Options.withDescription(
    "Give up (exit 1) when the agent is still busy with a backup after this long. Default: wait as long as it takes."
  ),
  Options.mapEffect(wholeNumber("--max-wait", { min: 0, unit: "minutes" })),
  Options.optional
)

const healthGrace = Options.text("health-grace").pipe(
  Options.withPseudoName("SECONDS"),
  Options.withDescription(
    "How long an upgraded agent must stay running; if it does not, the previous version is reinstalled (default 30)."
  ),
  Options.withDefault("30"),
  Options.mapEffect(wholeNumber("--health-grace", { min: 0, unit: "seconds" }))
)

const dryRun = Options.boolean("dry-run").pipe(
  Options.withAlias("n"),
  Options.withDescription("Say what the pass would do, and change nothing.")
)

const upgradeWithoutRollback = Options.boolean("upgrade-without-rollback").pipe(
  Options.withDescription(
    "Upgrade a running agent even when no package of its installed version can be kept for a rollback."
  )
)

const logFile = Options.text("log-file").pipe(
  Options.withAlias("l"),
  Options.withPseudoName("PATH"),
  Options.withDescription(`Log file in daemon mode (default ${DEFAULT_LOG_FILE}). Ignored otherwise.`),
  Options.optional
)

const pidfile = Options.text("pidfile").pipe(
  Options.withAlias("p"),
  Options.withPseudoName("PATH"),
  Options.withDescription(`Pidfile in daemon mode (default ${DEFAULT_PIDFILE}). Ignored otherwise.`),
  Options.withDefault(DEFAULT_PIDFILE)
)

const oneOf = <A extends string>(name: string, choices: ReadonlyArray<A>, description: string) =>
  Options.text(name).pipe(
    Options.withPseudoName(choices.join("|")),
    Options.withDescription(`${description} One of: ${choices.join(", ")}.`),
    Options.mapEffect((text) =>
      (choices as ReadonlyArray<string>).includes(text)
        ? EffectModule.succeed(text as A)
        : EffectModule.fail(invalid(`--${name}: "${text}" is not one of ${choices.join(", ")}`))
    ),
    Options.optional
  )

const packageManager = oneOf("package-manager", packageManagerNames, "Use this package manager instead of detecting it.")

const serviceManager = oneOf("service-manager", serviceManagerKinds, "Use this service manager instead of detecting it.")

/**
 * The updater's command, and `status` and `simulate` as commands of their own: as subcommands
 * of a command with options, @effect/cli would report any unknown option as an
 * invalid subcommand.
 */
export const make = <E, R>(handlers: Handlers<E, R>) => ({
  update: Command.make(
    "cloudbackup-updater",
    {
      repository,
      verbose,
      daemon,
      interval,
      logFile,
      pidfile,
      packageManager,
      serviceManager,
      maxWait,
      healthGrace,
      dryRun,
      upgradeWithoutRollback
    },
    handlers.update
  ).pipe(
    Command.withDescription(
      "Keeps the driveclient backup agent installed and up to date. " +
        "`cloudbackup-updater status` shows what it sees; `cloudbackup-updater simulate` shows it at work on simulated hosts."
    )
  ),
  status: Command.make(
    "status",
    {
      repository,
      pidfile,
      packageManager,
      serviceManager,
      json: Options.boolean("json").pipe(Options.withDescription("Print the status as one JSON object."))
    },
    handlers.status
  ).pipe(
    Command.withDescription(
      "Shows the installed and published agent versions, the repository, the agent, the daemon and the last check (changes nothing)."
    )
  ),
  simulate: Command.make("simulate", { verbose }, handlers.simulate).pipe(
    Command.withDescription(
      "Runs the update pass against simulated hosts and an embedded repository on 127.0.0.1 (needs no root, changes nothing)."
    )
  )
})

/** The command that `argv` names (`node script command …`): the updater's own unless it is `status` or `simulate`. */
export const commandOf = (argv: ReadonlyArray<string>): "update" | "status" | "simulate" =>
  argv[2] === "status" || argv[2] === "simulate" ? argv[2] : "update"

/** Whether `argv` runs the daemon (`-d`, `--daemon`). */
export const runsDaemon = (argv: ReadonlyArray<string>): boolean =>
  commandOf(argv) === "update" && argv.slice(2).some((arg) => arg === "-d" || arg === "--daemon")
