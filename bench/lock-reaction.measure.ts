/**
 * Lock reaction, at the program level: the agent's backup lock is released (its file unlinked)
 * while `holdAgentLock` waits for it, with the live FileLock layer (NodeFileLock) on a temp dir
 * and a fake AgentService whose `stop` timestamps the request; the time from the unlink to
 * `stop` is one trial. The holder named in the lock is a live child process, so the lock is
 * never stale. Writes p50/p95/p99 to $BENCH_OUT_DIR/lock-reaction.json (run by bench/run.mjs);
 * it asserts nothing about time.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import { expect, it } from "vitest"
import * as NodeFileLock from "../src/layers/NodeFileLock.js"
import { holdAgentLock } from "../src/programs/AgentLock.js"
import { AgentService } from "../src/services/AgentService.js"
import * as UpdaterConfig from "../src/services/UpdaterConfig.js"

const TRIALS = Number(process.env["BENCH_LOCK_TRIALS"] ?? 200)

const quantile = (sorted: ReadonlyArray<number>, q: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!

it("lock reaction: release of the agent's lock → stop requested", { timeout: 600_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-lock-"))
  const lock = path.join(dir, "backup-running.lock")
  const holder = spawn("sleep", ["100000"], { stdio: "ignore" })
  const config = UpdaterConfig.layer({ agentLock: lock })
  const poll = Duration.toMillis(UpdaterConfig.defaults.lockPoll)
  const samples: number[] = []
  try {
    for (let i = 0; i < TRIALS; i++) {
      fs.writeFileSync(lock, `${holder.pid}\n`)
      const ms = await Effect.runPromise(Effect.gen(function*() {
        const stopped = yield* Deferred.make<number>()
        const agent = Layer.succeed(AgentService, AgentService.of({
          kind: "sysv",
          isRunning: Effect.succeed(true),
          startedAt: Effect.succeed(Option.none()),
          isEnabled: Effect.succeed(true),
          stop: Effect.suspend(() => Deferred.succeed(stopped, performance.now())),
          start: Effect.void
        }))
        const fiber = yield* Effect.fork(
          Effect.scoped(Effect.zipRight(holdAgentLock, Effect.flatMap(AgentService, (a) => a.stop))).pipe(
            Effect.provide(Layer.mergeAll(agent, config, NodeFileLock.layer)),
            Logger.withMinimumLogLevel(LogLevel.None)
          )
        )
        // Released at a random moment of the wait, as a backup ends whenever it ends.
        yield* Effect.sleep(Duration.millis(15 + Math.random() * 45))
        const released = performance.now()
        fs.unlinkSync(lock)
        const at = yield* Deferred.await(stopped)
        yield* Fiber.join(fiber)
        return at - released
      }))
      samples.push(ms)
    }
  } finally {
    holder.kill("SIGKILL")
    fs.rmSync(dir, { recursive: true, force: true })
  }
  const sorted = [...samples].sort((a, b) => a - b)
  const result = {
    trials: TRIALS,
    pollMs: poll,
    p50: quantile(sorted, 0.5),
    p95: quantile(sorted, 0.95),
    p99: quantile(sorted, 0.99),
    max: sorted[sorted.length - 1]!,
    node: process.version
  }
  console.info(`lock reaction over ${TRIALS} trials: ${JSON.stringify(result)}`)
  const out = process.env["BENCH_OUT_DIR"]
  if (out !== undefined) fs.writeFileSync(path.join(out, "lock-reaction.json"), JSON.stringify(result))
  expect(samples).toHaveLength(TRIALS)
})
