import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import { awaitNoTransaction, transactionHolder } from "../../../../src/layers/packageManagers/rpm/RpmTransactionLocks.js"

const rootWithLock = (file: string, content: string) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "rpm-locks-"))
  fs.mkdirSync(path.join(root, path.dirname(file)), { recursive: true })
  fs.writeFileSync(path.join(root, file), content)
  return root
}

const deadPid = () => Number(spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]).stdout.toString())

describe("dnf and yum transaction locks", () => {
  it.effect("a lock naming a live pid is a transaction under way; a dead pid's or a missing one is not", () =>
    Effect.gen(function*() {
      expect(yield* transactionHolder(rootWithLock("/var/lib/dnf/rpmdb_lock.pid", `${process.pid}\n`))).toEqual(
        Option.some(process.pid)
      )
      expect(yield* transactionHolder(rootWithLock("/run/yum.pid", `${deadPid()}\n`))).toEqual(Option.none())
      expect(yield* transactionHolder(fs.mkdtempSync(path.join(os.tmpdir(), "rpm-locks-")))).toEqual(Option.none())
    }))

  it.effect("waits while dnf holds its rpmdb lock, and returns once it is gone", () =>
    Effect.gen(function*() {
      const lock = "/var/lib/dnf/rpmdb_lock.pid"
      const root = rootWithLock(lock, `${process.pid}\n`)
      const fiber = yield* Effect.fork(awaitNoTransaction(root))
      yield* TestClock.adjust(Duration.seconds(30))
      expect(fiber.unsafePoll()).toBeNull()
      fs.rmSync(path.join(root, lock))
      // Each look reads the file for real: give that I/O a moment between the clock's steps.
      for (let i = 0; i < 100 && fiber.unsafePoll() === null; i++) {
        yield* TestClock.adjust(Duration.seconds(1))
        yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 5)))
      }
      yield* Fiber.join(fiber)
    }))
})
