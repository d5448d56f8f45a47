//! `kill -9` while a sender streams HL7 v2 messages over MLLP: after a restart and a resend of
//! every message that was not acknowledged, the store holds each message's resources exactly
//! once, and every acknowledged message survived.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on unexpected None/Err"
)]

mod common;

use common::medulla;
use std::io::{BufRead as _, Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const MESSAGES: usize = 1_000;

struct Server {
    child: Child,
    http: String,
    mllp: String,
}

fn start(data: &Path) -> Server {
    let mut child = medulla()
        .args([
            "--log-json",
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--mllp",
            "127.0.0.1:0",
            "--data",
        ])
        .arg(data)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (lines, log) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { return };
            if lines.send(line).is_err() {
                return;
            }
        }
    });
    let (mut http, mut mllp) = (None, None);
    let deadline = Instant::now() + Duration::from_secs(30);
    while http.is_none() || mllp.is_none() {
        let line = log
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("medulla logs both listening addresses");
        let parsed: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        let Some(local) = parsed["fields"]["local"].as_str() else {
            continue;
        };
        if parsed["fields"]["message"] == "MLLP listening" {
            mllp = Some(local.to_owned());
        } else {
            http = Some(format!("http://{local}/fhir"));
        }
    }
    Server {
        child,
        http: http.unwrap(),
        mllp: mllp.unwrap(),
    }
}

fn message(n: usize) -> Vec<u8> {
    format!(
        "MSH|^~\\&|REG|HOSP|MEDULLA|HOSP|20240102030405||ADT^A01^ADT_A01|CRASH{n:05}|P|2.5.1\r\
EVN|A01|20240102030405\r\
PID|1||MRN{n:05}^^^HOSP^MR||Crash^Test{n}||19800214|F\r\
PV1|1|I|4W^401^1||||||||||||||||VN{n:05}\r"
    )
    .into_bytes()
}

/// Sends one framed message and waits for its ACK; `None` if the connection fails first.
fn send(stream: &mut TcpStream, message: &[u8]) -> Option<Vec<u8>> {
    let mut framed = vec![0x0B];
    framed.extend_from_slice(message);
    framed.extend_from_slice(&[0x1C, 0x0D]);
    stream.write_all(&framed).ok()?;
    let mut ack = Vec::new();
    let mut byte = [0_u8; 1];
    loop {
        if stream.read(&mut byte).ok()? == 0 {
            return None;
        }
        ack.push(byte[0]);
        if ack.ends_with(&[0x1C, 0x0D]) {
            return Some(ack);
        }
    }
}

fn accepted(ack: &[u8]) -> bool {
    ack.windows(7).any(|w| w == b"\rMSA|AA")
}

fn total(server: &Server, query: &str) -> u64 {
    let url = format!("{}/{query}&_summary=count", server.http);
    let bundle: serde_json::Value = reqwest::blocking::get(url).unwrap().json().unwrap();
    bundle["total"].as_u64().unwrap()
}

#[test]
fn every_message_is_applied_exactly_once_across_a_kill_9() {
    let data = tempfile::tempdir().unwrap();
    let mut server = start(data.path());
    let acknowledged: Vec<AtomicUsize> = (0..MESSAGES).map(|_| AtomicUsize::new(0)).collect();
    let count = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for sender in 0..4 {
            let address = server.mllp.clone();
            let (acknowledged, count) = (&acknowledged, &count);
            scope.spawn(move || {
                let mut stream = TcpStream::connect(address).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(30)))
                    .unwrap();
                for n in (sender..MESSAGES).step_by(4) {
                    let Some(ack) = send(&mut stream, &message(n)) else {
                        return;
                    };
                    assert!(accepted(&ack), "{}", String::from_utf8_lossy(&ack));
                    acknowledged[n].store(1, Ordering::SeqCst);
                    count.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
        let deadline = Instant::now() + Duration::from_secs(120);
        while count.load(Ordering::SeqCst) < 300 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        server.child.kill().unwrap();
        server.child.wait().unwrap();
    });
    let before_restart = count.load(Ordering::SeqCst);
    assert!(
        (300..MESSAGES).contains(&before_restart),
        "the kill came after {before_restart} ACKs"
    );

    let mut server = start(data.path());
    let mut stream = TcpStream::connect(&server.mllp).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    // Every acknowledged message survived the kill.
    let survivors = total(&server, "Patient?family=Crash");
    assert!(
        survivors >= before_restart as u64,
        "{survivors} < {before_restart}"
    );
    // Resend what was not acknowledged, and a few that were (duplicates).
    let mut resent = 0;
    for (n, acked) in acknowledged.iter().enumerate() {
        if acked.load(Ordering::SeqCst) == 0 || n % 97 == 0 {
            let ack = send(&mut stream, &message(n)).unwrap();
            assert!(accepted(&ack), "{}", String::from_utf8_lossy(&ack));
            resent += 1;
        }
    }
    assert!(resent >= MESSAGES - before_restart);
    assert_eq!(total(&server, "Patient?family=Crash"), MESSAGES as u64);
    assert_eq!(
        total(&server, "Encounter?status=in-progress"),
        MESSAGES as u64
    );
    assert_eq!(total(&server, "Patient?identifier=MRN00042"), 1);
    drop(stream);
    server.child.kill().unwrap();
    server.child.wait().unwrap();

    // The message log has each message once, applied.
    let output = medulla()
        .args(["hl7", "log", "--limit", "5000", "--data"])
        .arg(data.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), MESSAGES);
    assert!(lines.iter().all(|line| line["status"] == "applied"));
}
