/**
 * The daemon's log file: one line per event with ISO time and level, rotated by
 * size (`file` → `file.1` → … → `file.<keep-1>`). Writes are synchronous, so a
 * line is on disk before the next step runs.
 */
import * as fs from "node:fs"
import * as Logger from "effect/Logger"
import { stampedLineOf } from "../../domain/LogLine.js"

export interface RotationOptions {
  readonly maxBytes: number
  /** How many files, the current one included. */
  readonly files: number
}

export const defaultRotation: RotationOptions = { maxBytes: 1024 * 1024, files: 5 }

/** Opens (creating it if missing) the log file; throws the system error when it cannot. */
export const open = (file: string, rotation: RotationOptions = defaultRotation) => {
  let fd = fs.openSync(file, "a", 0o640)
  let size = fs.fstatSync(fd).size

  const rotate = () => {
    fs.closeSync(fd)
    for (let n = rotation.files - 1; n >= 1; n--) {
      const from = n === 1 ? file : `${file}.${n - 1}`
      try {
        fs.renameSync(from, `${file}.${n}`)
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error
      }
    }
    fd = fs.openSync(file, "a", 0o640)
    size = 0
  }

  const write = (line: string) => {
    const bytes = Buffer.byteLength(line)
    try {
      if (size > 0 && size + bytes > rotation.maxBytes) rotate()
      fs.writeSync(fd, line)
      size += bytes
    } catch (error) {
      process.stderr.write(`cloudbackup-updater: cannot write ${file}: ${(error as Error).message}\n${line}`)
    }
  }

  const logger = Logger.make<unknown, void>((options) => {
    write(`${stampedLineOf(options)}\n`)
  })
  return { logger, close: () => fs.closeSync(fd) }
}
