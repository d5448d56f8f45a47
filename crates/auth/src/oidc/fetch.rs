//! Fetching the issuer's discovery document and key set: bounded in time and size.

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use std::time::Duration;

/// The largest discovery document or key set we read.
pub(crate) const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

/// An HTTP client that gives up after `timeout` and does not consult proxy variables
/// (libraries never read the environment).
pub(crate) fn client(timeout: Duration) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .no_proxy()
        .redirect(reqwest::redirect::Policy::limited(3))
        .build()
        .map_err(|error| describe(&error))
}

/// GETs `url` and parses the body as a JSON object.
///
/// # Errors
/// What went wrong, as a phrase: connection, timeout, status, size or JSON.
pub(crate) async fn json_object(
    http: &reqwest::Client,
    url: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    let mut response = http
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|error| describe(&error))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("the server answered HTTP {status}"));
    }
    let too_large = || format!("the document is larger than {MAX_DOCUMENT_BYTES} bytes");
    if response
        .content_length()
        .is_some_and(|length| length > MAX_DOCUMENT_BYTES as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|error| describe(&error))? {
        if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    match serde_json::from_slice(&body) {
        Ok(serde_json::Value::Object(object)) => Ok(object),
        Ok(_) => Err("the document is not a JSON object".into()),
        Err(error) => Err(format!("the document is not JSON: {error}")),
    }
}

/// An error with its causes, `outer: inner: innermost` (reqwest's own message omits them).
fn describe(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        "timed out".to_owned()
    } else {
        error.to_string()
    };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// One verification key of the issuer.
pub(crate) struct PublicKey {
    pub(crate) kid: Option<String>,
    jwk: Jwk,
    pub(crate) decoding: DecodingKey,
}

impl PublicKey {
    /// Whether this key may verify a signature made with `algorithm`: the key type and curve
    /// fit, and the key's own `alg`, if it names one, is the same.
    pub(crate) fn fits(&self, algorithm: Algorithm) -> bool {
        let type_fits = match (&self.jwk.algorithm, algorithm) {
            (
                AlgorithmParameters::RSA(_),
                Algorithm::RS256
                | Algorithm::RS384
                | Algorithm::RS512
                | Algorithm::PS256
                | Algorithm::PS384
                | Algorithm::PS512,
            ) => true,
            (AlgorithmParameters::EllipticCurve(ec), Algorithm::ES256) => {
                ec.curve == EllipticCurve::P256
            }
            (AlgorithmParameters::EllipticCurve(ec), Algorithm::ES384) => {
                ec.curve == EllipticCurve::P384
            }
            (AlgorithmParameters::OctetKeyPair(okp), Algorithm::EdDSA) => {
                okp.curve == EllipticCurve::Ed25519
            }
            _ => false,
        };
        type_fits
            && self
                .jwk
                .common
                .key_algorithm
                .is_none_or(|named| named == algorithm.into())
    }
}

/// The signature keys of a JWKS document. Keys we cannot use (encryption keys, symmetric
/// keys, unknown types or algorithms) are skipped, not fatal: issuers publish those too.
pub(crate) fn signature_keys(
    document: &serde_json::Map<String, serde_json::Value>,
) -> Result<Vec<PublicKey>, String> {
    let entries = document
        .get("keys")
        .and_then(serde_json::Value::as_array)
        .ok_or("the key set has no \"keys\" array")?;
    let keys: Vec<PublicKey> = entries
        .iter()
        .filter_map(|entry| serde_json::from_value::<Jwk>(entry.clone()).ok())
        .filter(|jwk| {
            !matches!(jwk.algorithm, AlgorithmParameters::OctetKey(_))
                && jwk
                    .common
                    .public_key_use
                    .as_ref()
                    .is_none_or(|key_use| *key_use == PublicKeyUse::Signature)
        })
        .filter_map(|jwk| {
            let decoding = DecodingKey::from_jwk(&jwk).ok()?;
            Some(PublicKey {
                kid: jwk.common.key_id.clone(),
                jwk,
                decoding,
            })
        })
        .collect();
    if keys.is_empty() {
        return Err("the key set holds no usable signature key".into());
    }
    Ok(keys)
}
