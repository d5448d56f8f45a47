//! The settings of an external OpenID Connect issuer, read from `DATA/auth/oidc.json`.

use super::OidcError;
use jsonwebtoken::{Algorithm, AlgorithmFamily};
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// How bearer tokens of an external issuer are checked and mapped (see the module docs for
/// the JSON form).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OidcConfig {
    /// The issuer's identifier, compared exactly (a trailing `/` matters) with the discovery
    /// document's `issuer` and every token's `iss`.
    pub issuer: String,
    /// Accepted `aud` values; a token must name at least one. [`OidcConfig::load`] fills in
    /// the FHIR base URL when the list is empty, and [`OidcVerifier::discover`] refuses an
    /// empty list.
    ///
    /// [`OidcVerifier::discover`]: super::OidcVerifier::discover
    pub audience: Vec<String>,
    /// Which claims hold the subject, scopes, launch context and roles.
    pub claims: ClaimMapping,
    /// Accepted signature algorithms (`alg`). HMAC algorithms (`HS256` …) are refused:
    /// they would make the issuer's public key a shared secret.
    pub algorithms: Vec<Algorithm>,
    /// Allowed clock difference for `exp` and `nbf`, in seconds.
    pub leeway_seconds: u64,
    /// The least time between two fetches of the key set (JSON: seconds), so tokens with
    /// made-up key ids cannot make us hammer the issuer.
    #[serde(
        rename = "jwks_refresh_min_seconds",
        deserialize_with = "deserialize_seconds"
    )]
    pub jwks_refresh_min: Duration,
    /// How long one fetch (discovery document or key set) may take (JSON: seconds).
    #[serde(
        rename = "fetch_timeout_seconds",
        deserialize_with = "deserialize_seconds"
    )]
    pub fetch_timeout: Duration,
}

impl Default for OidcConfig {
    fn default() -> OidcConfig {
        OidcConfig {
            issuer: String::new(),
            audience: Vec::new(),
            claims: ClaimMapping::default(),
            algorithms: vec![
                Algorithm::RS256,
                Algorithm::RS384,
                Algorithm::RS512,
                Algorithm::ES256,
                Algorithm::ES384,
                Algorithm::PS256,
            ],
            leeway_seconds: 30,
            jwks_refresh_min: Duration::from_secs(60),
            fetch_timeout: Duration::from_secs(5),
        }
    }
}

impl OidcConfig {
    /// Defaults for tokens of `issuer` meant for the FHIR server at `fhir_base`.
    pub fn new(issuer: &str, fhir_base: &str) -> OidcConfig {
        OidcConfig {
            issuer: issuer.to_owned(),
            audience: vec![fhir_base.to_owned()],
            ..OidcConfig::default()
        }
    }

    /// Reads `data_dir/auth/oidc.json` if it exists (else starts from the defaults), then
    /// lets `issuer` (the `--oidc-issuer` flag) override the file's issuer and fills an empty
    /// audience with `fhir_base`.
    ///
    /// # Errors
    /// The file cannot be read or is not a valid configuration, or no issuer is given
    /// either way.
    pub fn load(
        data_dir: &Path,
        issuer: Option<&str>,
        fhir_base: &str,
    ) -> Result<OidcConfig, OidcError> {
        let path = data_dir.join("auth").join("oidc.json");
        let mut config = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice::<OidcConfig>(&bytes).map_err(|error| {
                OidcError::Config(format!("invalid {}: {error}", path.display()))
            })?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => OidcConfig::default(),
            Err(error) => {
                return Err(OidcError::Config(format!(
                    "cannot read {}: {error}",
                    path.display()
                )));
            }
        };
        if let Some(issuer) = issuer {
            issuer.clone_into(&mut config.issuer);
        }
        if config.audience.is_empty() {
            config.audience.push(fhir_base.to_owned());
        }
        config.check()?;
        Ok(config)
    }

    /// Refuses settings that would make every token fail or weaken the checks.
    pub(crate) fn check(&self) -> Result<(), OidcError> {
        if self.issuer.is_empty() {
            return Err(OidcError::Config("no OpenID Connect issuer is set".into()));
        }
        if self.audience.is_empty() {
            return Err(OidcError::Config(
                "no accepted audience is set: tokens meant for any client of the issuer would be accepted".into(),
            ));
        }
        if self.audience.iter().any(String::is_empty) {
            return Err(OidcError::Config("an accepted audience is empty".into()));
        }
        if self.algorithms.is_empty() {
            return Err(OidcError::Config(
                "no signature algorithm is accepted".into(),
            ));
        }
        if let Some(hmac) = self
            .algorithms
            .iter()
            .find(|alg| alg.family() == AlgorithmFamily::Hmac)
        {
            return Err(OidcError::Config(format!(
                "algorithm {hmac:?} is not allowed for an external issuer: use RS256, ES256 or PS256"
            )));
        }
        if self.claims.subject.is_empty() {
            return Err(OidcError::Config("the subject claim name is empty".into()));
        }
        Ok(())
    }
}

