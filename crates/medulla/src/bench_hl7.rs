//! `medulla bench hl7`: HL7 v2 parse throughput on a generated mixed corpus (ADT, ORU, ORM,
//! VXU, SIU), against peer parsers in the same run (`--peers`: Python `hl7` and `hl7apy`,
//! Medplum's JavaScript parser), and end-to-end MLLP throughput into a durable store.

use anyhow::{Context as _, bail};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Options of `medulla bench hl7`.
#[derive(Debug, clap::Args)]
pub struct Hl7BenchArgs {
    /// Messages in the generated corpus.
    #[arg(long, default_value_t = 20_000)]
    pub messages: usize,
    /// Also run the peer parsers (needs python3 with pip, node and npm; installs them into
    /// the peers' folder on first use).
    #[arg(long)]
    pub peers: bool,
    /// The peers' folder (package.json, run.js, run.py, requirements.txt).
    #[arg(long, default_value = "bench/hl7-peers")]
    pub peer_dir: PathBuf,
    /// MLLP connections for the end-to-end run.
    #[arg(long, default_value_t = 8)]
    pub connections: usize,
    /// Messages sent in the end-to-end run (half ADT^A01, half ORU^R01).
    #[arg(long, default_value_t = 20_000)]
    pub mllp_messages: usize,
}

pub fn run(args: Hl7BenchArgs) -> anyhow::Result<()> {
    let work = tempfile::tempdir().context("creating a work directory")?;
    let corpus = corpus(args.messages);
    let corpus_file = work.path().join("corpus.txt");
    {
        let mut file = std::io::BufWriter::new(std::fs::File::create(&corpus_file)?);
        for message in &corpus {
            file.write_all(message)?;
            file.write_all(b"\n")?;
        }
        file.flush()?;
    }
    let bytes: usize = corpus.iter().map(Vec::len).sum();
    println!(
        "bench hl7: {} messages ({:.1} MB; ADT^A01, ORU^R01 with 3-12 OBX, ORM^O01, VXU^V04, SIU^S12), one thread",
        corpus.len(),
        bytes as f64 / 1e6
    );
    let ours = parse_ours(&corpus);
    let mean_bytes = bytes as f64 / corpus.len().max(1) as f64;
    println!(
        "  medulla-hl7v2            {:>10.0} messages/s  {:>7.1} MB/s  ({} values read per pass)",
        ours.rate(),
        ours.rate() * mean_bytes / 1e6,
        ours.values / (ours.messages / corpus.len().max(1) as u64).max(1)
    );
    if args.peers {
        let mut fastest: f64 = 0.0;
        for peer in ["hl7", "hl7apy", "medplum"] {
            match run_peer(&args.peer_dir, peer, &corpus_file, corpus.len()) {
                Ok(run) => {
                    println!(
                        "  {:<24} {:>10.0} messages/s  ({} {}; {} values read per pass)  medulla = {:.1}x",
                        run.parser,
                        run.rate(),
                        run.parser,
                        run.version,
                        run.values / (run.messages / corpus.len().max(1) as u64).max(1),
                        ours.rate() / run.rate().max(f64::MIN_POSITIVE)
                    );
                    fastest = fastest.max(run.rate());
                }
                Err(error) => println!("  {peer}: not run: {error:#}"),
            }
        }
        if fastest > 0.0 {
            println!("  medulla / fastest peer: {:.1}x", ours.rate() / fastest);
        }
    }
    end_to_end(&args)
}

struct ParseRun {
    parser: String,
    version: String,
    messages: u64,
    values: u64,
    seconds: f64,
}

impl ParseRun {
    fn rate(&self) -> f64 {
        self.messages as f64 / self.seconds.max(1e-9)
    }
}

