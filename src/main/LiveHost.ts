/** Everything an update pass needs on a real host: detected package and service managers over Node. */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { ServiceManagerKind } from "../services/AgentService.js"
import type { PackageManagerKind } from "../services/PackageManager.js"
import * as Repository from "../services/Repository.js"
import * as UpdaterConfig from "../services/UpdaterConfig.js"
import * as HostDetection from "./HostDetection.js"
import * as NodeFileLock from "../layers/NodeFileLock.js"
import * as NodeHttp from "../layers/NodeHttp.js"
import * as NodeShell from "../layers/NodeShell.js"
import * as NodeStateStore from "../layers/NodeStateStore.js"
import * as SystemdShutdownInhibitor from "../layers/SystemdShutdownInhibitor.js"

export interface LiveHostOptions {
  readonly config: Partial<UpdaterConfig.UpdaterConfigShape>
  readonly packageManager: Option.Option<PackageManagerKind>
  readonly serviceManager: Option.Option<ServiceManagerKind>
}

export const layer = (options: LiveHostOptions) => {
  const config = UpdaterConfig.layer(options.config)
  const host = Layer.unwrapEffect(
    Effect.map(
      HostDetection.detect({
        root: "/",
        ...Option.match(options.packageManager, { onNone: () => ({}), onSome: (packageManager) => ({ packageManager }) }),
        ...Option.match(options.serviceManager, { onNone: () => ({}), onSome: (serviceManager) => ({ serviceManager }) })
      }),
      (detected) =>
        Layer.merge(
          HostDetection.liveLayers(detected, "/"),
          // Not in liveLayers: it spawns systemd-inhibit itself, not through the Shell a test can fake.
          SystemdShutdownInhibitor.layerFor(detected.serviceManager)
        )
    )
  )
  const repository = Repository.layer.pipe(Layer.provide(NodeHttp.layer()))
  return Layer.mergeAll(
    host.pipe(Layer.provide(repository)),
    NodeFileLock.layer,
    NodeStateStore.layer(),
    repository,
    config
  ).pipe(Layer.provide(config), Layer.provide(NodeShell.layer()))
}
