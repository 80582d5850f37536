/**
 * `cloudbackup-updater status`: what the updater sees and remembers, and why it
 * would leave an old agent alone. It only reads: no lock is taken, nothing is written.
 */
import * as Clock from "effect/Clock"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { type LeaveAloneCode, reasonsToLeaveAlone } from "../domain/LeaveAlone.js"
import { isUpToDate } from "../domain/Version.js"
import { AgentService } from "../services/AgentService.js"
import { FileLock } from "../services/FileLock.js"
import { PackageManager } from "../services/PackageManager.js"
import { Repository } from "../services/Repository.js"
import { type NotBefore as NotBeforeTime, StateStore, type UpdaterState } from "../services/StateStore.js"
import { UpdaterConfig } from "../services/UpdaterConfig.js"
import * as NotBefore from "./NotBefore.js"
import { isUpdater } from "./Pidfile.js"

/** The `schemaVersion` of `status --json`: raised only by an incompatible change (a field removed, renamed or retyped). */
export const STATUS_SCHEMA_VERSION = 1

/** A value read, or why it could not be. */
export type Reading<A> = { readonly value: A } | { readonly error: string }

/**
 * Why the agent is not being upgraded now, or what the next pass will do first:
 * the leave-alone rule's codes, a planned (staged) upgrade, the repository's
 * not-before time, and an interrupted upgrade that the next pass recovers.
 */
export type ReasonCode = LeaveAloneCode | "planned" | "not-before" | "interrupted-upgrade"

export interface Reason {
  readonly code: ReasonCode
  readonly text: string
}

export interface StatusReport {
  readonly schemaVersion: typeof STATUS_SCHEMA_VERSION
  readonly installed: Reading<string | null>
  readonly published: Reading<string>
  readonly repository: Reading<{ readonly base: string; readonly configuredIn: string | null }>
  readonly agent: {
    readonly running: Reading<boolean>
    readonly serviceEnabled: Reading<boolean>
    readonly busy: Reading<{ readonly pid: number | null } | null>
    readonly held: Reading<boolean>
  }
  readonly daemon: Reading<{ readonly pid: number } | null>
  readonly lastCheck: { readonly at: string; readonly result: string } | null
  readonly plannedUpgrade: { readonly version: string; readonly at: string } | null
  readonly failedVersion: { readonly version: string; readonly at: string; readonly reason: string } | null
  readonly lastError: { readonly at: string; readonly message: string } | null
  /** The repository's `Retry-After`: no request goes to it before `at`. */
  readonly notBefore: { readonly at: string; readonly reason: string } | null
  readonly interruptedUpgrade: { readonly previous: string; readonly target: string; readonly step: string; readonly pid: number } | null
  /** Why an old agent is not being upgraded, in words: the texts of the reasons that concern an old agent. */
  readonly notes: ReadonlyArray<string>
  /** Every reason that applies, with its code: those of `notes`, then not-before, then an interrupted upgrade. */
  readonly reasons: ReadonlyArray<Reason>
}

const read = <A, E extends { readonly message: string }, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(
    Effect.map((value): Reading<A> => ({ value })),
    Effect.catchAll((error) => Effect.succeed<Reading<A>>({ error: error.message }))
  )

// A damaged state file may hold a time no Date can show: it is printed as a number rather than thrown on.
const iso = NotBefore.iso

const valueOf = <A>(reading: Reading<A>): Option.Option<A> => ("value" in reading ? Option.some(reading.value) : Option.none())

/** Why an agent behind `published` is not upgraded now: the leave-alone rule, then a planned upgrade. */
const reasonsBehind = (
  published: string,
  state: UpdaterState,
  agent: { readonly held: Reading<boolean>; readonly serviceEnabled: Reading<boolean>; readonly running: Reading<boolean> }
): ReadonlyArray<Reason> => {
  const leftAlone = reasonsToLeaveAlone({
    published,
    held: Option.getOrElse(valueOf(agent.held), () => false),
    failedVersion: state.failedVersion,
    serviceEnabled: Option.getOrUndefined(valueOf(agent.serviceEnabled)),
    running: Option.getOrUndefined(valueOf(agent.running))
  }).map(({ code, text }): Reason => ({ code, text: `left alone: ${text}` }))
  const planned: ReadonlyArray<Reason> = state.plannedUpgrade === undefined
    ? []
    : [{ code: "planned", text: `the upgrade is planned at ${iso(state.plannedUpgrade.at)} (staged rollout)` }]
  return [...leftAlone, ...planned]
}

const notBeforeReason = ({ at, reason }: NotBeforeTime): Reason => ({
  code: "not-before",
  text: `${NotBefore.askedNotBefore(at)} (${reason})`
})

const interruptedReason = ({ journal: j }: UpdaterState): ReadonlyArray<Reason> =>
  j === undefined ? [] : [{
    code: "interrupted-upgrade",
    text: `the upgrade from ${j.previous} to ${j.target} was interrupted before "${j.step}" (pid ${j.pid}); the next pass recovers it`
  }]

