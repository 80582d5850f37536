/**
 * `cloudbackup-updater simulate`: the real update pass, over the live Http
 * layer and an embedded repository on 127.0.0.1, against simulated hosts. It
 * changes nothing on this machine and fails if the pass breaks a promise of
 * the contract. A composition root, as `main` is: it assembles a simulated world for each scenario.
 */
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as EmbeddedRepositoryServer from "../layers/internal/EmbeddedRepositoryServer.js"
import * as NodeHttp from "../layers/NodeHttp.js"
import * as MemoryStateStore from "../layers/MemoryStateStore.js"
import * as SimulatedHost from "../layers/SimulatedHost.js"
import * as ShutdownInhibitor from "../services/ShutdownInhibitor.js"
import * as Repository from "../services/Repository.js"
import * as UpdaterConfig from "../services/UpdaterConfig.js"
import { type PassOutcome, updatePass } from "../programs/UpdatePass.js"

export const SIMULATED_KEY = [
  "-----BEGIN PGP PUBLIC KEY BLOCK-----",
  "",
  "mDMEZsimulatedFakeKeyForTheEmbeddedRepositoryOnly0000000000000000",
  "=sim0",
  "-----END PGP PUBLIC KEY BLOCK-----",
  ""
].join("\n")

const AGENT_LOCK = "/var/cache/driveclient/backup-running.lock"

interface Scenario {
  readonly title: string
  readonly host: Omit<SimulatedHost.SimulatedHostOptions, "offered" | "agentLock">
  readonly backup?: Duration.DurationInput
  readonly expect: PassOutcome["_tag"]
}

const scenarios: ReadonlyArray<Scenario> = [
  {
    title: "a fresh host: no agent repository, no agent",
    host: { repositoryConfigured: false, installed: undefined },
    expect: "Installed"
  },
  { title: "an old agent, running and idle", host: { installed: "1.1.0-1", agentRunning: true }, expect: "Upgraded" },
  {
    title: "an old agent in the middle of a backup",
    host: { installed: "1.1.0-1", agentRunning: true },
    backup: Duration.seconds(3),
    expect: "Upgraded"
  },
  { title: "an agent that is up to date", host: { installed: "1.2.0-1", agentRunning: true }, expect: "UpToDate" }
]

const runScenario = (base: string, scenario: Scenario, index: number) =>
  Effect.gen(function*() {
    yield* Console.log(`\n== ${index + 1}. ${scenario.title}`)
    const host = yield* SimulatedHost.SimulatedHostTag
    const before = yield* host.state
    if (scenario.backup !== undefined) yield* host.startBackup(scenario.backup)
    const outcome = yield* updatePass
    const after = yield* host.state
    const violations = yield* host.violations
    const problems = [
      ...violations,
      ...(outcome._tag === scenario.expect ? [] : [`expected ${scenario.expect}, got ${outcome._tag}`]),
      ...(before.agentRunning && !after.agentRunning ? ["the agent was left stopped"] : []),
      ...(after.installed === "1.2.0-1" ? [] : [`the agent is at ${after.installed ?? "nothing"}, not 1.2.0-1`])
    ]
    yield* Console.log(
      problems.length === 0
        ? `-- ok: ${outcome._tag}; agent ${after.installed} ${after.agentRunning ? "running" : "stopped"}`
        : `-- FAILED: ${problems.join("; ")}`
    )
    return problems.length === 0
  }).pipe(
    Effect.provide(
      Layer.mergeAll(
        SimulatedHost.layer({
          ...scenario.host,
          offered: ["1.1.0-1", "1.2.0-1"],
          agentLock: AGENT_LOCK,
          downloadTime: Duration.millis(800),
          transactionTime: Duration.millis(400)
        }),
        Repository.layer.pipe(
          Layer.provide(
            Layer.merge(NodeHttp.layer(), UpdaterConfig.layer({ repository: base }))
          )
        ),
        UpdaterConfig.layer({
          repository: base,
          agentLock: AGENT_LOCK,
          lockPoll: Duration.millis(250),
          healthGrace: Duration.seconds(1),
          pid: SimulatedHost.UPDATER_PID
        }),
        MemoryStateStore.layer(),
        ShutdownInhibitor.none
      )
    )
  )

export class SimulationFailed extends Error {}

export const simulate = Effect.gen(function*() {
  const repository = yield* EmbeddedRepositoryServer.serve({
    "version.txt": "1.2.0\n",
    "debian/agentrepo.key": SIMULATED_KEY,
    "redhat/drivesrvr.repo":
      "[drivesrvr]\nname=Cloud Backup agent\nbaseurl=http://127.0.0.1/redhat/\ngpgcheck=1\ngpgkey=http://127.0.0.1/redhat/RPM-GPG-KEY-drivesrvr\n"
  })
  yield* Console.log(`embedded agent repository: ${repository.base} (version.txt: 1.2.0)`)
  const results = yield* Effect.forEach(scenarios, (scenario, index) => runScenario(repository.base, scenario, index))
  const failed = results.filter((ok) => !ok).length
  yield* Console.log(`\n${results.length - failed} of ${results.length} scenarios kept the contract`)
  if (failed > 0) return yield* Effect.fail(new SimulationFailed(`${failed} simulated scenario(s) failed`))
}).pipe(Effect.scoped)
