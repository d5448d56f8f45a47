//! The built-in OAuth 2.0 / SMART App Launch 2.0 authorization server.
//!
//! Owns: the server's signing keys (`keys`), users and clients with their credentials and the
//! role → scope policy (`directory`), the grants of the token endpoint (authorization code
//! with PKCE S256, refresh tokens with rotation, client credentials with `private_key_jwt`
//! assertions in RS384/ES384), ID tokens, introspection (RFC 7662), revocation (RFC 7009),
//! login throttling, and [`AuthServer::check_bearer`], which turns a bearer token into the
//! [`medulla_access::Access`] a request runs with — or validates tokens of an external OpenID
//! Connect issuer instead ([`OidcVerifier`], `--auth oidc`).
//!
//! Codes, refresh tokens, used assertion ids and revocations are store records written inside
//! store jobs, so "use once" checks are atomic and survive restarts. Secrets are kept only as
//! digests (random secrets: SHA-256; passwords: Argon2id) and never logged.
//!
//! Does not: speak HTTP (the server crate maps requests and responses), decide what a scope
//! allows on a resource (`medulla-access` and the engine), or write audit records (the server
//! records the security events this crate reports).

mod directory;
mod error;
mod grants;
mod keys;
pub mod oidc;
mod prune;
pub mod secrets;
mod throttle;
mod tokens;

pub use directory::{
    Client, ClientKind, NewClient, Policy, Registered, User, add_user, client, clients,
    register_client, set_user_disabled, user, users,
};
pub use error::{DirectoryError, OAuthError, TokenError};
pub use grants::{
    AuthorizeFailure, AuthorizeRequest, ClientCredentials, LoginForm, LoginOutcome, TokenRequest,
    TokenResponse,
};
pub use keys::Keys;
pub use oidc::{ClaimMapping, OidcConfig, OidcError, OidcVerifier};
pub use prune::Pruned;
pub use tokens::AccessClaims;

use medulla_access::Access;
use medulla_store::Store;
use std::path::Path;
use std::sync::Arc;

/// Settings of the authorization server.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// This server's public base URL (`https://fhir.example.org`): the token issuer; the
    /// OAuth endpoints live under `{issuer}/auth/`.
    pub issuer: String,
    /// The FHIR base URL (`{issuer}/fhir`): the audience of access tokens and the `aud` a
    /// SMART app must send.
    pub fhir_base: String,
    /// Access-token lifetime in seconds.
    pub access_token_seconds: u64,
    /// Refresh-token lifetime in seconds (`offline_access`); `online_access` tokens get a
    /// twelfth of it.
    pub refresh_token_seconds: u64,
}

impl AuthConfig {
    /// Defaults for a server at `issuer` (one-hour access tokens, 30-day refresh tokens).
    pub fn new(issuer: &str) -> AuthConfig {
        let issuer = issuer.trim_end_matches('/').to_owned();
        AuthConfig {
            fhir_base: format!("{issuer}/fhir"),
            issuer,
            access_token_seconds: 3600,
            refresh_token_seconds: 30 * 24 * 3600,
        }
    }

    /// The token endpoint's URL: the audience of client assertions.
    pub fn token_endpoint(&self) -> String {
        format!("{}/auth/token", self.issuer)
    }
}

/// The authorization server's state.
pub struct AuthServer {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) keys: Keys,
    pub(crate) config: AuthConfig,
    pub(crate) policy: Policy,
    pub(crate) cache: tokens::TokenCache,
    pub(crate) throttle: throttle::Throttle,
}

impl AuthServer {
    /// Opens the keys and policy under `data_dir/auth` (creating the access-token key on first
    /// use) over `store`.
    ///
    /// # Errors
    /// The key folder cannot be created, a key cannot be read, or `roles.json` is invalid.
    pub fn open(
        data_dir: &Path,
        store: Arc<dyn Store>,
        config: AuthConfig,
    ) -> Result<AuthServer, DirectoryError> {
        let folder = data_dir.join("auth");
        let keys = Keys::open(&folder)?;
        let policy = Policy::load(&folder)?;
        Ok(AuthServer {
            store,
            keys,
            config,
            policy,
            cache: tokens::TokenCache::default(),
            throttle: throttle::Throttle::default(),
        })
    }

