/** What the global setup hands to every test file (via vitest's provide/inject). */
import type { Fixtures } from "./fixtures.js"
import type { RootImage, RootKind } from "./rootImage.js"

export interface E2eContext {
  /** The vitest main process's pid: tags this run's temp dirs. */
  readonly runId: number
  readonly fixtures: Fixtures
  /** The images this run built: apt and rpm always, zypper and systemd when a test file needs them. */
  readonly images: Readonly<Partial<Record<RootKind, RootImage>>>
}

declare module "vitest" {
  export interface ProvidedContext {
    e2e: E2eContext
  }
}
