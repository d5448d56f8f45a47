//! Users, clients and the role → scope policy, kept as store records (`auth-user`,
//! `auth-client`) so they are written durably with the same discipline as resources.

use crate::error::DirectoryError;
use crate::secrets;
use medulla_access::ScopeSet;
use medulla_store::Store;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

pub(crate) const USER: &str = "auth-user";
pub(crate) const CLIENT: &str = "auth-client";

/// Whether `name` is a resource type (for scope parsing).
pub(crate) fn is_resource_type(name: &str) -> bool {
    medulla_model::definitions().is_resource_type(name)
}

/// A person who can log in.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct User {
    /// Login name.
    pub name: String,
    /// Role (a key of the policy: `clinician`, `patient`, `auditor`, `admin` …).
    pub role: String,
    /// The patient this user is (role `patient`): their tokens are limited to this compartment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient: Option<String>,
    /// `fhirUser` (`Practitioner/123`), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fhir_user: Option<String>,
    /// Argon2id PHC string; never shown.
    #[serde(default, skip_serializing)]
    pub password: String,
    /// Disabled users cannot log in and their tokens stop working.
    #[serde(default)]
    pub disabled: bool,
}

/// Stored form of a user (the password hash is serialized here, not in [`User`]'s listing).
#[derive(Serialize, Deserialize)]
struct StoredUser {
    name: String,
    role: String,
    #[serde(default)]
    patient: Option<String>,
    #[serde(default)]
    fhir_user: Option<String>,
    password: String,
    #[serde(default)]
    disabled: bool,
}

/// How a client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ClientKind {
    /// No secret (browser or native app); PKCE protects its codes.
    Public,
    /// A shared secret (`client_secret_basic` or `client_secret_post`).
    Symmetric,
    /// A JWT assertion signed with a key from its registered JWKS (`private_key_jwt`).
    Asymmetric,
}

impl ClientKind {
    /// Parses `public`, `symmetric` or `asymmetric`.
    pub fn parse(text: &str) -> Option<ClientKind> {
        match text {
            "public" => Some(ClientKind::Public),
            "symmetric" => Some(ClientKind::Symmetric),
            "asymmetric" => Some(ClientKind::Asymmetric),
            _ => None,
        }
    }
}

/// A registered application.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Client {
    /// The id it sends as `client_id` (and `iss`/`sub` of its assertions).
    pub client_id: String,
    /// A human name, shown on the consent page.
    pub name: String,
    /// How it authenticates.
    pub kind: ClientKind,
    /// SHA-256 of its secret (symmetric clients); never shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_digest: Option<String>,
    /// Its public keys (asymmetric clients), a JWKS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<serde_json::Value>,
    /// Exact redirect URIs allowed in the authorization code flow.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// The most it may be granted (space-separated scopes).
    pub scope: String,
    /// Disabled clients get no tokens and their tokens stop working.
    #[serde(default)]
    pub disabled: bool,
}

/// A new client's credentials, printed once by `medulla client register`.
#[derive(Debug, Clone, Serialize)]
pub struct Registered {
    /// The client id.
    pub client_id: String,
    /// The secret (symmetric clients only); stored only as a digest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// The client as stored.
    pub client: Client,
}

/// Roles and the scopes each may be granted.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Policy {
    /// Role name → space-separated scopes.
    pub roles: BTreeMap<String, String>,
}

impl Default for Policy {
    fn default() -> Policy {
        let launch = "openid fhirUser profile launch launch/patient launch/encounter offline_access online_access";
        let roles = [
            ("admin", format!("user/*.cruds {launch}")),
            ("clinician", format!("user/*.cruds {launch}")),
            (
                "patient",
                "patient/*.rs openid fhirUser profile launch/patient offline_access online_access"
                    .to_owned(),
            ),
            (
                "auditor",
                "user/AuditEvent.rs openid fhirUser profile".to_owned(),
            ),
        ];
        Policy {
            roles: roles
                .into_iter()
                .map(|(role, scopes)| (role.to_owned(), scopes))
                .collect(),
        }
    }
}

