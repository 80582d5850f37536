/**
 * What the updater knows of one package manager: where it is used, how to tell
 * that a host has it, and its live layer. A package manager is added by adding
 * its module to the list in `index.ts`.
 */
import type * as Layer from "effect/Layer"
import type { PackageManager, PackageManagerKind } from "../../services/PackageManager.js"
import type { Repository } from "../../services/Repository.js"
import type { Shell } from "../../services/Shell.js"
import type { UpdaterConfig } from "../../services/UpdaterConfig.js"

export interface PackageManagerLayerOptions {
  /** Where host paths are looked up: `/` on a real host. */
  readonly root: string
  /** Where programs are looked for; the updater's own `PATH` by default. */
  readonly searchPath?: string
}

export interface PackageManagerModule {
  /** As `--package-manager` takes it and `PackageManager.kind` reports it. */
  readonly name: PackageManagerKind
  /** The os-release IDs (`ID`, or one in `ID_LIKE`) of the distributions it serves. */
  readonly distributions: ReadonlyArray<string>
  /** The programs of which any one on PATH shows that the host has it. */
  readonly programs: ReadonlyArray<string>
  readonly layer: (
    options: PackageManagerLayerOptions
  ) => Layer.Layer<PackageManager, never, Shell | Repository | UpdaterConfig>
}
