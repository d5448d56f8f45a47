//! The interface end to end over real MLLP sockets into a real store: ACK codes, the message
//! log, duplicates, and broken input on the wire.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use medulla_engine::{Engine, Handling};
use medulla_hl7v2::ParseOptions;
use medulla_interface::log::{self, Status};
use medulla_interface::mllp::{self, Client, MllpOptions};
use medulla_interface::{Interface, InterfaceOptions};
use medulla_store::SqliteStore;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Running {
    _dir: tempfile::TempDir,
    store: Arc<SqliteStore>,
    engine: Engine,
    address: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Running {
    async fn start(options: MllpOptions) -> Running {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(dir.path(), Default::default()).unwrap());
        let engine = Engine::new(store.clone(), Default::default());
        let interface = Interface::new(engine.clone(), InterfaceOptions::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(mllp::serve(listener, interface, options, async move {
            let _ = stopped.await;
        }));
        Running {
            _dir: dir,
            store,
            engine,
            address,
            stop: Some(stop),
            task: Some(task),
        }
    }

    async fn client(&self) -> Client {
        Client::connect(&self.address, Duration::from_secs(10))
            .await
            .unwrap()
    }

    fn count(&self, resource_type: &str, query: &[(&str, &str)]) -> u64 {
        let mut params: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        params.push(("_summary".into(), "count".into()));
        let bundle = self
            .engine
            .search_bundle(
                &[resource_type.to_owned()],
                resource_type,
                &params,
                Handling::Strict,
            )
            .unwrap();
        let bundle: Value = serde_json::from_slice(&bundle).unwrap();
        bundle["total"].as_u64().unwrap()
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
        self.store.close();
    }
}

fn adt(control_id: &str, mrn: &str, family: &str) -> Vec<u8> {
    format!(
        "MSH|^~\\&|REG|GOOD HEALTH|MEDULLA|GOOD HEALTH|20240102030405||ADT^A01^ADT_A01|{control_id}|P|2.5.1\r\
EVN|A01|20240102030405\r\
PID|1||{mrn}^^^GOOD HEALTH^MR||{family}^Mary||19800214|F\r\
PV1|1|I|4W^401^1||||||||||||||||V{control_id}|||||||||||||||||||||||||20240102030000\r"
    )
    .into_bytes()
}

fn msa(ack: &[u8]) -> (String, String) {
    let ack = medulla_hl7v2::parse(ack, &ParseOptions::default()).unwrap();
    (
        ack.get("MSA-1").unwrap().into_owned(),
        ack.get("MSA-2").map(|v| v.into_owned()).unwrap_or_default(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_messages_are_stored_logged_and_deduplicated() {
    let running = Running::start(MllpOptions::default()).await;
    let mut client = running.client().await;
    let ack = client.send(&adt("M1", "1001", "Doe")).await.unwrap();
    assert_eq!(msa(&ack), ("AA".into(), "M1".into()));
    let parsed = medulla_hl7v2::parse(&ack, &ParseOptions::default()).unwrap();
    assert_eq!(parsed.get("MSH-3").as_deref(), Some("MEDULLA"));
    assert_eq!(parsed.get("MSH-5").as_deref(), Some("REG"));
    assert_eq!(running.count("Patient", &[("family", "Doe")]), 1);
    assert_eq!(running.count("Encounter", &[]), 1);

    // The same control id from the same sender again: acknowledged, not applied twice.
    let ack = client.send(&adt("M1", "1001", "Changed")).await.unwrap();
    assert_eq!(msa(&ack).0, "AA");
    assert_eq!(running.count("Patient", &[("family", "Changed")]), 0);

    // A new message for the same patient updates, not duplicates.
    let ack = client.send(&adt("M2", "1001", "Smith")).await.unwrap();
    assert_eq!(msa(&ack).0, "AA");
    assert_eq!(running.count("Patient", &[]), 1);
    assert_eq!(running.count("Patient", &[("family", "Smith")]), 1);

    let logged = log::list(running.store.as_ref(), 0, 100, None).unwrap();
    assert_eq!(logged.len(), 2, "{logged:?}");
    assert_eq!(logged[0].entry.control_id, "M1");
    assert_eq!(logged[0].entry.status, Status::Applied);
    assert_eq!(logged[0].entry.repeats, 1);
    assert!(
        logged[0]
            .entry
            .resources
            .iter()
            .any(|r| r.starts_with("Patient/")),
        "{:?}",
        logged[0].entry.resources
    );
    assert_eq!(
        logged[0].record.data.as_deref(),
        Some(&adt("M1", "1001", "Doe")[..])
    );
    drop(client);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_and_unmappable_messages_are_rejected_or_dead_lettered() {
    let running = Running::start(MllpOptions::default()).await;
    let mut client = running.client().await;
    // No MSH: AR.
    let ack = client.send(b"PID|1||1\r").await.unwrap();
    assert_eq!(msa(&ack).0, "AR");
    // Wrong separators (MSH-2 unusable): AR.
    let ack = client
        .send(b"MSH|^^|A|B|C|D|1||ADT^A01|X|P|2.5\r")
        .await
        .unwrap();
    assert_eq!(msa(&ack).0, "AR");
    // A type this interface does not take: AR naming it.
    let ack = client
        .send(b"MSH|^~\\&|A|B|C|D|1||MFN^M02|MF1|P|2.5\rMFI|PRA\r")
        .await
        .unwrap();
    assert_eq!(msa(&ack), ("AR".into(), "MF1".into()));
    // Readable but without a patient identifier: AE, kept as a dead letter.
    let ack = client
        .send(b"MSH|^~\\&|A|B|C|D|1||ADT^A01|NOID|P|2.5\rEVN|A01\rPID|1||||Doe^J\rPV1|1|I\r")
        .await
        .unwrap();
    assert_eq!(msa(&ack), ("AE".into(), "NOID".into()));
    let parsed = medulla_hl7v2::parse(&ack, &ParseOptions::default()).unwrap();
    assert_eq!(parsed.get("ERR-3-1").as_deref(), Some("101"));
    assert_eq!(running.count("Patient", &[]), 0);

    let failed = log::list(running.store.as_ref(), 0, 100, Some(Status::Failed)).unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].entry.control_id, "NOID");
    let rejected = log::list(running.store.as_ref(), 0, 100, Some(Status::Rejected)).unwrap();
    assert_eq!(rejected.len(), 3);
    // Replaying the dead letter unchanged fails again and stays a dead letter.
    let interface = Interface::new(running.engine.clone(), InterfaceOptions::default());
    let replayed = interface.replay(failed[0].record.seq).await.unwrap();
    assert_eq!(replayed.status, Status::Failed);
    let again = log::list(running.store.as_ref(), 0, 100, Some(Status::Failed)).unwrap();
    assert_eq!(again[0].entry.repeats, 1);
    // Applied messages are not replayed.
    let ack = client.send(&adt("OK1", "2002", "Roe")).await.unwrap();
    assert_eq!(msa(&ack).0, "AA");
    let applied = log::list(running.store.as_ref(), 0, 100, Some(Status::Applied)).unwrap();
    assert!(interface.replay(applied[0].record.seq).await.is_err());
    drop(client);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_framing_never_stops_the_listener() {
    let running = Running::start(MllpOptions {
        max_message_bytes: 4096,
        ..MllpOptions::default()
    })
    .await;
    // Garbage between frames is skipped; the framed message is handled.
    let mut raw = tokio::net::TcpStream::connect(&running.address)
        .await
        .unwrap();
    let mut bytes = b"garbage before".to_vec();
    bytes.extend(mllp::frame(&adt("G1", "3003", "Garbage")));
    raw.write_all(&bytes).await.unwrap();
    let mut buffer = vec![0; 4096];
    let n = raw.read(&mut buffer).await.unwrap();
    let ack = &buffer[1..n - 2];
    assert_eq!(msa(ack).0, "AA");

    // A truncated frame, then the client goes away: nothing is applied, nothing is ACKed.
    let mut truncated = tokio::net::TcpStream::connect(&running.address)
        .await
        .unwrap();
    let frame = mllp::frame(&adt("T1", "4004", "Truncated"));
    truncated
        .write_all(&frame[..frame.len() / 2])
        .await
        .unwrap();
    drop(truncated);

    // An oversize message: AR, then the connection closes.
    let mut oversize = tokio::net::TcpStream::connect(&running.address)
        .await
        .unwrap();
    let mut big = adt("BIG", "5005", "Big");
    big.extend(std::iter::repeat_n(b'x', 10_000));
    oversize.write_all(&mllp::frame(&big)).await.unwrap();
    let mut reply = Vec::new();
    oversize.read_to_end(&mut reply).await.unwrap();
    assert_eq!(msa(&reply[1..reply.len() - 2]), ("AR".into(), "BIG".into()));

    // A client that disconnects right after sending: the message is still applied exactly
    // once (the ACK just has nowhere to go), and a resend is a duplicate.
    let mut hasty = tokio::net::TcpStream::connect(&running.address)
        .await
        .unwrap();
    hasty
        .write_all(&mllp::frame(&adt("H1", "6006", "Hasty")))
        .await
        .unwrap();
    hasty.shutdown().await.unwrap();
    drop(hasty);
    let mut client = running.client().await;
    for _ in 0..50 {
        if running.count("Patient", &[("family", "Hasty")]) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ack = client.send(&adt("H1", "6006", "Hasty")).await.unwrap();
    assert_eq!(msa(&ack).0, "AA");
    assert_eq!(running.count("Patient", &[("family", "Hasty")]), 1);
    assert_eq!(running.count("Patient", &[("family", "Truncated")]), 0);
    assert_eq!(running.count("Patient", &[("family", "Big")]), 0);

    // The listener still serves new connections.
    let ack = client.send(&adt("After", "7007", "After")).await.unwrap();
    assert_eq!(msa(&ack).0, "AA");
    drop((client, raw));
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_connections_at_once() {
    let running = Running::start(MllpOptions::default()).await;
    let mut tasks = Vec::new();
    for connection in 0..8 {
        let mut client = running.client().await;
        tasks.push(tokio::spawn(async move {
            for n in 0..25 {
                let id = format!("C{connection}N{n}");
                let ack = client
                    .send(&adt(&id, &format!("{connection}{n:03}"), "Many"))
                    .await
                    .unwrap();
                assert_eq!(msa(&ack), ("AA".into(), id));
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(running.count("Patient", &[("family", "Many")]), 200);
    running.stop().await;
}
