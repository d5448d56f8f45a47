//! Bearer tokens of an external OpenID Connect issuer (Keycloak, Azure AD / Entra ID, a
//! site's own identity provider), for `--auth oidc --oidc-issuer URL`.
//!
//! [`OidcVerifier::discover`] reads `{issuer}/.well-known/openid-configuration`, insists that
//! its `issuer` is the configured one, and fetches the key set at its `jwks_uri`.
//! [`OidcVerifier::check`] then verifies each token locally: the algorithm must be one of
//! [`OidcConfig::algorithms`] (never `none`, never an HMAC algorithm, so a token "signed" with
//! the issuer's public key as an HS256 secret fails), the key is found by `kid`, and `iss`
//! (exact), `aud` (any accepted value; a string or an array), `exp` and `nbf` (with leeway)
//! are checked; `exp`, `iss`, `aud` and `sub` are required. The claims are mapped to an
//! [`Access`] through a [`ClaimMapping`]. Verified tokens are trusted for at most 30 seconds
//! (and never past `exp`) without re-verifying.
//!
//! `check` is async because of key rotation: a token whose `kid` is not in the cached key set
//! makes the verifier fetch the key set again, at most once per
//! [`OidcConfig::jwks_refresh_min`], and keys missing from the new set stop working at once.
//! Concurrent checks wait for that one fetch instead of starting their own.
//!
//! Fetches time out after [`OidcConfig::fetch_timeout`] (5 s), read at most 1 MiB, follow at
//! most three redirects and ignore proxy environment variables. An `https://` issuer needs
//! reqwest's TLS support (its `rustls` feature) in the build.
//!
//! Does not: issue tokens, know users or clients (the issuer owns them, so a token cannot be
//! revoked here before it expires), or introspect opaque tokens: access tokens must be JWTs.
//!
//! # `DATA/auth/oidc.json`
//!
//! Optional; [`OidcConfig::load`] reads it. Every field may be left out; shown with defaults
//! except `issuer` (normally given by `--oidc-issuer`, which wins) and `audience` (the FHIR
//! base URL when empty), and with a Keycloak-style role mapping:
//!
//! ```json
//! {
//!   "issuer": "https://sso.example.org/realms/clinic",
//!   "audience": ["https://fhir.example.org/fhir"],
//!   "algorithms": ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"],
//!   "leeway_seconds": 30,
//!   "jwks_refresh_min_seconds": 60,
//!   "fetch_timeout_seconds": 5,
//!   "claims": {
//!     "subject": "sub",
//!     "scope": ["scope", "scp"],
//!     "patient": "patient",
//!     "encounter": "encounter",
//!     "fhir_user": "fhirUser",
//!     "roles": "realm_access.roles",
//!     "role_scopes": { "clinician": "user/*.rs", "auditor": "user/AuditEvent.rs" },
//!     "client_id": ["azp", "client_id"],
//!     "kind_claim": null,
//!     "client_kinds": ["app", "client"]
//!   }
//! }
//! ```
//!
//! Claim names may be dotted paths into nested objects (`resource_access.my-app.roles` for
//! Keycloak client roles); a claim named exactly as written wins over the path. Scope claims
//! may be space-separated strings or arrays; words that are not SMART scopes (`email`) are
//! ignored. A token is a client's (client credentials, `Subject::Client` named by its client
//! id) when `kind_claim` holds one of `client_kinds` (Azure AD: `"kind_claim": "idtyp"`), or,
//! without a `kind_claim`, when its client id equals its subject. Keycloak puts the FHIR base
//! URL in `aud` only with an audience mapper on the client scope; Azure AD scope names cannot
//! contain `/`, so grant SMART scopes there through app roles and `role_scopes`.

mod claims;
mod config;
mod fetch;

pub use config::{ClaimMapping, OidcConfig};

use crate::error::TokenError;
use fetch::PublicKey;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, AlgorithmFamily, Validation};
use medulla_access::Access;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

