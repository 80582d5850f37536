/** `simulate`: the four-host demonstration, or with `--hosts` the fleet's rollout. Loaded by main when it runs. */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import { UsageError } from "../programs/ExitCode.js"
import type * as Cli from "./Cli.js"
import { simulateFleet } from "./FleetSimulate.js"
import * as Logging from "./Logging.js"
import { simulate } from "./Simulate.js"

/** The fleet's options need `--hosts`. */
export const run = (options: Cli.SimulateOptions) =>
  Option.match(options.hosts, {
    onNone: () =>
      Option.isSome(options.hours) || Option.isSome(options.seed) || Option.isSome(options.failVersion) || options.json
        ? Effect.fail(new UsageError({ detail: "simulate: --hours, --seed, --fail-version and --json go with --hosts" }))
        : simulate.pipe(Effect.provide(Logging.stdoutElapsedLayer(options.verbose))),
    onSome: (hosts) =>
      Effect.flatMap(
        Option.match(options.seed, {
          onNone: () => Effect.map(Random.nextIntBetween(0, 1_000_000_000), String),
          onSome: Effect.succeed
        }),
        (seed) =>
          simulateFleet({
            hosts,
            hours: Option.getOrElse(options.hours, () => 48),
            seed,
            failVersion: Option.getOrUndefined(options.failVersion),
            json: options.json
          })
      )
  })
