/** Everything an update pass needs on a real host: detected package and service managers over Node. */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { ServiceManagerKind } from "../services/AgentService.js"
import type { PackageManagerKind } from "../services/PackageManager.js"
import * as Repository from "../services/Repository.js"
import * as UpdaterConfig from "../services/UpdaterConfig.js"
import * as HostDetection from "./HostDetection.js"
import * as NetworkSettings from "./NetworkSettings.js"
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
  // The proxy variables and the package manager's proxy are read here, once, and handed down.
  const http = Layer.unwrapEffect(
    Effect.sync(() => NodeHttp.layer(undefined, NetworkSettings.networkOptions(process.env, "/")))
  )
  const repository = Repository.layer.pipe(Layer.provide(http))
  return Layer.mergeAll(
    host.pipe(Layer.provide(repository)),
    NodeFileLock.layer,
    NodeStateStore.layer(),
    repository,
    config
  ).pipe(Layer.provide(config), Layer.provide(NodeShell.layer()))
}
