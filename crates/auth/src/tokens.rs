//! Access tokens: ES256 JWTs minted here and checked on every request, with a short cache so
//! a request costs a hash lookup, not a signature check.

use crate::error::TokenError;
use crate::keys::Keys;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Header, Validation};
use medulla_access::{Access, ScopeSet, Subject};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Seconds since the epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The claims of our access tokens.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    /// Issuer: this server's base URL.
    pub iss: String,
    /// Subject: the user name, or the client id for backend services.
    pub sub: String,
    /// Audience: the FHIR base URL.
    pub aud: String,
    /// Expiry (seconds since the epoch).
    pub exp: u64,
    /// Issued at.
    pub iat: u64,
    /// Token id (revocation and audit).
    pub jti: String,
    /// Granted scopes.
    pub scope: String,
    /// The client it was issued to.
    pub client_id: String,
    /// `user` or `client`.
    pub kind: String,
    /// Launch patient.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient: Option<String>,
    /// Launch encounter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encounter: Option<String>,
    /// The user's FHIR resource.
    #[serde(default, rename = "fhirUser", skip_serializing_if = "Option::is_none")]
    pub fhir_user: Option<String>,
    /// The user's roles.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// The grant family (one login: its authorization code and refresh tokens): revoking the
    /// family (a reused code or refresh token, RFC 7009 revocation) revokes this token too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fam: Option<String>,
}

impl AccessClaims {
    /// The access context these claims grant.
    pub fn to_access(&self) -> Access {
        let (scopes, _) = ScopeSet::parse_lenient(&self.scope, &crate::directory::is_resource_type);
        Access {
            subject: if self.kind == "client" {
                Subject::Client(self.sub.clone())
            } else {
                Subject::User(self.sub.clone())
            },
            client_id: Some(self.client_id.clone()),
            scopes,
            patient: self.patient.clone(),
            encounter: self.encounter.clone(),
            fhir_user: self.fhir_user.clone(),
            roles: self.roles.clone(),
            purpose_of_use: Vec::new(),
            token_id: Some(self.jti.clone()),
        }
    }
}

/// How long a checked token is trusted without re-checking revocation and the directory:
/// disabling a user or client from another process takes effect within this time.
pub(crate) const CACHE_TTL: Duration = Duration::from_secs(30);
const CACHE_CAPACITY: usize = 50_000;

struct Cached {
    claims: AccessClaims,
    checked: Instant,
}

/// Recently checked tokens.
#[derive(Default)]
pub(crate) struct TokenCache {
    entries: Mutex<HashMap<String, Cached>>,
}

impl TokenCache {
    pub(crate) fn get(&self, token: &str) -> Option<AccessClaims> {
        let entries = self.entries.lock().ok()?;
        let cached = entries.get(token)?;
        (cached.checked.elapsed() < CACHE_TTL && cached.claims.exp > now())
            .then(|| cached.claims.clone())
    }

    pub(crate) fn put(&self, token: &str, claims: &AccessClaims) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= CACHE_CAPACITY {
                entries.retain(|_, cached| cached.checked.elapsed() < CACHE_TTL);
                if entries.len() >= CACHE_CAPACITY {
                    entries.clear();
                }
            }
            entries.insert(
                token.to_owned(),
                Cached {
                    claims: claims.clone(),
                    checked: Instant::now(),
                },
            );
        }
    }

    pub(crate) fn forget_jti(&self, jti: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|_, cached| cached.claims.jti != jti);
        }
    }

    pub(crate) fn forget_subject(&self, sub: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|_, cached| cached.claims.sub != sub && cached.claims.client_id != sub);
        }
    }
}

/// Signs access-token claims.
///
/// # Errors
/// Only if signing fails (a broken key).
pub(crate) fn sign(keys: &Keys, claims: &AccessClaims) -> Result<String, String> {
    let key = keys.access();
    let mut header = Header::new(key.algorithm);
    header.kid = Some(key.kid.clone());
    header.typ = Some("at+jwt".into());
    jsonwebtoken::encode(&header, claims, &key.encoding).map_err(|error| error.to_string())
}

/// Checks signature, algorithm, issuer, audience and times of one of our access tokens.
/// `check_exp` is off only for revocation, which must accept expired tokens.
pub(crate) fn decode(
    keys: &Keys,
    token: &str,
    issuer: &str,
    audience: &str,
    check_exp: bool,
) -> Result<AccessClaims, TokenError> {
    let key = keys.access();
    // Only the algorithm of our key: `none`, HS256 signed with our public key and every other
    // substitution fail here, before any signature check.
    let mut validation = Validation::new(key.algorithm);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.validate_nbf = true;
    validation.validate_exp = check_exp;
    validation.leeway = 5;
    let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
    if header.kid.as_deref().is_some_and(|kid| kid != key.kid) {
        return Err(TokenError::Invalid);
    }
    jsonwebtoken::decode::<AccessClaims>(token, &key.decoding, &validation)
        .map(|data| data.claims)
        .map_err(|error| match error.kind() {
            ErrorKind::ExpiredSignature => TokenError::Expired,
            ErrorKind::ImmatureSignature => TokenError::NotYetValid,
            ErrorKind::InvalidIssuer => TokenError::WrongIssuer,
            ErrorKind::InvalidAudience => TokenError::WrongAudience,
            _ => TokenError::Invalid,
        })
}
