/**
 * Decides which package manager and service manager this host uses, from
 * /etc/os-release and the programs on PATH, and picks the live layers for them.
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { AgentService, ServiceManagerKind } from "../services/AgentService.js"
import { PackageManager, type PackageManagerKind } from "../services/PackageManager.js"
import type { Repository } from "../services/Repository.js"
import type { Shell } from "../services/Shell.js"
import type { UpdaterConfig } from "../services/UpdaterConfig.js"
import { findExecutable, isDirectory, processSearchPath, readTextIfExists, underRoot } from "../layers/internal/HostFiles.js"
import {
  packageManagerNamed,
  packageManagerNames,
  type PackageManagerModule,
  packageManagers
} from "../layers/packageManagers/index.js"
import * as SystemdAgentService from "../layers/SystemdAgentService.js"
import * as SysvAgentService from "../layers/SysvAgentService.js"

export class HostDetectionError extends Data.TaggedError("HostDetectionError")<{
  readonly detail: string
}> {
  override get message(): string {
    return `cannot tell this host's package manager: ${this.detail}; use --package-manager ${packageManagerNames.join("|")}`
  }
}

export interface DetectedHost {
  readonly packageManager: PackageManagerKind
  readonly serviceManager: ServiceManagerKind
}

export interface DetectOptions {
  readonly root: string
  /** Wins without any check (given plainly or as an Option, as the CLI has it). */
  readonly packageManager?: PackageManagerKind | Option.Option<PackageManagerKind>
  /** Wins without any check (given plainly or as an Option, as the CLI has it). */
  readonly serviceManager?: ServiceManagerKind | Option.Option<ServiceManagerKind>
  /** Where programs are looked for; the updater's own `PATH` by default. */
  readonly searchPath?: string
}

const OS_RELEASE_FILES = ["/etc/os-release", "/usr/lib/os-release"] as const

/** The `KEY=value` assignments of an os-release file, with shell-style quoting removed. */
export const parseOsRelease = (text: string): ReadonlyMap<string, string> => {
  const fields = new Map<string, string>()
  for (const line of text.split("\n")) {
    const match = /^\s*([A-Z0-9_]+)=(.*)$/.exec(line)
    if (match === null) continue
    const raw = match[2]!.trim()
    const quoted = /^(["'])(.*)\1$/.exec(raw)
    fields.set(match[1]!, quoted === null ? raw : quoted[2]!.replace(/\\(["'$`\\])/g, "$1"))
  }
  return fields
}

/** ID first, then ID_LIKE in its order: the distribution itself before what it resembles. */
const distributionIds = (osRelease: ReadonlyMap<string, string>): ReadonlyArray<string> =>
  [osRelease.get("ID") ?? "", ...(osRelease.get("ID_LIKE") ?? "").split(/\s+/)]
    .map((id) => id.toLowerCase())
    .filter(Boolean)

const readOsRelease = (root: string) =>
  Effect.gen(function*() {
    for (const file of OS_RELEASE_FILES) {
      const text = yield* readTextIfExists(underRoot(root, file)).pipe(Effect.orElseSucceed(() => Option.none<string>()))
      if (Option.isSome(text)) return Option.some({ file, fields: parseOsRelease(text.value) })
    }
    return Option.none<{ readonly file: string; readonly fields: ReadonlyMap<string, string> }>()
  })

const servesDistribution = (id: string) => (module: PackageManagerModule): boolean => module.distributions.includes(id)

const programsOf = (modules: ReadonlyArray<PackageManagerModule>): ReadonlyArray<string> =>
  modules.flatMap((module) => module.programs)

/** `neither dnf nor yum`, `none of apt-get, dnf, yum`. */
const noneOf = (programs: ReadonlyArray<string>): string =>
  programs.length === 2 ? `neither ${programs[0]} nor ${programs[1]}` : `none of ${programs.join(", ")}`

const detectPackageManager = (root: string, searchPath: string) =>
  Effect.gen(function*() {
    const isPresent = (module: PackageManagerModule) =>
      Effect.exists(module.programs, (program) => Effect.map(findExecutable(root, program, searchPath), Option.isSome))
    const osRelease = yield* readOsRelease(root)
    const ids = Option.match(osRelease, { onNone: () => [], onSome: ({ fields }) => distributionIds(fields) })
    const distribution = ids.find((id) => packageManagers.some(servesDistribution(id)))

    if (distribution !== undefined) {
      const serving = packageManagers.filter(servesDistribution(distribution))
      // The only package manager of its distribution needs no looking for; the programs choose among several.
      if (serving.length === 1) return serving[0]!.name
      const present = yield* Effect.findFirst(serving, isPresent)
      if (Option.isSome(present)) return present.value.name
      return yield* new HostDetectionError({
        detail: `os-release names ${distribution}, but ${noneOf(programsOf(serving))} is on PATH (${searchPath})`
      })
    }
    // No os-release, or a distribution we do not know: go by the programs present.
    const present = yield* Effect.findFirst(packageManagers, isPresent)
    if (Option.isSome(present)) return present.value.name
    const looked = Option.match(osRelease, {
      onNone: () => `no ${OS_RELEASE_FILES.join(" or ")}`,
      onSome: ({ file }) => `${file} names no supported distribution (ID ${ids.join(", ") || "missing"})`
    })
    return yield* new HostDetectionError({
      detail: `${looked}, and ${noneOf(programsOf(packageManagers))} is on PATH (${searchPath})`
    })
  })

const detectServiceManager = (root: string): Effect.Effect<ServiceManagerKind> =>
  // The test systemd itself uses (sd_booted): /run/systemd/system exists only while systemd is PID 1.
  Effect.map(isDirectory(underRoot(root, "/run/systemd/system")), (booted) => (booted ? "systemd" : "sysv"))

const overrideOf = <A extends string>(given: A | Option.Option<A> | undefined): A | undefined =>
  typeof given === "string" ? given : given === undefined ? undefined : Option.getOrUndefined(given)

export const detect = (options: DetectOptions): Effect.Effect<DetectedHost, HostDetectionError> =>
  Effect.gen(function*() {
    const searchPath = options.searchPath ?? processSearchPath()
    const packageManager = overrideOf(options.packageManager) ??
      (yield* detectPackageManager(options.root, searchPath))
    const serviceManager = overrideOf(options.serviceManager) ?? (yield* detectServiceManager(options.root))
    return { packageManager, serviceManager }
  })

/** The live PackageManager and AgentService layers for a detected host. */
export const liveLayers = (
  detected: DetectedHost,
  root: string,
  searchPath?: string
): Layer.Layer<PackageManager | AgentService, never, Shell | Repository | UpdaterConfig> =>
  Layer.merge(
    Option.match(packageManagerNamed(detected.packageManager), {
      // Only a caller that bypasses the CLI's choices can get here.
      onNone: () => Layer.effect(PackageManager, Effect.dieMessage(`no package manager is named ${detected.packageManager}`)),
      onSome: (module) => module.layer(searchPath === undefined ? { root } : { root, searchPath })
    }),
    detected.serviceManager === "systemd"
      ? SystemdAgentService.layer
      : SysvAgentService.layer(searchPath === undefined ? { root } : { root, searchPath })
  )