export const gather = (pidfile: string) =>
  Effect.gen(function*() {
    const config = yield* UpdaterConfig
    const packages = yield* PackageManager
    const agent = yield* AgentService
    const locks = yield* FileLock
    const repository = yield* Repository
    const state = yield* (yield* StateStore).get
    const notBefore = NotBefore.inEffect(state, yield* Clock.currentTimeMillis)

    const installed = yield* read(Effect.map(packages.installedVersion, Option.getOrNull))
    // Status, too, leaves the repository alone until its not-before time.
    const published = yield* Option.match(notBefore, {
      onNone: () => read(repository.latestVersion),
      onSome: ({ at }) => Effect.succeed<Reading<string>>({ error: NotBefore.askedNotBefore(at) })
    })
    const configured = yield* read(
      Effect.map(packages.repositoryState, (s) => ({
        base: repository.base,
        configuredIn: s._tag === "Configured" ? s.file : null
      }))
    )
    const running = yield* read(agent.isRunning)
    const serviceEnabled = yield* read(agent.isEnabled)
    const busy = yield* read(
      Effect.map(locks.holder(config.agentLock), (holder) =>
        Option.match(holder, { onNone: () => null, onSome: (h) => ({ pid: h.pid ?? null }) }))
    )
    const held = yield* read(packages.isHeld)
    const daemon = yield* read(
      Effect.map(locks.holder(pidfile), (holder) =>
        Option.match(Option.filter(holder, isUpdater), { onNone: () => null, onSome: (h) => ({ pid: h.pid! }) }))
    )

    const behind = Option.all([Option.flatMap(valueOf(installed), Option.fromNullable), valueOf(published)]).pipe(
      Option.filter(([i, p]) => !isUpToDate(i, p)),
      Option.map(([, p]) => p)
    )
    const noted = Option.match(behind, {
      onNone: () => [],
      onSome: (p) => reasonsBehind(p, state, { held, serviceEnabled, running })
    })

    const report: StatusReport = {
      schemaVersion: STATUS_SCHEMA_VERSION,
      installed,
      published,
      repository: configured,
      agent: { running, serviceEnabled, busy, held },
      daemon,
      lastCheck: state.lastCheck === undefined ? null : { at: iso(state.lastCheck.at), result: state.lastCheck.result },
      plannedUpgrade: state.plannedUpgrade === undefined
        ? null
        : { version: state.plannedUpgrade.version, at: iso(state.plannedUpgrade.at) },
      failedVersion: state.failedVersion === undefined
        ? null
        : { ...state.failedVersion, at: iso(state.failedVersion.at) },
      lastError: state.lastError === undefined ? null : { at: iso(state.lastError.at), message: state.lastError.message },
      notBefore: Option.match(notBefore, { onNone: () => null, onSome: ({ at, reason }) => ({ at: iso(at), reason }) }),
      interruptedUpgrade: state.journal === undefined
        ? null
        : { previous: state.journal.previous, target: state.journal.target, step: state.journal.step, pid: state.journal.pid },
      notes: noted.map(({ text }) => text),
      reasons: [...noted, ...Option.toArray(Option.map(notBefore, notBeforeReason)), ...interruptedReason(state)]
    }
    return report
  })

const show = <A>(reading: Reading<A>, f: (value: A) => string) => ("value" in reading ? f(reading.value) : `unknown (${reading.error})`)

export const formatText = (report: StatusReport): string => {
  const lines: Array<[string, string]> = [
    ["installed agent", show(report.installed, (v) => v ?? "not installed")],
    ["published version", show(report.published, (v) => v)],
    ["repository", show(report.repository, (r) => `${r.base} (${r.configuredIn === null ? "not configured" : `configured in ${r.configuredIn}`})`)],
    ["agent", show(report.agent.running, (r) => (r ? "running" : "stopped"))],
    ["agent service", show(report.agent.serviceEnabled, (e) => (e ? "enabled" : "disabled"))],
    ["backup in progress", show(report.agent.busy, (b) => (b === null ? "no" : `yes (lock held by pid ${b.pid ?? "?"})`))],
    ["package held", show(report.agent.held, (h) => (h ? "yes" : "no"))],
    ["daemon", show(report.daemon, (d) => (d === null ? "not running" : `running (pid ${d.pid})`))],
    ["last check", report.lastCheck === null ? "never" : `${report.lastCheck.at}: ${report.lastCheck.result}`],
    ["planned upgrade", report.plannedUpgrade === null ? "none" : `${report.plannedUpgrade.version} at ${report.plannedUpgrade.at}`],
    ["rolled-back version", report.failedVersion === null ? "none" : `${report.failedVersion.version} at ${report.failedVersion.at}`],
    ["last error", report.lastError === null ? "none" : `${report.lastError.at}: ${report.lastError.message}`],
    ["not before", report.notBefore === null ? "none" : `${report.notBefore.at} (the repository asked to wait: ${report.notBefore.reason})`]
  ]
  if (report.interruptedUpgrade !== null) {
    const u = report.interruptedUpgrade
    lines.push(["interrupted upgrade", `${u.previous} to ${u.target} before "${u.step}" (pid ${u.pid}); the next pass recovers it`])
  }
  const width = Math.max(...lines.map(([label]) => label.length))
  return [
    ...lines.map(([label, value]) => `${`${label}:`.padEnd(width + 2)}${value}`),
    ...report.notes.map((note) => `note: ${note}`)
  ].join("\n")
}

export const status = (options: { readonly pidfile: string; readonly json: boolean }) =>
  Effect.flatMap(gather(options.pidfile), (report) =>
    Console.log(options.json ? JSON.stringify(report) : formatText(report)))
