/**
 * What the booted-systemd files (systemd.test.ts: the .deb, systemd-rpm.test.ts: the .rpm) share:
 * the updater's packages built once per file, one booted root (lib/booted.ts) and repository server
 * per case, disposed after it (the units' journal printed when it failed), and the observations of
 * the timer's passes and of the agent inside.
 *
 * cloudbackup-updater.timer runs cloudbackup-updater.service, a oneshot `cloudbackup-updater
 * --staged $CLOUDBACKUP_UPDATER_OPTS` with the options from /etc/default (deb) or /etc/sysconfig
 * (rpm); its first pass comes OnActiveSec (10 s) after the timer starts.
 */
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, afterEach, beforeAll, expect, inject } from "vitest"
import { Booted } from "./booted.js"
import "./context.js"
import { parseEvents } from "./events.js"
import { describeResult, type ExecResult, execOk } from "./exec.js"
import { IN_ROOT, TMP_PREFIX } from "./paths.js"
import { sleep } from "./procfs.js"
import { Publisher } from "./publish.js"
import { RepoServer } from "./repoServer.js"
import type { RootKind } from "./rootImage.js"
import { buildNodejsShim, buildUpdaterPackages, UPDATER, type UpdaterPackages } from "./updaterPackages.js"

export type { Booted } from "./booted.js"

export const SERVICE = `${UPDATER}.service`
export const TIMER = `${UPDATER}.timer`
export const STATE = "/var/lib/cloudbackup-updater/state.json"
/** The timer's first pass comes OnActiveSec (10 s) after the package starts it; the pass itself takes seconds. */
export const FIRST_PASS_MS = 90_000

/** One case's world: a booted root and a repository server with its publisher. */
export interface World {
  readonly booted: Booted
  readonly server: RepoServer
  readonly publisher: Publisher
}

/** The packages a file installs, built in its beforeAll. */
export interface Built {
  /** This file's scratch directory (removed after it). */
  readonly work: string
  readonly revision1: UpdaterPackages
  readonly revision2: UpdaterPackages
  /** The nodejs stand-in for the node copied into the root. */
  readonly shim: UpdaterPackages
}

/**
 * Registers the file's hooks: beforeAll builds the packages (`built`, filled in then), afterAll
 * removes them, afterEach disposes every world `boot` made (after printing the journal of the
 * updater's and the agent's units when the case failed). `kind`: the root to boot.
 */
export const useBootedUpdater = (kind: Extract<RootKind, "systemd" | "systemd-rpm">) => {
  const built = {} as { -readonly [K in keyof Built]: Built[K] }
  const live: World[] = []

  beforeAll(async () => {
    const image = inject("e2e").images[kind]
    if (image === undefined) throw new Error(`this run built no ${kind} root (see global-setup.ts: which files make it build one)`)
    // Named like the roots' temp dirs: the next run's cleanup removes it should this run crash.
    built.work = await fs.mkdtemp(path.join(os.tmpdir(), `${TMP_PREFIX}${inject("e2e").runId}-${kind}-packages-`))
    const node = (await execOk([path.join(image.baseDir, IN_ROOT.node), "-p", "process.versions.node"])).stdout.trim()
    ;[built.revision1, built.revision2, built.shim] = await Promise.all([
      buildUpdaterPackages(built.work, 1),
      buildUpdaterPackages(built.work, 2),
      buildNodejsShim(built.work, node)
    ])
  })

  afterAll(async () => {
    if (built.work !== undefined) await fs.rm(built.work, { recursive: true, force: true })
  })

  afterEach(async (context) => {
    for (let world = live.pop(); world !== undefined; world = live.pop()) {
      try {
        if (context.task.result?.state === "fail") {
          const journal = await world.booted.journalText(["-u", SERVICE, "-u", TIMER, "-u", "driveclient.service"]).catch(String)
          const events = await world.booted.readFileOr(IN_ROOT.events, "(none)")
          process.stderr.write(`--- journal of ${SERVICE}, ${TIMER}, driveclient.service\n${journal}\n--- agent events\n${events}\n`)
        }
      } finally {
        try {
          await world.server.close()
        } finally {
          await world.booted.dispose()
        }
      }
    }
  })

  /** Boots a root of the kind and starts a repository server for it. */
  const boot = async (): Promise<World> => {
    const { fixtures, images, runId } = inject("e2e")
    const booted = await Booted.boot(images[kind]!, runId)
    const server = await RepoServer.start().catch(async (error: unknown) => {
      await booted.dispose()
      throw error
    })
    const world = { booted, server, publisher: new Publisher(fixtures, server, path.join(built.work, path.basename(booted.tmp))) }
    live.push(world)
    return world
  }

  return { built: built as Built, boot }
}