/// Parses every message and reads PID-5 and every OBX-5, for at least a second.
fn parse_ours(corpus: &[Vec<u8>]) -> ParseRun {
    let options = medulla_hl7v2::ParseOptions::default();
    let pass = || {
        let mut values = 0_u64;
        for bytes in corpus {
            let Ok(message) = medulla_hl7v2::parse(bytes, &options) else {
                continue;
            };
            for segment in message.segments() {
                let name = segment.name();
                if name == "PID" || name == "OBX" {
                    let read = segment
                        .value_at(5, 1, 1, 1)
                        .text()
                        .is_some_and(|text| !text.is_empty());
                    values += u64::from(read);
                }
            }
        }
        values
    };
    pass();
    let started = Instant::now();
    let (mut messages, mut values) = (0_u64, 0_u64);
    while started.elapsed() < Duration::from_secs(1) || messages == 0 {
        values += pass();
        messages += corpus.len() as u64;
    }
    ParseRun {
        parser: "medulla-hl7v2".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        messages,
        values,
        seconds: started.elapsed().as_secs_f64(),
    }
}

fn run_peer(dir: &Path, peer: &str, corpus: &Path, messages: usize) -> anyhow::Result<ParseRun> {
    let rounds = 1.max(2000 / messages.max(1));
    let output = if peer == "medplum" {
        crate::bench::install_node_peer(dir)?;
        std::process::Command::new("node")
            .arg(dir.join("run.js"))
            .arg(corpus)
            .arg(rounds.to_string())
            .output()
            .context("running node")?
    } else {
        let venv = dir.join(".venv");
        let python = venv.join("bin/python");
        if !python.is_file() {
            let status = std::process::Command::new("python3")
                .args(["-m", "venv"])
                .arg(&venv)
                .status()
                .context("creating a Python virtual environment")?;
            if !status.success() {
                bail!("python3 -m venv failed");
            }
            let status = std::process::Command::new(&python)
                .args(["-m", "pip", "install", "-q", "-r"])
                .arg(dir.join("requirements.txt"))
                .status()
                .context("installing the Python peers")?;
            if !status.success() {
                bail!("pip install failed");
            }
        }
        std::process::Command::new(&python)
            .arg(dir.join("run.py"))
            .arg(peer)
            .arg(corpus)
            .arg(rounds.to_string())
            .output()
            .context("running python")?
    };
    if !output.status.success() {
        bail!(
            "the peer failed: {}",
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .last()
                .unwrap_or("")
        );
    }
    let summary = crate::bench::PeerSummary::from_output(&output.stdout)?;
    Ok(ParseRun {
        parser: summary.text("parser"),
        version: summary.text("version"),
        messages: summary.count("messages"),
        values: summary.count("values"),
        seconds: summary.number("seconds"),
    })
}

