/** Layers for running the update pass on the simulated host, with a repository served from memory. */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as SimulatedHost from "../../src/layers/SimulatedHost.js"
import { Http, HttpError, make, type Response } from "../../src/services/Http.js"
import * as Repository from "../../src/services/Repository.js"
import * as UpdaterConfig from "../../src/services/UpdaterConfig.js"
import * as MemoryStateStore from "../../src/layers/MemoryStateStore.js"
import * as ShutdownInhibitor from "../../src/services/ShutdownInhibitor.js"
import type { UpdaterState } from "../../src/services/StateStore.js"

export const BASE = "http://repo.test"
export const HEALTH_GRACE = Duration.seconds(10)
export const AGENT_LOCK = "/var/cache/driveclient/backup-running.lock"
export const KEY = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQINBGabc\n=abcd\n-----END PGP PUBLIC KEY BLOCK-----\n"
export const REPO_FILE = "[drivesrvr]\nname=agent\nbaseurl=http://repo.test/redhat/\n"

export const repositoryFiles = (version: string): Record<string, Response> => ({
  "version.txt": { status: 200, body: `${version}\n` },
  "debian/agentrepo.key": { status: 200, body: KEY },
  "redhat/drivesrvr.repo": { status: 200, body: REPO_FILE }
})

/** What the memory repository answers for a path: a response, or what the transport does instead (fails, throws). */
export type Served = Response | ((url: string) => Effect.Effect<Response, HttpError>)

/** Serves `files` (read at each request, so a test may change them) and notes each request's path and Clock time. */
export const memoryHttp = (files: Record<string, Served>, requests: Array<{ path: string; at: number }> = []) =>
  Layer.succeed(
    Http,
    make(
      (url) =>
        Effect.flatMap(Effect.clockWith((clock) => clock.currentTimeMillis), (at) => {
          const path = url.slice(BASE.length + 1)
          requests.push({ path, at })
          const response = files[path]
          return response === undefined
            ? Effect.fail(new HttpError({ url, reason: "Network", detail: "connection refused" }))
            : typeof response === "function"
            ? response(url)
            : Effect.succeed(response)
        }),
      { timeout: Duration.seconds(30), maxBytes: 1024 * 1024, retries: 0, firstBackoff: Duration.seconds(1) }
    )
  )

/** A 429 or 503 whose `Retry-After` asks for `retryAfterMillis` (as the live HTTP layer reports it). */
export const tooManyRequests = (retryAfterMillis: number, status = 429): Served => (url) =>
  Effect.fail(new HttpError({ url, reason: "Status", status, detail: `HTTP status ${status}`, retryAfterMillis }))

/** A transport that throws, as one did on a redirect it could not follow: a defect, not an HttpError. */
export const throwing = (message: string): Served => () =>
  Effect.sync(() => {
    throw new TypeError(message)
  })

export const quietLogs = Logger.minimumLogLevel(LogLevel.None)

export const simulatedRun = (
  host: Omit<SimulatedHost.SimulatedHostOptions, "agentLock">,
  files: Record<string, Served> = repositoryFiles("1.2.0"),
  requests?: Array<{ path: string; at: number }>,
  state?: UpdaterState,
  configOverrides: Partial<UpdaterConfig.UpdaterConfigShape> = {}
) => {
  const config = UpdaterConfig.layer({
    repository: BASE,
    agentLock: AGENT_LOCK,
    lockPoll: Duration.seconds(30),
    healthGrace: HEALTH_GRACE,
    pid: SimulatedHost.UPDATER_PID,
    ...configOverrides
  })
  return Layer.mergeAll(
    MemoryStateStore.layer(state),
    ShutdownInhibitor.none,
    SimulatedHost.layer({ ...host, agentLock: AGENT_LOCK }),
    Repository.layer.pipe(Layer.provide(Layer.merge(memoryHttp(files, requests), config))),
    config,
    quietLogs
  )
}