export const expectOk = (result: ExecResult) => expect(result.code, describeResult(result)).toBe(0)

/** The options an administrator puts in place before installing: this test's repository (and `extra` arguments). */
export const optionsFile = (repository: string, extra = "") =>
  [
    "# e2e: the agent repository served on 127.0.0.1 for this test",
    `CLOUDBACKUP_UPDATER_OPTS="-v -r ${repository} --health-grace 3${extra}"`,
    ""
  ].join("\n")

/** The pid (inside: the namespace's) in the agent's pidfile when that process is alive and no zombie. */
export const agentPid = async (booted: Booted): Promise<number | undefined> => {
  const pid = Number.parseInt((await booted.readFileOr(IN_ROOT.agentPidfile, "")).trim(), 10)
  if (!Number.isInteger(pid) || pid <= 0) return undefined
  const stat = await booted.readFileOr(`/proc/${pid}/stat`, "")
  const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3)
  return state !== "" && state !== "Z" && state !== "X" ? pid : undefined
}

export const events = async (booted: Booted) => parseEvents(await booted.readFileOr(IN_ROOT.events, ""))

/** cloudbackup-updater processes inside (node running /usr/bin/cloudbackup-updater). */
export const updaterProcesses = async (booted: Booted): Promise<string[]> =>
  (await booted.processes())
    .filter((p) => p.cmdline.some((arg) => path.basename(arg) === UPDATER))
    .map((p) => `${p.pid} ${p.cmdline.join(" ")}`)

/** The systemd unit a process (its pid inside) runs in, from its name=systemd or cgroup2 path. */
export const unitOf = async (booted: Booted, pid: number): Promise<string | undefined> => {
  const cgroups = await booted.readFileOr(`/proc/${pid}/cgroup`, "")
  const line = cgroups.split("\n").find((l) => /^\d+:name=systemd:/.test(l)) ?? cgroups.split("\n").find((l) => l.startsWith("0::"))
  return line?.split("/").at(-1)
}

export const waitFor = async (what: string, check: () => Promise<boolean>, timeoutMs: number, booted: Booted) => {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n--- journal\n${await booted.journalText(["-u", SERVICE, "-n", "40"])}`)
    }
    await sleep(200)
  }
}

/** The service's state: ActiveState, Result, ExecMainStatus, and how often it has run (NRestarts does not count oneshots). */
export const serviceState = (booted: Booted) =>
  booted.show(SERVICE, "ActiveState", "Result", "ExecMainStatus", "ExecMainExitTimestampMonotonic", "InvocationID")

/** Waits until the service has finished a pass (the timer's first one) and returns its state. */
export const waitForPass = async (booted: Booted) => {
  await waitFor(
    `a pass of ${SERVICE} to end`,
    async () => {
      const state = await serviceState(booted)
      return state["ExecMainExitTimestampMonotonic"] !== "0" && ["inactive", "failed"].includes(state["ActiveState"] ?? "")
    },
    FIRST_PASS_MS,
    booted
  )
  return serviceState(booted)
}

/** The updater's own lines in the journal (its stderr, as the journal's stream from the unit). */
export const updaterLines = async (booted: Booted, args: ReadonlyArray<string> = []) =>
  (await booted.journal(["-u", SERVICE, ...args])).filter((e) => e.SYSLOG_IDENTIFIER === UPDATER)