/// Sends ADT^A01 and ORU^R01 messages over `connections` MLLP connections into a server that
/// maps and stores them durably, each connection waiting for every ACK.
fn end_to_end(args: &Hl7BenchArgs) -> anyhow::Result<()> {
    let data = tempfile::tempdir().context("creating a data directory")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let store = Arc::new(medulla_store::SqliteStore::open(
        data.path(),
        medulla_engine::sqlite_options(),
    )?);
    let result = runtime.block_on(async {
        let engine = medulla_engine::Engine::new(store.clone(), Default::default());
        let interface = medulla_interface::Interface::new(engine, Default::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?.to_string();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(medulla_interface::mllp::serve(
            listener,
            interface,
            Default::default(),
            async move {
                let _ = stopped.await;
            },
        ));
        let per_connection = args.mllp_messages / args.connections.max(1);
        let started = Instant::now();
        let mut clients = Vec::new();
        for connection in 0..args.connections {
            let address = address.clone();
            clients.push(tokio::spawn(async move {
                let mut client =
                    medulla_interface::mllp::Client::connect(&address, Duration::from_secs(60))
                        .await?;
                let mut accepted = 0_u64;
                for n in 0..per_connection {
                    let seed = connection * per_connection + n;
                    let message = if n.is_multiple_of(2) {
                        adt(seed)
                    } else {
                        oru(seed, 5)
                    };
                    let ack = client.send(&message).await?;
                    accepted += u64::from(ack.windows(7).any(|w| w == b"\rMSA|AA"));
                }
                anyhow::Ok(accepted)
            }));
        }
        let mut accepted = 0;
        for client in clients {
            accepted += client.await??;
        }
        let seconds = started.elapsed().as_secs_f64();
        let _ = stop.send(());
        server.await??;
        anyhow::Ok((accepted, seconds))
    });
    let stats = medulla_store::Store::stats(store.as_ref())?;
    store.close();
    let (accepted, seconds) = result?;
    println!(
        "\nend to end over MLLP ({} connections, ADT^A01 and ORU^R01 with 5 OBX, mapped and stored with synchronous=FULL):",
        args.connections
    );
    println!(
        "  {:>8.0} messages/s  ({accepted} AA in {seconds:.2} s; {} resources, {} versions in the store)",
        accepted as f64 / seconds.max(1e-9),
        stats.resources,
        stats.versions
    );
    Ok(())
}

const FAMILIES: &[&str] = &[
    "Smith", "O'Brien", "Müller", "Nguyen", "García", "Kowalski", "Okafor",
];
const GIVEN: &[&str] = &["Mary", "James", "Aiko", "José", "Fatima", "Liam", "Zoë"];
const TESTS: &[(&str, &str, &str, &str)] = &[
    ("2345-7", "Glucose", "mg/dL", "70-99"),
    ("2160-0", "Creatinine", "mg/dL", "0.6-1.3"),
    ("718-7", "Hemoglobin", "g/dL", "12.0-17.5"),
    ("6690-2", "Leukocytes", "10*3/uL", "4.5-11.0"),
    ("2951-2", "Sodium", "mmol/L", "135-145"),
    ("2823-3", "Potassium", "mmol/L", "3.5-5.1"),
];

fn header(kind: &str, structure: &str, control: usize) -> String {
    format!(
        "MSH|^~\\&|SENDER|HOSP|MEDULLA|HOSP|20240102{:02}{:02}00||{kind}^{structure}|MSG{control:08}|P|2.5.1||||||UNICODE UTF-8\r",
        control % 24,
        control % 60
    )
}

fn pid(seed: usize) -> String {
    format!(
        "PID|1||MRN{seed:07}^^^HOSP^MR~{ssn:09}^^^USSSA^SS||{family}^{given}^Q^^^^L||19{year:02}0{month}1{day}|{sex}|||{seed} Main St^Apt {apt}^Springfield^IL^62701^USA^H||(217)555-{phone:04}^PRN^PH~^NET^Internet^p{seed}@example.org|||M\r",
        ssn = seed * 7919 % 1_000_000_000,
        family = FAMILIES[seed % FAMILIES.len()],
        given = GIVEN[seed % GIVEN.len()],
        year = 30 + seed % 70,
        month = 1 + seed % 9,
        day = seed % 9,
        sex = if seed.is_multiple_of(2) { "F" } else { "M" },
        apt = seed % 40,
        phone = seed % 10_000,
    )
}

/// An ADT^A01 admission.
pub fn adt(seed: usize) -> Vec<u8> {
    format!(
        "{}EVN|A01|20240102030405\r{}PV1|1|I|4W^{room}^1^HOSP||||1234^Attending^Ann^^^Dr|||MED||||1|||1234^Attending^Ann^^^Dr|IN||||||||||||||||||||||||||20240102030000\r",
        header("ADT", "A01^ADT_A01", seed),
        pid(seed),
        room = 400 + seed % 50
    )
    .into_bytes()
}

/// An ORU^R01 result with `observations` OBX segments of several value types.
pub fn oru(seed: usize, observations: usize) -> Vec<u8> {
    let mut text = header("ORU", "R01^ORU_R01", seed);
    text.push_str(&pid(seed));
    text.push_str(&format!(
        "OBR|1|PL{seed}|FL{seed}^LAB|24323-8^Comprehensive metabolic panel^LN|||20240102080000|||||||||||||||20240102093000|||F\r"
    ));
    for n in 0..observations {
        let (code, name, unit, range) = TESTS[(seed + n) % TESTS.len()];
        let line = match n % 4 {
            3 => format!(
                "OBX|{}|ST|{code}^{name}^LN||see note\\.br\\repeat in 2 weeks||||||F|||20240102090000\r",
                n + 1
            ),
            2 => format!(
                "OBX|{}|SN|{code}^{name}^LN||<^{}|{unit}^{unit}^UCUM|{range}|L|||F|||20240102090000\r",
                n + 1,
                1 + seed % 5
            ),
            _ => format!(
                "OBX|{}|NM|{code}^{name}^LN||{}.{}|{unit}^{unit}^UCUM|{range}|{}|||F|||20240102090000\r",
                n + 1,
                50 + (seed * 31 + n) % 100,
                seed % 10,
                if (seed + n).is_multiple_of(5) {
                    "H"
                } else {
                    "N"
                }
            ),
        };
        text.push_str(&line);
    }
    text.into_bytes()
}

fn orm(seed: usize) -> Vec<u8> {
    format!(
        "{}{}PV1|1|O\rORC|NW|PL{seed}|FL{seed}||SC||||20240102100000|||1234^Ordering^Olu^^^Dr\rOBR|1|PL{seed}|FL{seed}|24331-1^Lipid panel^LN|||20240102100000||||||||||||||||||||R\r",
        header("ORM", "O01^ORM_O01", seed),
        pid(seed)
    )
    .into_bytes()
}

fn vxu(seed: usize) -> Vec<u8> {
    format!(
        "{}{}ORC|RE||IZ{seed}^HOSP\rRXA|0|1|20240102|20240102|08^Hep B, adolescent or pediatric^CVX|0.5|mL^mL^UCUM||00^New immunization record^NIP001|||||||LOT{seed}|20251231|MSD^Merck^MVX|||CP|A\rRXR|IM^Intramuscular^HL70162|LD^Left deltoid^HL70163\r",
        header("VXU", "V04^VXU_V04", seed),
        pid(seed)
    )
    .into_bytes()
}

fn siu(seed: usize) -> Vec<u8> {
    format!(
        "{}SCH|AP{seed}^HOSP|FAP{seed}^HOSP|||||FOLLOWUP^Follow-up visit|NORMAL|30|min|^^30^20240110090000^20240110093000|||||||||||||||Booked\r{}RGS|1|A\rAIS|1|A|99213^Office visit^CPT|20240110090000|||30|min\rAIP|1|A|1234^Attending^Ann^^^Dr\rAIL|1|A|CLINIC^^^HOSP\r",
        header("SIU", "S12^SIU_S12", seed),
        pid(seed)
    )
    .into_bytes()
}

/// The mixed corpus: ADT 30%, ORU 40% (3-12 OBX), ORM 10%, VXU 10%, SIU 10%.
fn corpus(messages: usize) -> Vec<Vec<u8>> {
    (0..messages)
        .map(|seed| match seed % 10 {
            0..=2 => adt(seed),
            3..=6 => oru(seed, 3 + seed % 10),
            7 => orm(seed),
            8 => vxu(seed),
            _ => siu(seed),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test
    use super::*;

    #[test]
    fn the_corpus_parses_and_has_the_values_the_peers_read() {
        let corpus = corpus(10);
        let mut values = 0;
        for bytes in &corpus {
            let message = medulla_hl7v2::parse(bytes, &Default::default())
                .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(bytes)));
            for segment in message.segments() {
                if matches!(segment.name(), "PID" | "OBX") {
                    assert!(
                        segment.value_at(5, 1, 1, 1).text().is_some(),
                        "{}",
                        segment.raw()
                    );
                    values += 1;
                }
            }
        }
        // 3 ADT, 4 ORU with 6-9 OBX, ORM, VXU, SIU: one PID each, plus 30 OBX.
        assert_eq!(values, 40);
    }
}
