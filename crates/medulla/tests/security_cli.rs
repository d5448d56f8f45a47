//! `medulla user`, `medulla client` and `medulla audit verify` as an operator runs them.

mod common;

use common::medulla;
use std::io::Write as _;
use std::process::Stdio;

fn run(args: &[&str], data: &std::path::Path, stdin: Option<&str>) -> (i32, String, String) {
    let mut child = medulla()
        .args(args)
        .arg("--data")
        .arg(data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("medulla runs");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("password written");
    }
    drop(child.stdin.take());
    let output = child.wait_with_output().expect("medulla exits");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn users_and_clients_are_managed_from_the_command_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path();
    let (code, out, _) = run(
        &[
            "user",
            "add",
            "alice",
            "--role",
            "clinician",
            "--fhir-user",
            "Practitioner/7",
            "--password-stdin",
        ],
        data,
        Some("a long passphrase\n"),
    );
    assert_eq!(code, 0);
    let user: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(user["role"], "clinician");
    // Bad input: short password, unknown role, patient role without a patient, duplicate.
    for (args, stdin, message) in [
        (
            vec![
                "user",
                "add",
                "bob",
                "--role",
                "clinician",
                "--password-stdin",
            ],
            "short\n",
            "at least 8",
        ),
        (
            vec!["user", "add", "bob", "--role", "wizard", "--password-stdin"],
            "long enough pass\n",
            "unknown role",
        ),
        (
            vec![
                "user",
                "add",
                "bob",
                "--role",
                "patient",
                "--password-stdin",
            ],
            "long enough pass\n",
            "--patient",
        ),
        (
            vec![
                "user",
                "add",
                "alice",
                "--role",
                "clinician",
                "--password-stdin",
            ],
            "long enough pass\n",
            "already exists",
        ),
    ] {
        let (code, _, err) = run(&args, data, Some(stdin));
        assert_ne!(code, 0, "{args:?}");
        assert!(err.contains(message), "{args:?}: {err}");
    }
    let (code, out, _) = run(&["user", "list"], data, None);
    assert_eq!(code, 0);
    assert!(out.contains("alice") && !out.contains("argon2"), "{out}");
    assert_eq!(run(&["user", "disable", "alice"], data, None).0, 0);
    assert!(
        run(&["user", "list"], data, None)
            .1
            .contains("\"disabled\": true")
    );
    assert_ne!(run(&["user", "disable", "nobody"], data, None).0, 0);

    let (code, out, _) = run(
        &[
            "client",
            "register",
            "--name",
            "job",
            "--type",
            "symmetric",
            "--scope",
            "system/*.rs",
        ],
        data,
        None,
    );
    assert_eq!(code, 0);
    let client: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let secret = client["client_secret"].as_str().expect("secret shown once");
    let (_, listed, _) = run(&["client", "list"], data, None);
    assert!(
        listed.contains("job") && !listed.contains(secret),
        "{listed}"
    );
    let (code, _, err) = run(
        &[
            "client",
            "register",
            "--name",
            "x",
            "--type",
            "magic",
            "--scope",
            "system/*.rs",
        ],
        data,
        None,
    );
    assert_ne!(code, 0);
    assert!(err.contains("public, symmetric or asymmetric"), "{err}");
    let (code, _, err) = run(
        &[
            "client",
            "register",
            "--name",
            "x",
            "--type",
            "asymmetric",
            "--scope",
            "system/*.rs",
        ],
        data,
        None,
    );
    assert_ne!(code, 0);
    assert!(err.contains("--jwks"), "{err}");
}

#[test]
fn audit_verify_names_the_tampered_record() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path();
    let (code, _, err) = run(&["audit", "verify"], data, None);
    assert_ne!(code, 0);
    assert!(err.contains("no audit ledger"), "{err}");
    {
        let ledger = medulla_audit::AuditLog::open(&data.join("audit")).expect("ledger");
        for n in 0..6 {
            let mut record = medulla_audit::AuditRecord::new(
                medulla_audit::Category::Rest,
                "read",
                medulla_audit::Action::Read,
                medulla_audit::Outcome::Success,
                format!("user{n}"),
                medulla_audit::AgentKind::User,
            );
            record.entities.push(format!("Patient/{n}"));
            ledger.append_blocking(record).expect("appended");
        }
        ledger.close();
    }
    let (code, out, _) = run(&["audit", "verify"], data, None);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("intact") && out.contains("6 records"), "{out}");
    // Someone with write access to the file rewrites record 3 (the triggers are no obstacle
    // to them: they drop them).
    let conn = rusqlite::Connection::open(data.join("audit").join(medulla_audit::LEDGER_FILE))
        .expect("open");
    conn.execute_batch("DROP TRIGGER ledger_no_update;")
        .expect("trigger dropped");
    let changed = conn
        .execute(
            "UPDATE ledger SET event = CAST(replace(CAST(event AS TEXT), 'user2', 'userX') AS BLOB) \
             WHERE seq = 3 AND instr(CAST(event AS TEXT), 'user2') > 0",
            [],
        )
        .expect("tampered");
    assert_eq!(changed, 1, "record 3 was rewritten");
    drop(conn);
    let (code, _, err) = run(&["audit", "verify"], data, None);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("TAMPERED") && err.contains("record #3"),
        "{err}"
    );
}
