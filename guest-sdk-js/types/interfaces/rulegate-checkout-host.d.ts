declare module 'rulegate:checkout/host@0.2.0' {
  /**
   * Leaves a message in the host's record of this call (shown by `rulegate run` and
   * kept with the decision). The host keeps a bounded number of bytes per call and
   * drops the rest; never log personal data.
   */
  export function log(level: LogLevel, message: string): void;
  /**
   * How important a log message is.
   * # Variants
   * 
   * ## `"debug"`
   * 
   * ## `"info"`
   * 
   * ## `"warn"`
   * 
   * ## `"error"`
   */
  export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
}
