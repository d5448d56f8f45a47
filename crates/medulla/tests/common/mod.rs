//! Spawning the `medulla` binary and talking to it.

#![allow(
    dead_code,
    reason = "each test binary uses a different subset of the helpers"
)]

use std::io::BufRead as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub fn medulla() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_medulla"));
    command.env_remove("RUST_LOG").env_remove("MEDULLA_DATA");
    command
}

/// A `medulla serve` process.
pub struct Served {
    pub child: Child,
    pub base: String,
    pub client: reqwest::blocking::Client,
    /// Stderr lines after the listening line.
    pub log: mpsc::Receiver<String>,
}

/// Spawns `command` (a `medulla --log-json serve …`) with stderr piped and waits for its
/// "medulla listening" line, `{"fields": {"local": "127.0.0.1:PORT", …}}`; returns the child,
/// the stderr lines after it, and that line parsed.
pub fn spawn_listening(mut command: Command) -> (Child, mpsc::Receiver<String>, serde_json::Value) {
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("medulla starts");
    let stderr = child.stderr.take().expect("stderr");
    let (lines, log) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { return };
            if lines.send(line).is_err() {
                return;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let listening = loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let line = log
            .recv_timeout(remaining)
            .expect("medulla logs its listening address");
        let parsed: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        if parsed["fields"]["local"].is_string() {
            break parsed;
        }
    };
    (child, log, listening)
}

impl Served {
    /// Starts `medulla serve` on a free loopback port and waits until `/fhir/metadata` answers.
    pub fn start(data: &Path) -> Served {
        let mut command = medulla();
        command
            .args(["--log-json", "serve", "--addr", "127.0.0.1:0", "--data"])
            .arg(data);
        let (child, log, listening) = spawn_listening(command);
        let deadline = Instant::now() + Duration::from_secs(30);
        let local = listening["fields"]["local"]
            .as_str()
            .expect("the listening line has the address")
            .to_owned();
        let base = format!("http://{local}/fhir");
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .expect("client");
        let served = Served {
            child,
            base,
            client,
            log,
        };
        served.wait_ready(deadline);
        served
    }

    fn wait_ready(&self, deadline: Instant) {
        loop {
            let metadata = self.client.get(format!("{}/metadata", self.base)).send();
            if metadata.is_ok_and(|response| response.status().as_u16() == 200) {
                return;
            }
            assert!(Instant::now() < deadline, "server did not become ready");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let response = self
            .client
            .get(format!("{}/{path}", self.base))
            .send()
            .expect("answered");
        let status = response.status().as_u16();
        let body = response.json().unwrap_or(serde_json::Value::Null);
        (status, body)
    }

    /// `total` of `Type?query&_summary=count`.
    pub fn count(&self, query: &str) -> u64 {
        let separator = if query.contains('?') { '&' } else { '?' };
        let (status, body) = self.get(&format!("{query}{separator}_summary=count"));
        assert_eq!(status, 200, "{body}");
        body["total"].as_u64().expect("total")
    }

    /// Kills with SIGKILL, no chance to clean up.
    pub fn kill(mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("reaped");
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
