/** Every package manager the updater drives, in the order detection tries them. */
import * as Option from "effect/Option"
import type { PackageManagerKind } from "../../services/PackageManager.js"
import { apt } from "./apt/AptModule.js"
import type { PackageManagerModule } from "./PackageManagerModule.js"
import { dnf, yum } from "./rpm/RpmModules.js"
import { zypper } from "./zypper/ZypperModule.js"

export type { PackageManagerLayerOptions, PackageManagerModule } from "./PackageManagerModule.js"

export const packageManagers: ReadonlyArray<PackageManagerModule> = [apt, dnf, yum, zypper]

/** The names `--package-manager` takes. */
export const packageManagerNames: ReadonlyArray<PackageManagerKind> = packageManagers.map((module) => module.name)

export const packageManagerNamed = (name: PackageManagerKind): Option.Option<PackageManagerModule> =>
  Option.fromNullable(packageManagers.find((module) => module.name === name))
