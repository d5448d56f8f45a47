//! `medulla serve` transport options: the non-loopback rule, `--tls-cert`/`--tls-key` checks
//! with errors naming the bad file, `--cors-origin` checks, and a real HTTPS run of the binary.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on unexpected None/Err"
)]

mod common;

use common::medulla;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

fn stderr_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A self-signed certificate for 127.0.0.1 and its key, written as PEM files into `dir`.
fn write_certificate(dir: &Path) -> (PathBuf, PathBuf, String) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    let certificate = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&certificate, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    (certificate, key, certified.cert.pem())
}

#[test]
fn serve_on_a_public_address_without_auth_names_the_auth_flag() {
    let data = tempfile::tempdir().unwrap();
    let output = medulla()
        .args(["serve", "--addr", "0.0.0.0:0", "--data"])
        .arg(data.path())
        .output()
        .unwrap();
    let stderr = stderr_of(&output);
    assert_ne!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("--auth"), "{stderr}");
    // TLS does not replace authentication.
    let (certificate, key, _) = write_certificate(data.path());
    let output = medulla()
        .args(["serve", "--addr", "0.0.0.0:0", "--tls-cert"])
        .arg(&certificate)
        .arg("--tls-key")
        .arg(&key)
        .arg("--data")
        .arg(data.path())
        .output()
        .unwrap();
    let stderr = stderr_of(&output);
    assert_ne!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("--auth"), "{stderr}");
}

#[test]
fn tls_cert_without_tls_key_is_refused() {
    let data = tempfile::tempdir().unwrap();
    let (certificate, key, _) = write_certificate(data.path());
    let output = medulla()
        .args(["serve", "--addr", "127.0.0.1:0", "--tls-cert"])
        .arg(&certificate)
        .arg("--data")
        .arg(data.path())
        .env_remove("MEDULLA_TLS_KEY")
        .output()
        .unwrap();
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--tls-key"), "{stderr}");
    // The same through the environment, the other way round.
    let output = medulla()
        .args(["serve", "--addr", "127.0.0.1:0", "--data"])
        .arg(data.path())
        .env_remove("MEDULLA_TLS_CERT")
        .env("MEDULLA_TLS_KEY", &key)
        .output()
        .unwrap();
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--tls-cert"), "{stderr}");
}

#[test]
fn unusable_tls_files_are_refused_naming_the_file() {
    let data = tempfile::tempdir().unwrap();
    let (certificate, key, _) = write_certificate(data.path());
    let missing = data.path().join("missing-cert.pem");
    let not_pem = data.path().join("notes.txt");
    std::fs::write(&not_pem, "this is not a key\n").unwrap();
    let other = tempfile::tempdir().unwrap();
    let (_, other_key, _) = write_certificate(other.path());
    let cases: [(&Path, &Path, &str); 4] = [
        (&missing, &key, "missing-cert.pem"),
        (&certificate, &not_pem, "notes.txt"),
        // A key file given as the certificate: no CERTIFICATE block.
        (&key, &key, "holds no PEM certificate"),
        // Someone else's key.
        (&certificate, &other_key, "cannot be used together"),
    ];
    for (certificate, key, expected) in cases {
        let output = medulla()
            .args(["serve", "--addr", "127.0.0.1:0", "--tls-cert"])
            .arg(certificate)
            .arg("--tls-key")
            .arg(key)
            .arg("--data")
            .arg(data.path().join("data"))
            .output()
            .unwrap();
        let stderr = stderr_of(&output);
        assert_eq!(output.status.code(), Some(2), "{expected}: {stderr}");
        assert!(stderr.contains(expected), "{expected}: {stderr}");
        assert!(!stderr.contains("panicked"), "{expected}: {stderr}");
        assert!(!stderr.contains("BEGIN PRIVATE KEY"), "{stderr}");
    }
}

#[test]
fn cors_origins_that_are_not_origins_are_refused() {
    let data = tempfile::tempdir().unwrap();
    for (value, expected) in [
        ("https://app.example.org/launch", "is not an origin"),
        ("*,https://app.example.org", "cannot be combined"),
    ] {
        let output = medulla()
            .args(["serve", "--addr", "127.0.0.1:0", "--data"])
            .arg(data.path())
            .env("MEDULLA_CORS_ORIGINS", value)
            .output()
            .unwrap();
        let stderr = stderr_of(&output);
        assert_ne!(output.status.code(), Some(0), "{value}: {stderr}");
        assert!(stderr.contains(expected), "{value}: {stderr}");
    }
}

#[test]
fn serve_over_https_with_hsts_and_cors() {
    let dir = tempfile::tempdir().unwrap();
    let (certificate, key, certificate_pem) = write_certificate(dir.path());
    let mut command = medulla();
    command
        .args(["--log-json", "serve", "--addr", "127.0.0.1:0", "--data"])
        .arg(dir.path().join("data"))
        .arg("--tls-cert")
        .arg(&certificate)
        .arg("--tls-key")
        .arg(&key)
        .args(["--cors-origin", "https://app.example.org"]);
    let (mut child, _log, listening) = common::spawn_listening(command);
    let local = listening["fields"]["local"].as_str().unwrap();
    assert_eq!(listening["fields"]["tls"], true);
    // The default public URL follows the scheme.
    assert_eq!(
        listening["fields"]["base_url"],
        format!("https://{local}/fhir")
    );
    let client = reqwest::blocking::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(certificate_pem.as_bytes()).unwrap())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let response = client
        .get(format!("https://{local}/fhir/metadata"))
        .header("origin", "https://app.example.org")
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(
        header("strict-transport-security").as_deref(),
        Some("max-age=31536000; includeSubDomains")
    );
    assert_eq!(
        header("access-control-allow-origin").as_deref(),
        Some("https://app.example.org")
    );
    let capability: serde_json::Value = response.json().unwrap();
    assert_eq!(
        capability["implementation"]["url"],
        format!("https://{local}/fhir")
    );
    // SIGTERM drains and exits cleanly, as over plain HTTP.
    #[cfg(unix)]
    {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        assert_eq!(child.wait().unwrap().code(), Some(0));
    }
    let _ = child.kill();
    let _ = child.wait();
}
