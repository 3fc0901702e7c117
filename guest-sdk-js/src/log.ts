/**
 * Log lines a module leaves in the host's record of the call. In the component, the
 * build's entry hands the contract's `host.log` to {@link useHost}; anywhere else (unit
 * tests in Node) lines are kept in memory for {@link takeCaptured}.
 */

/** How important a log line is. */
export type LogLevel = "debug" | "info" | "warn" | "error";

type Sink = (level: LogLevel, message: string) => void;

const captured: Array<[LogLevel, string]> = [];
let sink: Sink = (level, message) => {
  captured.push([level, message]);
};

/** Sends every later line to the host's `log` (the build's entry calls this). */
export function useHost(log: Sink): void {
  sink = log;
}

/** Leaves a line; the host keeps a bounded number per call. Never log personal data. */
export function log(level: LogLevel, message: string): void {
  sink(level, message);
}

export const debug = (message: string): void => log("debug", message);
export const info = (message: string): void => log("info", message);
export const warn = (message: string): void => log("warn", message);
export const error = (message: string): void => log("error", message);

/** The lines logged outside a component since the last call, oldest first. */
export function takeCaptured(): Array<[LogLevel, string]> {
  return captured.splice(0, captured.length);
}