/// Why an external issuer cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OidcError {
    /// The settings are unusable (no issuer, no audience, an HMAC algorithm, a bad
    /// `oidc.json`), said plainly.
    #[error("{0}")]
    Config(String),
    /// The discovery document cannot be fetched or read.
    #[error("cannot read the OpenID configuration at {url:?}: {reason}")]
    Discovery {
        /// The discovery URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The discovery document names another issuer than the configured one.
    #[error(
        "the OpenID configuration at {url:?} names the issuer {found:?}, not the configured {expected:?}"
    )]
    IssuerMismatch {
        /// The discovery URL.
        url: String,
        /// The configured issuer.
        expected: String,
        /// The document's `issuer`.
        found: String,
    },
    /// The key set cannot be fetched or holds no usable key.
    #[error("cannot read the issuer's key set at {url:?}: {reason}")]
    Jwks {
        /// The `jwks_uri`.
        url: String,
        /// What went wrong.
        reason: String,
    },
}

/// Checks bearer tokens of one external OpenID Connect issuer.
pub struct OidcVerifier {
    config: OidcConfig,
    jwks_uri: String,
    http: reqwest::Client,
    keys: RwLock<Arc<KeySet>>,
    /// When the key set was last fetched. An async lock, held across the fetch on purpose:
    /// checks that meet an unknown key wait for the one fetch in flight rather than each
    /// starting their own or failing while it runs. Nothing else is locked meanwhile.
    last_fetch: tokio::sync::Mutex<Instant>,
    cache: VerifiedCache,
}

impl OidcVerifier {
    /// Reads the issuer's discovery document and key set.
    ///
    /// # Errors
    /// [`OidcError::Config`] for unusable settings; [`OidcError::Discovery`] when the document
    /// cannot be fetched (issuer down, timeout, not JSON, too large) or has no usable
    /// `jwks_uri`; [`OidcError::IssuerMismatch`] when its `issuer` differs from the configured
    /// one; [`OidcError::Jwks`] when the key set cannot be fetched or holds no usable key.
    pub async fn discover(config: OidcConfig) -> Result<OidcVerifier, OidcError> {
        config.check()?;
        let url = discovery_url(&config.issuer);
        let discovery_error = |reason: String| OidcError::Discovery {
            url: url.clone(),
            reason,
        };
        let http = fetch::client(config.fetch_timeout).map_err(discovery_error)?;
        let document = fetch::json_object(&http, &url)
            .await
            .map_err(discovery_error)?;
        let found = document.get("issuer").and_then(Value::as_str);
        if found != Some(config.issuer.as_str()) {
            return Err(OidcError::IssuerMismatch {
                url,
                expected: config.issuer,
                found: found.unwrap_or_default().to_owned(),
            });
        }
        let jwks_uri = document
            .get("jwks_uri")
            .and_then(Value::as_str)
            .ok_or_else(|| discovery_error("the document has no jwks_uri".into()))?;
        check_jwks_uri(&config.issuer, jwks_uri).map_err(discovery_error)?;
        let keys = fetch_keys(&http, jwks_uri).await?;
        Ok(OidcVerifier {
            jwks_uri: jwks_uri.to_owned(),
            http,
            keys: RwLock::new(Arc::new(KeySet {
                generation: 0,
                keys,
            })),
            last_fetch: tokio::sync::Mutex::new(Instant::now()),
            cache: VerifiedCache::default(),
            config,
        })
    }

    /// The settings.
    pub fn config(&self) -> &OidcConfig {
        &self.config
    }

    /// The key set's URL, from the discovery document.
    pub fn jwks_uri(&self) -> &str {
        &self.jwks_uri
    }