/// Which claims of the issuer's tokens carry what. Claim names may be dotted paths into
/// nested objects (`realm_access.roles`); a name that exists as written wins, so namespaced
/// claims such as `https://example.org/roles` work too.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClaimMapping {
    /// The user name or client id (`sub`; Keycloak users may prefer `preferred_username`).
    pub subject: String,
    /// Claims holding scopes, each a space-separated string or an array of strings
    /// (`scope`, `scp`).
    pub scope: Vec<String>,
    /// The launch patient's id (`patient`); `Patient/123` and absolute URLs are cut to `123`.
    pub patient: String,
    /// The launch encounter's id (`encounter`).
    pub encounter: String,
    /// The user's FHIR resource (`fhirUser`); an absolute URL is cut to its `Type/id` tail.
    pub fhir_user: String,
    /// The user's roles, an array of strings or one string (`realm_access.roles` for
    /// Keycloak realm roles, `roles` for Azure AD app roles).
    pub roles: String,
    /// Scopes granted in addition for each role (`"clinician": "user/*.rs"`), space-separated.
    pub role_scopes: BTreeMap<String, String>,
    /// Claims naming the OAuth client, first present wins (`azp`, `client_id`).
    pub client_id: Vec<String>,
    /// A claim telling user tokens from client tokens (`idtyp` in Azure AD). Without it, a
    /// token is a client's (client credentials) when its client id equals its subject.
    pub kind_claim: Option<String>,
    /// Values of `kind_claim` that mark a client token (`app`, `client`).
    pub client_kinds: Vec<String>,
}

impl Default for ClaimMapping {
    fn default() -> ClaimMapping {
        ClaimMapping {
            subject: "sub".into(),
            scope: vec!["scope".into(), "scp".into()],
            patient: "patient".into(),
            encounter: "encounter".into(),
            fhir_user: "fhirUser".into(),
            roles: "realm_access.roles".into(),
            role_scopes: BTreeMap::new(),
            client_id: vec!["azp".into(), "client_id".into()],
            kind_claim: None,
            client_kinds: vec!["app".into(), "client".into()],
        }
    }
}

fn deserialize_seconds<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    u64::deserialize(deserializer).map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_overrides_defaults_and_the_flag_overrides_the_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("auth")).expect("auth dir");
        std::fs::write(
            dir.path().join("auth/oidc.json"),
            r#"{
                "issuer": "https://file.example/realms/x",
                "claims": {"roles": "roles", "role_scopes": {"clinician": "user/*.rs"}},
                "algorithms": ["RS256"],
                "jwks_refresh_min_seconds": 300
            }"#,
        )
        .expect("write oidc.json");
        let config = OidcConfig::load(
            dir.path(),
            Some("https://flag.example/realms/y"),
            "https://fhir.example/fhir",
        )
        .expect("valid config");
        assert_eq!(config.issuer, "https://flag.example/realms/y");
        assert_eq!(
            config.audience,
            vec!["https://fhir.example/fhir".to_owned()]
        );
        assert_eq!(config.algorithms, vec![Algorithm::RS256]);
        assert_eq!(config.jwks_refresh_min, Duration::from_secs(300));
        assert_eq!(config.fetch_timeout, Duration::from_secs(5));
        assert_eq!(config.claims.roles, "roles");
        assert_eq!(config.claims.subject, "sub");
        assert_eq!(
            config
                .claims
                .role_scopes
                .get("clinician")
                .map(String::as_str),
            Some("user/*.rs")
        );
    }

    #[test]
    fn a_missing_file_gives_the_defaults() {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = OidcConfig::load(dir.path(), Some("https://idp"), "https://fhir/fhir")
            .expect("defaults");
        assert_eq!(config, OidcConfig::new("https://idp", "https://fhir/fhir"));
    }

    #[test]
    fn hmac_unknown_fields_and_a_missing_issuer_are_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let error = OidcConfig::load(dir.path(), None, "https://fhir/fhir").expect_err("no issuer");
        assert_eq!(error.to_string(), "no OpenID Connect issuer is set");

        std::fs::create_dir_all(dir.path().join("auth")).expect("auth dir");
        let file = dir.path().join("auth/oidc.json");
        std::fs::write(&file, r#"{"algorithms": ["HS256"]}"#).expect("write");
        let error = OidcConfig::load(dir.path(), Some("https://idp"), "https://fhir/fhir")
            .expect_err("hmac");
        assert!(error.to_string().contains("HS256"), "{error}");

        std::fs::write(&file, r#"{"audiences": ["x"]}"#).expect("write");
        let error = OidcConfig::load(dir.path(), Some("https://idp"), "https://fhir/fhir")
            .expect_err("typo");
        assert!(error.to_string().contains("audiences"), "{error}");
    }
}
