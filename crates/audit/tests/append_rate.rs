//! A measurement, not a test: how many records per second the ledger acknowledges.
//!
//! Run it in release mode and read the figures it prints:
//! `cargo test -p medulla-audit --release --test append_rate -- --ignored --nocapture`

use medulla_audit::{Action, AgentKind, AuditLog, AuditRecord, Category, Outcome};
use std::time::Instant;

fn read_record(n: u64) -> AuditRecord {
    let mut record = AuditRecord::new(
        Category::Rest,
        "read",
        Action::Read,
        Outcome::Success,
        format!("user-{}", n % 50),
        AgentKind::User,
    );
    record.patient = Some(format!("patient-{}", n % 1000));
    record.entities = vec![format!("Observation/{n}")];
    record.network_address = Some("10.1.2.3".into());
    record.purpose_of_use = vec!["TREAT".into()];
    record
}

fn report(what: &str, records: u64, started: Instant) {
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{what}: {records} records in {seconds:.2} s = {:.0} appends/s",
        records as f64 / seconds
    );
}

#[test]
#[ignore = "a measurement; run with --release -- --ignored --nocapture"]
fn append_rate() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = AuditLog::open(dir.path()).expect("open");

    // One caller waiting for each record: bound by one durable commit per record.
    let started = Instant::now();
    let sequential = 1_000;
    for n in 0..sequential {
        log.append_blocking(read_record(n)).expect("appended");
    }
    report("1 thread, one record at a time", sequential, started);

    // Many callers at once, as request handlers would: group commit shares the syncs.
    let threads = 64;
    let per_thread = 1_000;
    let started = Instant::now();
    std::thread::scope(|scope| {
        for thread in 0..threads {
            let log = log.clone();
            scope.spawn(move || {
                for n in 0..per_thread {
                    log.append_blocking(read_record(thread * per_thread + n))
                        .expect("appended");
                }
            });
        }
    });
    report(
        "64 threads, one record at a time each",
        threads * per_thread,
        started,
    );

    // Let the ledger catch up, so that the next figures start from an idle ledger thread.
    log.flush().expect("flushed");

    // Everything queued at once: the journal's own ceiling, then the ledger thread's.
    let queued = 200_000;
    let started = Instant::now();
    let tickets: Vec<_> = (0..queued).map(|n| log.record(read_record(n))).collect();
    for ticket in tickets {
        ticket.blocking_wait().expect("appended");
    }
    report("200000 queued, then awaited (journal)", queued, started);
    log.flush().expect("flushed");
    report("200000 queued, until in the ledger", queued, started);

    drop(log);
    let started = Instant::now();
    let verified = medulla_audit::verify(dir.path()).expect("verify");
    assert!(verified.is_intact(), "{verified}");
    report("verify", verified.records, started);
    let size = std::fs::metadata(dir.path().join("ledger.sqlite"))
        .expect("ledger")
        .len();
    println!(
        "ledger: {} bytes = {} bytes per record",
        size,
        size / verified.records
    );
}
