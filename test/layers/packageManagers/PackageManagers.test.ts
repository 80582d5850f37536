import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { packageManagerNamed, packageManagerNames, packageManagers } from "../../../src/layers/packageManagers/index.js"
import { PackageManager } from "../../../src/services/PackageManager.js"
import * as FakeShell from "../../support/FakeShell.js"
import { remoteRepository } from "../../support/RemoteRepository.js"
import { tempRoot } from "../../support/TempRoot.js"

describe("the package managers", () => {
  it("apt, dnf, yum, zypper, in the order detection tries them", () => {
    expect(packageManagerNames).toEqual(["apt", "dnf", "yum", "zypper"])
    expect(packageManagers.map((module) => module.programs)).toEqual([["apt-get"], ["dnf"], ["yum"], ["zypper"]])
  })

  it("the distributions each serves", () => {
    const serving = (id: string) => packageManagers.filter((module) => module.distributions.includes(id)).map((module) => module.name)
    for (const id of ["debian", "ubuntu"]) expect(serving(id)).toEqual(["apt"])
    for (const id of ["rhel", "fedora", "centos", "rocky", "almalinux", "ol", "amzn"]) expect(serving(id)).toEqual(["dnf", "yum"])
    for (const id of ["sles", "suse", "opensuse", "opensuse-leap", "opensuse-tumbleweed"]) expect(serving(id)).toEqual(["zypper"])
    expect(serving("arch")).toEqual([])
  })

  it("looked up by name", () => {
    expect(Option.map(packageManagerNamed("yum"), (module) => module.name)).toEqual(Option.some("yum"))
    expect(Option.map(packageManagerNamed("zypper"), (module) => module.name)).toEqual(Option.some("zypper"))
    expect(packageManagerNamed("pacman")).toEqual(Option.none())
  })

  it.scoped.each(["apt", "dnf", "yum", "zypper"])("the %s module's layer is that package manager", (name) =>
    Effect.gen(function*() {
      const root = yield* tempRoot
      const module = Option.getOrThrow(packageManagerNamed(name))
      const kind = yield* Effect.map(PackageManager, (packages) => packages.kind).pipe(
        Effect.provide(module.layer({ root }).pipe(Layer.provide(Layer.merge(FakeShell.layer(), remoteRepository({})))))
      )
      expect(kind).toBe(name)
    }))
})