    /// Checks a bearer token and returns the access it grants. Fetches the key set again
    /// when the token names an unknown key and the last fetch is older than
    /// [`OidcConfig::jwks_refresh_min`].
    ///
    /// # Errors
    /// [`TokenError::Expired`], [`TokenError::NotYetValid`], [`TokenError::WrongIssuer`],
    /// [`TokenError::WrongAudience`]; [`TokenError::Invalid`] for everything else: not a JWT,
    /// an algorithm not accepted, an unknown key, a bad signature, a missing subject.
    pub async fn check(&self, token: &str) -> Result<Access, TokenError> {
        let mut key_set = self.key_set();
        if let Some(access) = self.cache.get(token, key_set.generation) {
            return Ok(access);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        let algorithm = header.alg;
        if algorithm.family() == AlgorithmFamily::Hmac
            || !self.config.algorithms.contains(&algorithm)
        {
            return Err(TokenError::Invalid);
        }
        let kid = header.kid.as_deref();
        if key_set.find(kid, algorithm).is_none() {
            key_set = self.refresh_for(kid, algorithm).await;
        }
        let key = key_set.find(kid, algorithm).ok_or(TokenError::Invalid)?;
        let claims = self.verify(token, key, algorithm)?;
        let access = claims::to_access(&claims, &self.config.claims)?;
        let exp = claims.get("exp").and_then(Value::as_u64);
        self.cache.put(token, &access, exp, key_set.generation);
        Ok(access)
    }

    /// Fetches the key set now, whatever the time since the last fetch (an operator's
    /// "the issuer rotated its keys").
    ///
    /// # Errors
    /// [`OidcError::Jwks`]; the keys already known stay in use.
    pub async fn refresh_keys(&self) -> Result<(), OidcError> {
        let mut last_fetch = self.last_fetch.lock().await;
        *last_fetch = Instant::now();
        let keys = fetch_keys(&self.http, &self.jwks_uri).await?;
        self.install(keys);
        Ok(())
    }

    fn key_set(&self) -> Arc<KeySet> {
        Arc::clone(&self.keys.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The key set after fetching it again if the key is still unknown and the last fetch is
    /// old enough; on failure the old set stays (logged, since the issuer may be down).
    async fn refresh_for(&self, kid: Option<&str>, algorithm: Algorithm) -> Arc<KeySet> {
        let mut last_fetch = self.last_fetch.lock().await;
        let current = self.key_set();
        if current.find(kid, algorithm).is_some()
            || last_fetch.elapsed() < self.config.jwks_refresh_min
        {
            return current;
        }
        *last_fetch = Instant::now();
        match fetch_keys(&self.http, &self.jwks_uri).await {
            Ok(keys) => self.install(keys),
            Err(error) => {
                tracing::warn!(issuer = %self.config.issuer, %error, "keeping the known signing keys");
                current
            }
        }
    }

    /// Replaces the key set; tokens verified with the old set must be verified again.
    fn install(&self, keys: Vec<PublicKey>) -> Arc<KeySet> {
        let count = keys.len();
        let installed = {
            let mut current = self.keys.write().unwrap_or_else(PoisonError::into_inner);
            let next = Arc::new(KeySet {
                generation: current.generation + 1,
                keys,
            });
            *current = Arc::clone(&next);
            next
        };
        self.cache.clear();
        tracing::info!(issuer = %self.config.issuer, keys = count, "fetched the issuer's signing keys");
        installed
    }

    /// Signature, issuer, audience and times.
    fn verify(
        &self,
        token: &str,
        key: &PublicKey,
        algorithm: Algorithm,
    ) -> Result<Map<String, Value>, TokenError> {
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&self.config.audience);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = self.config.leeway_seconds;
        jsonwebtoken::decode::<Map<String, Value>>(token, &key.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|error| match error.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::ImmatureSignature => TokenError::NotYetValid,
                ErrorKind::InvalidIssuer => TokenError::WrongIssuer,
                ErrorKind::InvalidAudience => TokenError::WrongAudience,
                ErrorKind::MissingRequiredClaim(claim) if claim == "iss" => TokenError::WrongIssuer,
                ErrorKind::MissingRequiredClaim(claim) if claim == "aud" => {
                    TokenError::WrongAudience
                }
                _ => TokenError::Invalid,
            })
    }
}

/// `{issuer}/.well-known/openid-configuration`, without doubling a trailing `/` (OpenID
/// Connect Discovery §4).
fn discovery_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

/// The key set must be fetched over HTTP(S), and over HTTPS when the issuer is.
fn check_jwks_uri(issuer: &str, jwks_uri: &str) -> Result<(), String> {
    let url = reqwest::Url::parse(jwks_uri)
        .map_err(|error| format!("the jwks_uri {jwks_uri:?} is not a URL: {error}"))?;
    let issuer_is_https = issuer.starts_with("https://");
    match url.scheme() {
        "https" => Ok(()),
        "http" if !issuer_is_https => Ok(()),
        "http" => Err(format!(
            "the jwks_uri {jwks_uri:?} must use https like the issuer"
        )),
        _ => Err(format!(
            "the jwks_uri {jwks_uri:?} is not an http or https URL"
        )),
    }
}

async fn fetch_keys(http: &reqwest::Client, url: &str) -> Result<Vec<PublicKey>, OidcError> {
    let jwks_error = |reason: String| OidcError::Jwks {
        url: url.to_owned(),
        reason,
    };
    let document = fetch::json_object(http, url).await.map_err(jwks_error)?;
    fetch::signature_keys(&document).map_err(jwks_error)
}

/// The issuer's keys as last fetched; `generation` counts fetches, so verifications made
/// with an older set are not trusted from the cache.
struct KeySet {
    generation: u64,
    keys: Vec<PublicKey>,
}

impl KeySet {
    /// The key named `kid` that fits `algorithm`; without a `kid`, the only key that fits
    /// (with several, trying each would let one token probe them all).
    fn find(&self, kid: Option<&str>, algorithm: Algorithm) -> Option<&PublicKey> {
        let mut fitting = self.keys.iter().filter(|key| key.fits(algorithm));
        match kid {
            Some(kid) => fitting.find(|key| key.kid.as_deref() == Some(kid)),
            None => {
                let only = fitting.next()?;
                fitting.next().is_none().then_some(only)
            }
        }
    }
}

const CACHE_CAPACITY: usize = 10_000;

struct CachedAccess {
    access: Access,
    until: Instant,
    generation: u64,
}

/// Recently verified tokens, by SHA-256 of the token.
#[derive(Default)]
struct VerifiedCache {
    entries: Mutex<HashMap<[u8; 32], CachedAccess>>,
}

impl VerifiedCache {
    fn get(&self, token: &str, generation: u64) -> Option<Access> {
        let entries = self.entries.lock().ok()?;
        let cached = entries.get(&digest(token))?;
        (cached.generation == generation && Instant::now() < cached.until)
            .then(|| cached.access.clone())
    }

