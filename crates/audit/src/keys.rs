//! The checkpoint signing key: an Ed25519 key in a PKCS#8 PEM file beside the ledger.

use crate::Error;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use std::io::Write as _;
use std::path::Path;

/// Reads the key at `path`, creating it (mode 0600 on Unix) if there is none.
pub(crate) fn load_or_create(path: &Path) -> Result<SigningKey, Error> {
    let key_file_error = |source| Error::KeyFile {
        path: path.to_owned(),
        source,
    };
    match std::fs::read_to_string(path) {
        Ok(pem) => {
            warn_if_readable_by_others(path);
            SigningKey::from_pkcs8_pem(&pem).map_err(|error| Error::KeyFormat {
                path: path.to_owned(),
                reason: error.to_string(),
            })
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let key = SigningKey::generate(&mut rand_core::OsRng);
            write_new(path, &key).map_err(key_file_error)?;
            tracing::info!(path = %path.display(), "created a new audit signing key");
            Ok(key)
        }
        Err(source) => Err(key_file_error(source)),
    }
}

/// Writes the key to a temporary file readable only by its owner, syncs it, and renames it into
/// place, so that a crash never leaves a half-written key behind.
fn write_new(path: &Path, key: &SigningKey) -> std::io::Result<()> {
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|error| std::io::Error::other(error.to_string()))?;
    let temporary = path.with_extension("key.partial");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(&temporary)?;
    file.write_all(pem.as_bytes())?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temporary, path)?;
    if let Some(dir) = path.parent() {
        // Makes the rename itself durable; not possible on every platform, hence no error.
        if let Ok(dir) = std::fs::File::open(dir) {
            let _ = dir.sync_all();
        }
    }
    Ok(())
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    if let Ok(metadata) = std::fs::metadata(path)
        && metadata.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            path = %path.display(),
            "the audit signing key can be read by other users; it should have mode 0600"
        );
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_created_key_is_read_back_and_private() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("signing.key");
        let created = load_or_create(&path).expect("created");
        let loaded = load_or_create(&path).expect("loaded");
        assert_eq!(created.to_bytes(), loaded.to_bytes());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path)
                .expect("metadata")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_garbled_key_file_is_a_format_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("signing.key");
        std::fs::write(&path, "not a key").expect("written");
        assert!(matches!(
            load_or_create(&path),
            Err(Error::KeyFormat { .. })
        ));
    }
}
