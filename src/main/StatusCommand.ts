/** `status` on live layers. Loaded by main when it runs. */
import * as Effect from "effect/Effect"
import { status } from "../programs/Status.js"
import type * as Cli from "./Cli.js"
import * as Logging from "./Logging.js"
import { liveHost } from "./UpdateCommand.js"

export const run = (options: Cli.StatusOptions, journal: boolean) =>
  status(options).pipe(Effect.provide(liveHost(options)), Effect.provide(Logging.stderrLayer(false, journal)))
