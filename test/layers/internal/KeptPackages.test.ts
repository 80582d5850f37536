import * as fs from "node:fs/promises"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { keep, KEPT_PACKAGES_DIR } from "../../../src/layers/internal/KeptPackages.js"
import { listHostDirectory, onHost, readHostFile, tempRoot, writeHostFile } from "../../support/TempRoot.js"

const CACHED = "/var/cache/apt/archives/driveclient_1.1.0-1_amd64.deb"

describe("KeptPackages.keep", () => {
  it.scoped("copies a cached package among the kept ones, in a directory only root may read", () =>
    Effect.gen(function*() {
      const root = yield* tempRoot
      yield* writeHostFile(root, CACHED, "deb")
      expect(yield* keep(root, CACHED)).toBe(`${KEPT_PACKAGES_DIR}/driveclient_1.1.0-1_amd64.deb`)
      expect(yield* readHostFile(root, `${KEPT_PACKAGES_DIR}/driveclient_1.1.0-1_amd64.deb`)).toBe("deb")
      expect(yield* listHostDirectory(root, KEPT_PACKAGES_DIR)).toEqual(["driveclient_1.1.0-1_amd64.deb"])
      expect((yield* Effect.promise(() => fs.stat(onHost(root, KEPT_PACKAGES_DIR)))).mode & 0o777).toBe(0o700)
    }))

  it.scoped("a package that cannot be copied leaves no partial copy, and names the package", () =>
    Effect.gen(function*() {
      const root = yield* tempRoot
      const error = yield* Effect.flip(keep(root, CACHED))
      expect(error.message).toBe(`cannot keep a copy of ${CACHED}: ENOENT`)
      expect(yield* listHostDirectory(root, KEPT_PACKAGES_DIR)).toEqual([])
    }))
})
