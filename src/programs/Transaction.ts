/** The package transaction, and the packages kept for a rollback, as the pass's steps share them. */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { PackageManager } from "../services/PackageManager.js"
import type { UnfinishedUpgrade } from "./Recovery.js"

/** A package transaction runs to its end once started: interrupting it could break the package database. */
export const transaction = Effect.gen(function*() {
  const packages = yield* PackageManager
  yield* Effect.uninterruptible(packages.install)
  return yield* packages.installedVersion.pipe(Effect.map(Option.getOrElse(() => "(none)")))
})

export const keepPackages = (versions: ReadonlyArray<string>) =>
  Effect.flatMap(PackageManager, (packages) => packages.keepPackages(versions)).pipe(
    Effect.catchAll((error) => Effect.logWarning(error.message))
  )

/** The version an earlier, unfinished upgrade went from: its package is kept too. */
export const earlierPrevious = (earlier: Option.Option<UnfinishedUpgrade>) => Option.toArray(Option.map(earlier, ({ entry }) => entry.previous))
