//! Leave messages in the host's record of a call.
//!
//! Inside the sandbox the messages go to the host, which keeps a bounded amount per call
//! and shows it in `rulegate run` and the decision log. In a native build (unit tests,
//! hosts linking rules directly) they are kept in a per-thread buffer that
//! [`take_captured`] drains. Never log personal data.

pub use crate::bindings::rulegate::checkout::host::LogLevel;

/// Logs at debug level.
pub fn debug(message: &str) {
    log(LogLevel::Debug, message);
}

/// Logs at info level.
pub fn info(message: &str) {
    log(LogLevel::Info, message);
}

/// Logs at warn level.
pub fn warn(message: &str) {
    log(LogLevel::Warn, message);
}

/// Logs at error level.
pub fn error(message: &str) {
    log(LogLevel::Error, message);
}

/// Logs a message at `level`.
#[cfg(target_family = "wasm")]
pub fn log(level: LogLevel, message: &str) {
    crate::bindings::rulegate::checkout::host::log(level, message);
}

#[cfg(not(target_family = "wasm"))]
thread_local! {
    static CAPTURED: std::cell::RefCell<Vec<(LogLevel, String)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Logs a message at `level`.
#[cfg(not(target_family = "wasm"))]
pub fn log(level: LogLevel, message: &str) {
    CAPTURED.with(|captured| captured.borrow_mut().push((level, message.to_string())));
}

/// Drains the messages logged on this thread (native builds only).
#[cfg(not(target_family = "wasm"))]
pub fn take_captured() -> Vec<(LogLevel, String)> {
    CAPTURED.with(|captured| std::mem::take(&mut *captured.borrow_mut()))
}