impl Policy {
    /// The built-in policy, replaced by `folder/roles.json` when that file exists
    /// (`{"roles": {"clinician": "user/*.cruds openid …"}}`).
    ///
    /// # Errors
    /// The file exists but is not valid JSON of that shape, or names unknown scopes.
    pub fn load(folder: &Path) -> Result<Policy, DirectoryError> {
        let path = folder.join("roles.json");
        let policy = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice::<Policy>(&bytes).map_err(|error| {
                DirectoryError::Invalid(format!("{} is not a role policy: {error}", path.display()))
            })?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Policy::default(),
            Err(error) => {
                return Err(DirectoryError::Io(format!(
                    "cannot read {}: {error}",
                    path.display()
                )));
            }
        };
        for (role, scopes) in &policy.roles {
            ScopeSet::parse(scopes, &is_resource_type).map_err(|error| {
                DirectoryError::Invalid(format!("role {role} in {}: {error}", path.display()))
            })?;
        }
        Ok(policy)
    }

    /// The scopes `role` may be granted (none for an unknown role).
    pub fn scopes(&self, role: &str) -> ScopeSet {
        self.roles
            .get(role)
            .map(|scopes| ScopeSet::parse_lenient(scopes, &is_resource_type).0)
            .unwrap_or_default()
    }
}

fn check_name(kind: &str, name: &str) -> Result<(), DirectoryError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@'));
    if ok {
        Ok(())
    } else {
        Err(DirectoryError::Invalid(format!(
            "{kind} {name:?}: use 1-64 letters, digits, '-', '_', '.' or '@'"
        )))
    }
}

/// Adds a user with an Argon2id-hashed password.
///
/// # Errors
/// Bad name or role, a weak password (under 8 characters), an existing name, or storage.
pub async fn add_user(
    store: &dyn Store,
    policy: &Policy,
    user: User,
    password: &str,
) -> Result<User, DirectoryError> {
    check_name("user name", &user.name)?;
    if !policy.roles.contains_key(&user.role) {
        return Err(DirectoryError::Invalid(format!(
            "unknown role {:?}; roles: {}",
            user.role,
            policy.roles.keys().cloned().collect::<Vec<_>>().join(", ")
        )));
    }
    if user.role == "patient" && user.patient.is_none() {
        return Err(DirectoryError::Invalid(
            "a user with role patient needs --patient ID".into(),
        ));
    }
    if password.chars().count() < 8 {
        return Err(DirectoryError::Invalid(
            "the password must have at least 8 characters".into(),
        ));
    }
    let stored = StoredUser {
        name: user.name.clone(),
        role: user.role.clone(),
        patient: user.patient.clone(),
        fhir_user: user.fhir_user.clone(),
        password: secrets::hash_password(password).map_err(DirectoryError::Invalid)?,
        disabled: false,
    };
    let value = serde_json::to_vec(&stored).map_err(|e| DirectoryError::Io(e.to_string()))?;
    let name = user.name.clone();
    medulla_store::write(store, move |tx| {
        if tx.record(USER, &name)?.is_some() {
            return Err(DirectoryError::Exists(format!("user {name}")));
        }
        tx.put_record(USER, &name, &value, None)?;
        Ok(())
    })
    .wait()
    .await?;
    Ok(User {
        password: String::new(),
        disabled: false,
        ..user
    })
}

/// The user `name` with its password hash, if it exists.
///
/// # Errors
/// Storage failures.
pub fn user(store: &dyn Store, name: &str) -> Result<Option<User>, DirectoryError> {
    let Some(record) = store.record(USER, name)? else {
        return Ok(None);
    };
    let stored: StoredUser = serde_json::from_slice(&record.value)
        .map_err(|error| DirectoryError::Io(format!("user record {name} unreadable: {error}")))?;
    Ok(Some(User {
        name: stored.name,
        role: stored.role,
        patient: stored.patient,
        fhir_user: stored.fhir_user,
        password: stored.password,
        disabled: stored.disabled,
    }))
}

/// Every user (without password hashes), by name.
///
/// # Errors
/// Storage failures.
pub fn users(store: &dyn Store) -> Result<Vec<User>, DirectoryError> {
    let mut users = Vec::new();
    for record in all_records(store, USER)? {
        if let Some(mut user) = user(store, &record)? {
            user.password.clear();
            users.push(user);
        }
    }
    users.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(users)
}

fn all_records(store: &dyn Store, kind: &str) -> Result<Vec<String>, DirectoryError> {
    let mut keys = Vec::new();
    let mut after = 0;
    loop {
        let page = store.records(kind, after, 500)?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        keys.extend(page.into_iter().map(|record| record.key));
    }
    Ok(keys)
}

/// Disables (or re-enables) a user: no logins, and their tokens are refused from then on.
///
/// # Errors
/// Unknown user or storage.
pub async fn set_user_disabled(
    store: &dyn Store,
    name: &str,
    disabled: bool,
) -> Result<(), DirectoryError> {
    let name = name.to_owned();
    medulla_store::write(store, move |tx| {
        let record = tx
            .record(USER, &name)?
            .ok_or_else(|| DirectoryError::NotFound(format!("user {name}")))?;
        let mut stored: StoredUser = serde_json::from_slice(&record.value)
            .map_err(|error| DirectoryError::Io(error.to_string()))?;
        stored.disabled = disabled;
        let value = serde_json::to_vec(&stored).map_err(|e| DirectoryError::Io(e.to_string()))?;
        tx.put_record(USER, &name, &value, None)?;
        Ok(())
    })
    .wait()
    .await
}

