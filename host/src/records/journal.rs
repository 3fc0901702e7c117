//! An append-only record of what happened (KCO pushes, ...): one JSON object per line,
//! each written whole with one `write` to a file opened for appending, so concurrent
//! writers and crashes never interleave or tear lines.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::Value;

/// Where recorded events go: this journal, or a fleet's shared store.
pub trait Recorder: Send + Sync + std::fmt::Debug {
    /// Records `event` of `tenant`. A failure is logged, never propagated: the
    /// platform's answer does not depend on it. Never blocks on I/O longer than a local
    /// append.
    fn record(&self, tenant: &str, event: &Value);
}

/// The journal file of one host. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Journal {
    file: Arc<Mutex<File>>,
}

impl Journal {
    /// Appends to `path`, creating it and its directory.
    pub fn open(path: &Path) -> std::io::Result<Journal> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Journal {
            file: Arc::new(Mutex::new(file)),
        })
    }
}

impl Recorder for Journal {
    /// Appends `event` as one line, with its tenant.
    fn record(&self, tenant: &str, event: &Value) {
        let mut line = match event {
            Value::Object(fields) => {
                let mut fields = fields.clone();
                fields.insert("tenant".into(), Value::String(tenant.to_string()));
                Value::Object(fields).to_string()
            }
            other => other.to_string(),
        };
        line.push('\n');
        let written = match self.file.lock() {
            Ok(mut file) => file.write_all(line.as_bytes()),
            Err(poisoned) => poisoned.into_inner().write_all(line.as_bytes()),
        };
        if let Err(error) = written {
            tracing::error!(%error, "could not record an event");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_one_line_per_event() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/events.jsonl");
        let journal = Journal::open(&path).unwrap();
        journal.record(
            "shop",
            &serde_json::json!({"event": "push", "order_id": "a"}),
        );
        Journal::open(&path).unwrap().record(
            "shop",
            &serde_json::json!({"event": "push", "order_id": "b"}),
        );
        let text = std::fs::read_to_string(&path).unwrap();
        let ids: Vec<String> = text
            .lines()
            .map(|line| serde_json::from_str::<Value>(line).unwrap()["order_id"].to_string())
            .collect();
        assert_eq!(ids, ["\"a\"", "\"b\""]);
        assert!(
            text.lines()
                .all(|line| line.contains("\"tenant\":\"shop\""))
        );
    }
}
