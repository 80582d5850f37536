/**
 * The host's package manager as the update pass needs it: the agent
 * repository's configuration, the agent's installed version, and transactions.
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { RepositoryError } from "./Repository.js"
import type { SecuredPackage } from "./StateStore.js"

/** The package manager's name, as `--package-manager` takes it: `apt`, `dnf`, `yum`, `zypper`. */
export type PackageManagerKind = string

export class PackageManagerError extends Data.TaggedError("PackageManagerError")<{
  readonly operation: string
  readonly detail: string
}> {
  override get message(): string {
    return `${this.operation} failed: ${this.detail}`
  }
}

/** One shape, the journal's: the package secured for a rollback, and where it came from. */
export type { SecuredPackage } from "./StateStore.js"

export interface InstalledAgent {
  /** The full package version (`1.1.0-1`); the newest when two are installed. */
  readonly version: string
  /** Left half-way by a transaction: dpkg's half-installed or half-configured, or two rpm versions. */
  readonly unfinished: boolean
}

export type RepositoryState =
  | { readonly _tag: "Configured"; readonly file: string }
  | { readonly _tag: "Missing" }

/** Configured in the file found, or missing when none was. */
export const repositoryStateOf: (file: Option.Option<string>) => RepositoryState = Option.match({
  onNone: (): RepositoryState => ({ _tag: "Missing" }),
  onSome: (file): RepositoryState => ({ _tag: "Configured", file })
})

export interface PackageManagerShape {
  readonly kind: PackageManagerKind
  /** Where the configured agent repository is set up on this host, if it is (any sources file, any format). */
  readonly repositoryState: Effect.Effect<RepositoryState, PackageManagerError>
  /** Sets up the configured agent repository, with what it needs fetched from it and checked. */
  readonly configureRepository: Effect.Effect<void, PackageManagerError | RepositoryError>
  /** The installed agent's full package version (`1.1.0-1`); none when not installed. */
  readonly installedVersion: Effect.Effect<Option.Option<string>, PackageManagerError>
  /** Fresh metadata for the agent repository (only for it, where the tool allows). */
  readonly refresh: Effect.Effect<void, PackageManagerError>
  /** The newest agent version the configured repositories offer (after `refresh`); none when none does. */
  readonly candidateVersion: Effect.Effect<Option.Option<string>, PackageManagerError>
  /** Downloads the newest agent package into the cache without installing it. */
  readonly download: Effect.Effect<void, PackageManagerError>
  /** Installs the newest agent, or upgrades to it. */
  readonly install: Effect.Effect<void, PackageManagerError>
  /** Installs exactly this package version, downgrading if need be: the rollback after a failed upgrade. */
  readonly installVersion: (version: string) => Effect.Effect<void, PackageManagerError>
  /**
   * A package of `version` (the installed one) on disk, for a rollback: the updater's kept
   * copy, else downloaded from the repository, else the package manager's cache, else (deb)
   * rebuilt from the installed files. None when none can be had.
   */
  readonly securePackage: (version: string) => Effect.Effect<Option.Option<SecuredPackage>, PackageManagerError>
  /**
   * Copies the downloaded packages of `versions` from the package manager's cache among the
   * updater's kept packages, and drops the kept packages of any other version.
   */
  readonly keepPackages: (versions: ReadonlyArray<string>) => Effect.Effect<void, PackageManagerError>
  /**
   * Installs the secured package of `version`, downgrading, and checks that the package
   * database then holds exactly that version, finished: the rollback.
   */
  readonly restore: (secured: SecuredPackage, version: string) => Effect.Effect<void, PackageManagerError>
  /** The installed agent's version, and whether a transaction left it unfinished; none when not installed. */
  readonly installedState: Effect.Effect<Option.Option<InstalledAgent>, PackageManagerError>
  /** Whether the administrator holds the agent at its version (`apt-mark hold`, dnf/yum versionlock). */
  readonly isHeld: Effect.Effect<boolean, PackageManagerError>
  /**
   * Finishes or repairs a transaction that was interrupted (`dpkg --configure -a`,
   * duplicate rpm packages); says what it did, none when nothing needed it.
   */
  readonly repair: Effect.Effect<Option.Option<string>, PackageManagerError>
}

export class PackageManager extends Context.Tag("cloudbackup-updater/PackageManager")<
  PackageManager,
  PackageManagerShape
>() {}