/// What `medulla client register` asks for.
#[derive(Debug, Clone)]
pub struct NewClient {
    /// Human name.
    pub name: String,
    /// How it authenticates.
    pub kind: ClientKind,
    /// Its JWKS (asymmetric).
    pub jwks: Option<serde_json::Value>,
    /// Allowed redirect URIs.
    pub redirect_uris: Vec<String>,
    /// The most it may be granted.
    pub scope: String,
}

/// Registers a client; returns its id and, for symmetric clients, its secret (shown once).
///
/// # Errors
/// Unknown scopes, a JWKS without usable keys, a missing JWKS for an asymmetric client,
/// redirect URIs that are not absolute `http(s)` URLs, or storage.
pub async fn register_client(
    store: &dyn Store,
    new: NewClient,
) -> Result<Registered, DirectoryError> {
    if new.name.trim().is_empty() {
        return Err(DirectoryError::Invalid("the client needs a --name".into()));
    }
    let scopes = ScopeSet::parse(&new.scope, &is_resource_type)
        .map_err(|error| DirectoryError::Invalid(error.to_string()))?;
    if scopes.is_empty() {
        return Err(DirectoryError::Invalid("the client needs --scope".into()));
    }
    for uri in &new.redirect_uris {
        let ok = (uri.starts_with("https://") || uri.starts_with("http://")) && !uri.contains('#');
        if !ok {
            return Err(DirectoryError::Invalid(format!(
                "redirect URI {uri:?} must be an absolute http(s) URL without a fragment"
            )));
        }
    }
    let jwks = match (new.kind, new.jwks) {
        (ClientKind::Asymmetric, Some(jwks)) => {
            let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks.clone())
                .map_err(|error| DirectoryError::Invalid(format!("not a JWKS: {error}")))?;
            let usable = set
                .keys
                .iter()
                .filter(|key| jsonwebtoken::DecodingKey::from_jwk(key).is_ok())
                .count();
            if usable == 0 {
                return Err(DirectoryError::Invalid(
                    "the JWKS has no usable public key (RSA or EC P-384/P-256)".into(),
                ));
            }
            Some(jwks)
        }
        (ClientKind::Asymmetric, None) => {
            return Err(DirectoryError::Invalid(
                "an asymmetric client needs --jwks FILE".into(),
            ));
        }
        (_, Some(_)) => {
            return Err(DirectoryError::Invalid(
                "--jwks is only for asymmetric clients".into(),
            ));
        }
        (_, None) => None,
    };
    let client_secret = (new.kind == ClientKind::Symmetric).then(secrets::random_token);
    let client = Client {
        client_id: uuid::Uuid::new_v4().to_string(),
        name: new.name,
        kind: new.kind,
        secret_digest: client_secret.as_deref().map(secrets::digest),
        jwks,
        redirect_uris: new.redirect_uris,
        scope: scopes.to_string(),
        disabled: false,
    };
    let value = serde_json::to_vec(&client).map_err(|e| DirectoryError::Io(e.to_string()))?;
    let id = client.client_id.clone();
    medulla_store::write(store, move |tx| -> Result<(), DirectoryError> {
        tx.put_record(CLIENT, &id, &value, None)?;
        Ok(())
    })
    .wait()
    .await?;
    Ok(Registered {
        client_id: client.client_id.clone(),
        client_secret,
        client,
    })
}

/// The client `client_id`, if registered.
///
/// # Errors
/// Storage failures.
pub fn client(store: &dyn Store, client_id: &str) -> Result<Option<Client>, DirectoryError> {
    let Some(record) = store.record(CLIENT, client_id)? else {
        return Ok(None);
    };
    serde_json::from_slice(&record.value)
        .map(Some)
        .map_err(|error| DirectoryError::Io(format!("client record unreadable: {error}")))
}

/// Every client, by name.
///
/// # Errors
/// Storage failures.
pub fn clients(store: &dyn Store) -> Result<Vec<Client>, DirectoryError> {
    let mut clients = Vec::new();
    for id in all_records(store, CLIENT)? {
        if let Some(client) = client(store, &id)? {
            clients.push(client);
        }
    }
    clients.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(clients)
}
