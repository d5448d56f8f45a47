//! The server's signing keys, kept in the data directory's `auth` folder.
//!
//! `es256.pem` (P-256) signs access tokens; `rs256.pem` (RSA 2048) signs ID tokens, because
//! OpenID Connect requires RS256 support. Both are created on first use with mode 0600 and
//! published (public halves only) at the JWKS endpoint, named by their RFC 7638 thumbprints.

use crate::error::DirectoryError;
use jsonwebtoken::jwk::{Jwk, JwkSet, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use rand_core::OsRng;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// One signing key with its public half.
pub struct SigningKey {
    /// `kid` in token headers and the JWKS.
    pub kid: String,
    /// The algorithm it signs with.
    pub algorithm: Algorithm,
    pub(crate) encoding: EncodingKey,
    pub(crate) decoding: DecodingKey,
    pub(crate) public: Jwk,
}

impl SigningKey {
    fn from_pem(pem: &[u8], algorithm: Algorithm) -> Result<SigningKey, DirectoryError> {
        let encoding = match algorithm {
            Algorithm::RS256 => EncodingKey::from_rsa_pem(pem),
            _ => EncodingKey::from_ec_pem(pem),
        }
        .map_err(|error| DirectoryError::Io(format!("unreadable signing key: {error}")))?;
        let mut public = Jwk::from_encoding_key(&encoding, algorithm)
            .map_err(|error| DirectoryError::Io(format!("unusable signing key: {error}")))?;
        let kid = public
            .thumbprint(ThumbprintHash::SHA256)
            .map_err(|error| DirectoryError::Io(format!("unusable signing key: {error}")))?;
        public.common.key_id = Some(kid.clone());
        public.common.public_key_use = Some(jsonwebtoken::jwk::PublicKeyUse::Signature);
        let decoding = DecodingKey::from_jwk(&public)
            .map_err(|error| DirectoryError::Io(format!("unusable signing key: {error}")))?;
        Ok(SigningKey {
            kid,
            algorithm,
            encoding,
            decoding,
            public,
        })
    }
}

/// The access-token key, and the ID-token key made when first needed (RSA generation takes a
/// moment, and many deployments never issue ID tokens).
pub struct Keys {
    folder: PathBuf,
    access: SigningKey,
    id_token: OnceLock<Result<SigningKey, String>>,
}

impl Keys {
    /// Loads the keys from `folder`, creating the access-token key if missing.
    ///
    /// # Errors
    /// The folder cannot be created or a key file cannot be read or written.
    pub fn open(folder: &Path) -> Result<Keys, DirectoryError> {
        std::fs::create_dir_all(folder).map_err(|error| {
            DirectoryError::Io(format!("cannot create {}: {error}", folder.display()))
        })?;
        let access = load_or_create(&folder.join("es256.pem"), Algorithm::ES256, || {
            use p256::pkcs8::EncodePrivateKey;
            p256::SecretKey::random(&mut OsRng)
                .to_pkcs8_pem(p256::pkcs8::LineEnding::LF)
                .map(|pem| pem.as_bytes().to_vec())
                .map_err(|error| error.to_string())
        })?;
        Ok(Keys {
            folder: folder.to_owned(),
            access,
            id_token: OnceLock::new(),
        })
    }

    /// The key that signs (and verifies) access tokens.
    pub fn access(&self) -> &SigningKey {
        &self.access
    }

    /// The key that signs ID tokens (RS256), created on first use.
    ///
    /// # Errors
    /// The key cannot be generated, read or written.
    pub fn id_token(&self) -> Result<&SigningKey, DirectoryError> {
        let key = self.id_token.get_or_init(|| {
            load_or_create(&self.folder.join("rs256.pem"), Algorithm::RS256, || {
                use rsa::pkcs1::EncodeRsaPrivateKey;
                rsa::RsaPrivateKey::new(&mut OsRng, 2048)
                    .map_err(|error| error.to_string())?
                    .to_pkcs1_pem(rsa::pkcs1::LineEnding::LF)
                    .map(|pem| pem.as_bytes().to_vec())
                    .map_err(|error| error.to_string())
            })
            .map_err(|error| error.to_string())
        });
        key.as_ref()
            .map_err(|error| DirectoryError::Io(error.clone()))
    }

    /// The public keys, as served at the JWKS endpoint.
    pub fn jwks(&self) -> JwkSet {
        let mut keys = vec![self.access.public.clone()];
        if let Ok(id_token) = self.id_token() {
            keys.push(id_token.public.clone());
        }
        JwkSet { keys }
    }
}

fn load_or_create(
    path: &Path,
    algorithm: Algorithm,
    generate: impl FnOnce() -> Result<Vec<u8>, String>,
) -> Result<SigningKey, DirectoryError> {
    match std::fs::read(path) {
        Ok(pem) => SigningKey::from_pem(&pem, algorithm),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let pem = generate()
                .map_err(|error| DirectoryError::Io(format!("cannot generate a key: {error}")))?;
            write_private(path, &pem)?;
            SigningKey::from_pem(&pem, algorithm)
        }
        Err(error) => Err(DirectoryError::Io(format!(
            "cannot read {}: {error}",
            path.display()
        ))),
    }
}

/// Writes a private key readable by its owner only, atomically (temporary file, sync, rename).
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), DirectoryError> {
    use std::io::Write;
    let temporary = path.with_extension("tmp");
    let io = |error: std::io::Error| {
        DirectoryError::Io(format!("cannot write {}: {error}", path.display()))
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&temporary).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    std::fs::rename(&temporary, path).map_err(io)?;
    Ok(())
}