    /// Keeps `access` until `exp` or for [`crate::tokens::CACHE_TTL`], whichever is sooner.
    fn put(&self, token: &str, access: &Access, exp: Option<u64>, generation: u64) {
        let Some(exp) = exp else { return };
        let lifetime = Duration::from_secs(exp.saturating_sub(crate::tokens::now()))
            .min(crate::tokens::CACHE_TTL);
        if lifetime.is_zero() {
            return;
        }
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= CACHE_CAPACITY {
            let now = Instant::now();
            entries.retain(|_, cached| now < cached.until);
            if entries.len() >= CACHE_CAPACITY {
                entries.clear();
            }
        }
        entries.insert(
            digest(token),
            CachedAccess {
                access: access.clone(),
                until: Instant::now() + lifetime,
                generation,
            },
        );
    }

    fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_discovery_url_does_not_double_a_trailing_slash() {
        assert_eq!(
            discovery_url("https://tenant.example/"),
            "https://tenant.example/.well-known/openid-configuration"
        );
        assert_eq!(
            discovery_url("https://sso.example/realms/clinic"),
            "https://sso.example/realms/clinic/.well-known/openid-configuration"
        );
    }

    #[test]
    fn an_https_issuer_needs_an_https_key_set() {
        assert_eq!(check_jwks_uri("https://idp", "https://idp/certs"), Ok(()));
        assert_eq!(
            check_jwks_uri("http://127.0.0.1:1", "http://127.0.0.1:1/c"),
            Ok(())
        );
        assert_eq!(
            check_jwks_uri("https://idp", "http://idp/certs"),
            Err("the jwks_uri \"http://idp/certs\" must use https like the issuer".into())
        );
        assert_eq!(
            check_jwks_uri("https://idp", "file:///etc/passwd"),
            Err("the jwks_uri \"file:///etc/passwd\" is not an http or https URL".into())
        );
    }
}