    /// The settings.
    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    /// The role policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The public signing keys (the JWKS endpoint).
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::to_value(self.keys.jwks()).unwrap_or_default()
    }

    /// `/.well-known/smart-configuration` (SMART App Launch 2.0) and, with the same content
    /// where the names agree, `/.well-known/openid-configuration`.
    pub fn smart_configuration(&self) -> serde_json::Value {
        let issuer = &self.config.issuer;
        serde_json::json!({
            "issuer": issuer,
            "jwks_uri": format!("{issuer}/auth/jwks"),
            "authorization_endpoint": format!("{issuer}/auth/authorize"),
            "token_endpoint": self.config.token_endpoint(),
            "introspection_endpoint": format!("{issuer}/auth/introspect"),
            "revocation_endpoint": format!("{issuer}/auth/revoke"),
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "response_types_supported": ["code"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_basic", "client_secret_post", "none"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "subject_types_supported": ["public"],
            "scopes_supported": [
                "openid", "fhirUser", "profile", "launch", "launch/patient", "launch/encounter",
                "offline_access", "online_access", "patient/*.rs", "user/*.cruds", "system/*.rs",
                "patient/*.read", "user/*.read", "user/*.write", "system/*.read"
            ],
            "code_challenge_methods_supported": ["S256"],
            "capabilities": [
                "launch-ehr", "launch-standalone", "client-public", "client-confidential-symmetric",
                "client-confidential-asymmetric", "context-ehr-patient", "context-ehr-encounter",
                "context-standalone-patient", "permission-offline", "permission-online",
                "permission-patient", "permission-user", "permission-v1", "permission-v2",
                "sso-openid-connect", "authorize-post"
            ]
        })
    }

    /// Checks a bearer token and returns the access it grants.
    ///
    /// # Errors
    /// Why the token is refused: malformed, bad signature or algorithm, wrong issuer or
    /// audience, expired, not yet valid, revoked, or its user or client disabled.
    pub fn check_bearer(&self, token: &str) -> Result<Access, TokenError> {
        if let Some(claims) = self.cache.get(token) {
            return Ok(claims.to_access());
        }
        let claims = tokens::decode(
            &self.keys,
            token,
            &self.config.issuer,
            &self.config.fhir_base,
            true,
        )?;
        self.check_still_valid(&claims)?;
        self.cache.put(token, &claims);
        Ok(claims.to_access())
    }

    /// Revocation, and the token's user and client still enabled.
    fn check_still_valid(&self, claims: &AccessClaims) -> Result<(), TokenError> {
        let revoked = self
            .store
            .record(grants::REVOKED, &claims.jti)
            .map_err(|_| TokenError::Invalid)?
            .is_some();
        // A reused authorization code or refresh token, or a revoked refresh token, revokes
        // the access tokens of its grant family too.
        let family_revoked = match &claims.fam {
            Some(family) => self
                .store
                .record(grants::FAMILY_REVOKED, family)
                .map_err(|_| TokenError::Invalid)?
                .is_some(),
            None => false,
        };
        if revoked || family_revoked {
            return Err(TokenError::Revoked);
        }
        let client_ok = directory::client(&*self.store, &claims.client_id)
            .ok()
            .flatten()
            .is_some_and(|client| !client.disabled);
        let user_ok = claims.kind == "client"
            || directory::user(&*self.store, &claims.sub)
                .ok()
                .flatten()
                .is_some_and(|user| !user.disabled);
        if client_ok && user_ok {
            Ok(())
        } else {
            Err(TokenError::Revoked)
        }
    }

    /// Forgets cached checks of `name`'s tokens (after disabling a user or client in-process).
    pub fn forget_subject(&self, name: &str) {
        self.cache.forget_subject(name);
    }
}

#[cfg(test)]
mod tests;
