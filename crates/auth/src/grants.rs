//! The token endpoint's grants, the authorization (login and consent) step, introspection,
//! revocation and EHR launch contexts.

use crate::AuthServer;
use crate::directory::{self, Client, ClientKind, is_resource_type};
use crate::error::OAuthError;
use crate::secrets;
use crate::tokens::{self, AccessClaims, now};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use medulla_access::{Access, Context, Scope, ScopeSet};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Record kinds.
pub(crate) const CODE: &str = "auth-code";
pub(crate) const REFRESH: &str = "auth-refresh";
pub(crate) const FAMILY_REVOKED: &str = "auth-family-revoked";
pub(crate) const REVOKED: &str = "auth-revoked";
pub(crate) const ASSERTION: &str = "auth-assertion-jti";
pub(crate) const REQUEST: &str = "auth-request";
pub(crate) const LAUNCH: &str = "auth-launch";

const CODE_SECONDS: u64 = 60;
const REQUEST_SECONDS: u64 = 600;
const LAUNCH_SECONDS: u64 = 600;
/// Client assertions may live at most this long (SMART Backend Services: five minutes).
const ASSERTION_MAX_SECONDS: u64 = 300;
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A token request: the form fields and the HTTP Basic credentials, if any.
#[derive(Debug, Clone, Default)]
pub struct TokenRequest {
    /// `application/x-www-form-urlencoded` fields (a repeated field is an error).
    pub form: HashMap<String, String>,
    /// `Authorization: Basic` client id and secret.
    pub basic: Option<ClientCredentials>,
}

/// Client id and secret from HTTP Basic authentication.
#[derive(Debug, Clone)]
pub struct ClientCredentials {
    /// The client id.
    pub client_id: String,
    /// The secret.
    pub secret: String,
}

/// A successful token response (RFC 6749 §5.1 plus SMART's launch context).
#[derive(Debug, Clone, Serialize)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// The granted scopes.
    pub scope: String,
    /// A refresh token (`offline_access` / `online_access`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// An ID token (`openid`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// Launch patient.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patient: Option<String>,
    /// Launch encounter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encounter: Option<String>,
    /// The claims of the access token (for the audit trail; not sent).
    #[serde(skip)]
    pub claims: Option<AccessClaims>,
}

/// What a refresh token or an authorization code stands for.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct GrantState {
    client_id: String,
    /// User name (`None` for client-only grants).
    user: Option<String>,
    scope: String,
    patient: Option<String>,
    encounter: Option<String>,
    fhir_user: Option<String>,
    roles: Vec<String>,
    /// Refresh tokens of one login share a family; reusing a rotated one revokes the family.
    family: String,
    expires: u64,
    #[serde(default)]
    used: bool,
    /// Codes only.
    #[serde(default)]
    redirect_uri: String,
    #[serde(default)]
    code_challenge: String,
    #[serde(default)]
    nonce: Option<String>,
    /// Refresh tokens: `offline_access` (long) or `online_access` (short).
    #[serde(default)]
    offline: bool,
}

/// A validated authorization request, waiting for the user's login and consent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthorizeRequest {
    /// Opaque id of this pending request (also the login form's CSRF token).
    pub id: String,
    /// The client.
    pub client_id: String,
    /// Its name, for the consent page.
    pub client_name: String,
    /// Where to send the code.
    pub redirect_uri: String,
    /// The scopes asked for.
    pub scope: String,
    /// Echoed to the client.
    pub state: Option<String>,
    /// PKCE S256 challenge.
    pub code_challenge: String,
    /// OpenID Connect nonce.
    pub nonce: Option<String>,
    /// EHR launch: the launch context's id.
    pub launch: Option<String>,
    /// Whether the user must pick a patient (standalone `launch/patient`).
    pub wants_patient: bool,
    /// Expiry.
    pub expires: u64,
}

/// The login and consent form, posted back.
#[derive(Debug, Clone, Default)]
pub struct LoginForm {
    /// The pending request's id.
    pub request_id: String,
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
    /// Whether the user approved.
    pub approve: bool,
    /// The patient picked (standalone launch with `launch/patient`).
    pub patient: Option<String>,
    /// The caller's address (throttling).
    pub address: String,
}

/// What happens after a login form is posted.
#[derive(Debug, Clone)]
pub enum LoginOutcome {
    /// Send the browser here (the client's redirect URI with a code or an error).
    Redirect {
        /// The URL.
        location: String,
        /// The user who logged in, if the login succeeded (audit).
        user: Option<String>,
    },
    /// Show the form again with this message (wrong password, throttled, patient missing).
    Retry {
        /// The message.
        message: String,
        /// The pending request.
        request: Box<AuthorizeRequest>,
        /// Whether this was a failed login (audit).
        failed_login: bool,
    },
}

fn redirect_with(uri: &str, pairs: &[(&str, &str)]) -> String {
    let mut location = uri.to_owned();
    for (index, (name, value)) in pairs.iter().enumerate() {
        let separator = if index == 0 && !uri.contains('?') {
            '?'
        } else {
            '&'
        };
        location.push(separator);
        location.push_str(name);
        location.push('=');
        location.push_str(&form_encode(value));
    }
    location
}

/// Percent-encodes for a query string.
pub(crate) fn form_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Failure of the authorization endpoint's first step.
#[derive(Debug, Clone)]
pub enum AuthorizeFailure {
    /// The client or redirect URI cannot be trusted: show an error page, never redirect.
    Page(String),
    /// Redirect to the client with `error` (and `state`).
    Redirect(String),
}

impl AuthServer {
    fn field<'a>(request: &'a TokenRequest, name: &str) -> Option<&'a str> {
        request
            .form
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn require<'a>(request: &'a TokenRequest, name: &str) -> Result<&'a str, OAuthError> {
        Self::field(request, name)
            .ok_or_else(|| OAuthError::invalid_request(format!("missing {name}")))
    }

    /// The token endpoint.
    ///
    /// # Errors
    /// The RFC 6749 error to return.
    pub async fn token(&self, request: &TokenRequest) -> Result<TokenResponse, OAuthError> {
        let grant_type = Self::require(request, "grant_type")?;
        match grant_type {
            "client_credentials" => self.client_credentials(request).await,
            "authorization_code" => self.authorization_code(request).await,
            "refresh_token" => self.refresh(request).await,
            other => Err(OAuthError::unsupported_grant_type(other)),
        }
    }

    /// Authenticates the client of a token, introspection or revocation request.
    /// `allow_public` admits public clients that only name themselves.
    pub(crate) async fn authenticate_client(
        &self,
        request: &TokenRequest,
        allow_public: bool,
    ) -> Result<Client, OAuthError> {
        if let Some(assertion_type) = Self::field(request, "client_assertion_type") {
            if assertion_type != ASSERTION_TYPE {
                return Err(OAuthError::invalid_client(format!(
                    "client_assertion_type must be {ASSERTION_TYPE}"
                )));
            }
            let assertion = Self::require(request, "client_assertion")
                .map_err(|_| OAuthError::invalid_client("missing client_assertion"))?;
            return self.check_assertion(assertion).await;
        }
        let (client_id, secret) = match (&request.basic, Self::field(request, "client_id")) {
            (Some(basic), _) => (basic.client_id.as_str(), Some(basic.secret.as_str())),
            (None, Some(client_id)) => (client_id, Self::field(request, "client_secret")),
            (None, None) => return Err(OAuthError::invalid_client("no client authentication")),
        };
        let client = directory::client(&*self.store, client_id)
            .map_err(|_| OAuthError::server_error())?
            .filter(|client| !client.disabled)
            .ok_or_else(|| OAuthError::invalid_client("unknown or disabled client"))?;
        match (client.kind, secret) {
            (ClientKind::Symmetric, Some(secret)) => {
                let expected = client.secret_digest.as_deref().unwrap_or_default();
                if secrets::constant_time_eq(&secrets::digest(secret), expected) {
                    Ok(client)
                } else {
                    Err(OAuthError::invalid_client("wrong client secret"))
                }
            }
            (ClientKind::Public, None) if allow_public => Ok(client),
            (ClientKind::Public, _) => Err(OAuthError::invalid_client(
                "a public client cannot use this endpoint this way",
            )),
            (ClientKind::Symmetric, None) => {
                Err(OAuthError::invalid_client("the client secret is missing"))
            }
            (ClientKind::Asymmetric, _) => Err(OAuthError::invalid_client(
                "this client authenticates with a private_key_jwt assertion",
            )),
        }
    }

    /// Checks a `private_key_jwt` client assertion: RS384 or ES384 only, signed by a key of
    /// the client's registered JWKS, `iss` = `sub` = client id, `aud` = the token endpoint,
    /// `exp` in the future but at most five minutes away, and a `jti` never seen before.
    async fn check_assertion(&self, assertion: &str) -> Result<Client, OAuthError> {
        let header = jsonwebtoken::decode_header(assertion)
            .map_err(|_| OAuthError::invalid_client("the client assertion is not a JWT"))?;
        if !matches!(header.alg, Algorithm::RS384 | Algorithm::ES384) {
            return Err(OAuthError::invalid_client(
                "client assertions must be signed with RS384 or ES384",
            ));
        }
        // The issuer names the client whose keys verify the signature; nothing else of the
        // unverified claims is trusted.
        let unverified: HashMap<String, serde_json::Value> =
            jsonwebtoken::dangerous::insecure_decode(assertion)
                .map(|data| data.claims)
                .map_err(|_| OAuthError::invalid_client("the client assertion is not a JWT"))?;
        let client_id = unverified
            .get("iss")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| OAuthError::invalid_client("the client assertion has no iss"))?
            .to_owned();
        let client = directory::client(&*self.store, &client_id)
            .map_err(|_| OAuthError::server_error())?
            .filter(|client| !client.disabled && client.kind == ClientKind::Asymmetric)
            .ok_or_else(|| {
                OAuthError::invalid_client("unknown, disabled or non-asymmetric client")
            })?;
        let jwks: jsonwebtoken::jwk::JwkSet = client
            .jwks
            .clone()
            .and_then(|jwks| serde_json::from_value(jwks).ok())
            .ok_or_else(|| OAuthError::invalid_client("the client has no usable JWKS"))?;
        let candidates: Vec<&jsonwebtoken::jwk::Jwk> = match &header.kid {
            Some(kid) => jwks.find(kid).into_iter().collect(),
            None => jwks.keys.iter().collect(),
        };
        let mut validation = Validation::new(header.alg);
        validation.set_audience(&[self.config.token_endpoint()]);
        validation.set_issuer(&[&client_id]);
        validation.sub = Some(client_id.clone());
        validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
        validation.leeway = 5;
        validation.validate_nbf = true;
        let mut claims: Option<HashMap<String, serde_json::Value>> = None;
        let mut last_error = "no key of the client's JWKS matches the assertion".to_owned();
        for jwk in candidates {
            let Ok(key) = DecodingKey::from_jwk(jwk) else {
                continue;
            };
            match jsonwebtoken::decode::<HashMap<String, serde_json::Value>>(
                assertion,
                &key,
                &validation,
            ) {
                Ok(data) => {
                    claims = Some(data.claims);
                    break;
                }
                Err(error) => last_error = format!("the client assertion is invalid: {error}"),
            }
        }
        let claims = claims.ok_or_else(|| OAuthError::invalid_client(last_error))?;
        let exp = claims.get("exp").and_then(json_u64).unwrap_or(0);
        if exp > now() + ASSERTION_MAX_SECONDS + 5 {
            return Err(OAuthError::invalid_client(
                "the client assertion's exp is more than five minutes away",
            ));
        }
        let jti = claims
            .get("jti")
            .and_then(serde_json::Value::as_str)
            .filter(|jti| !jti.is_empty())
            .ok_or_else(|| OAuthError::invalid_client("the client assertion has no jti"))?;
        // Remember the jti until the assertion expires: a replay inside that window fails.
        let key = format!("{client_id} {jti}");
        let value = exp.to_string().into_bytes();
        let fresh = medulla_store::write(&*self.store, move |tx| -> Result<bool, OAuthError> {
            if let Some(seen) = tx.record(ASSERTION, &key)? {
                let until: u64 = String::from_utf8_lossy(&seen.value)
                    .parse()
                    .unwrap_or(u64::MAX);
                if until + 10 > now() {
                    return Ok(false);
                }
            }
            tx.put_record(ASSERTION, &key, &value, None)?;
            Ok(true)
        })
        .wait()
        .await?;
        if !fresh {
            return Err(OAuthError::invalid_client(
                "this client assertion (jti) was already used",
            ));
        }
        Ok(client)
    }

    fn parse_scope(text: &str) -> Result<ScopeSet, OAuthError> {
        let (scopes, dropped) = ScopeSet::parse_lenient(text, &is_resource_type);
        if scopes.is_empty() {
            return Err(OAuthError::invalid_scope(if dropped.is_empty() {
                "no scope asked for".to_owned()
            } else {
                format!("no known scope among {}", dropped.join(" "))
            }));
        }
        Ok(scopes)
    }

    fn client_scopes(client: &Client) -> ScopeSet {
        ScopeSet::parse_lenient(&client.scope, &is_resource_type).0
    }

    /// SMART Backend Services: `client_credentials` with a client assertion (or a secret).
    async fn client_credentials(
        &self,
        request: &TokenRequest,
    ) -> Result<TokenResponse, OAuthError> {
        let client = self.authenticate_client(request, false).await?;
        let asked = Self::parse_scope(Self::require(request, "scope")?)?;
        // Only `system/` resource scopes make sense without a user.
        let system_only = ScopeSet::from_scopes(
            asked
                .scopes()
                .iter()
                .filter(|scope| matches!(scope, Scope::Resource(r) if r.context == Context::System))
                .cloned()
                .collect(),
        );
        let granted = system_only.restrict_to(&Self::client_scopes(&client));
        if granted.is_empty() {
            return Err(OAuthError::invalid_scope(
                "none of the scopes asked for is a system scope this client may be granted",
            ));
        }
        let state = GrantState {
            client_id: client.client_id.clone(),
            user: None,
            scope: granted.to_string(),
            patient: None,
            encounter: None,
            fhir_user: None,
            roles: Vec::new(),
            family: String::new(),
            expires: 0,
            used: false,
            redirect_uri: String::new(),
            code_challenge: String::new(),
            nonce: None,
            offline: false,
        };
        self.respond(&state, None).await
    }

    /// Issues the access token (and refresh and ID tokens when the scopes ask for them).
    async fn respond(
        &self,
        state: &GrantState,
        family: Option<String>,
    ) -> Result<TokenResponse, OAuthError> {
        let issued = now();
        let scopes = ScopeSet::parse_lenient(&state.scope, &is_resource_type).0;
        let claims = AccessClaims {
            iss: self.config.issuer.clone(),
            sub: state
                .user
                .clone()
                .unwrap_or_else(|| state.client_id.clone()),
            aud: self.config.fhir_base.clone(),
            exp: issued + self.config.access_token_seconds,
            iat: issued,
            jti: uuid::Uuid::new_v4().to_string(),
            scope: state.scope.clone(),
            client_id: state.client_id.clone(),
            kind: if state.user.is_some() {
                "user"
            } else {
                "client"
            }
            .to_owned(),
            patient: state.patient.clone(),
            encounter: state.encounter.clone(),
            fhir_user: state.fhir_user.clone(),
            roles: state.roles.clone(),
            fam: family.clone().filter(|family| !family.is_empty()),
        };
        let access_token = tokens::sign(&self.keys, &claims).map_err(|error| {
            tracing::error!(%error, "cannot sign an access token");
            OAuthError::server_error()
        })?;
        let offline = scopes.contains(&Scope::OfflineAccess);
        let online = scopes.contains(&Scope::OnlineAccess);
        let refresh_token = match (state.user.is_some(), offline || online) {
            (true, true) => {
                let token = secrets::random_token();
                let lifetime = if offline {
                    self.config.refresh_token_seconds
                } else {
                    self.config.refresh_token_seconds / 12
                };
                let stored = GrantState {
                    family: family.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
                    expires: issued + lifetime,
                    used: false,
                    offline,
                    redirect_uri: String::new(),
                    code_challenge: String::new(),
                    nonce: None,
                    ..state.clone()
                };
                let value = serde_json::to_vec(&stored).map_err(|_| OAuthError::server_error())?;
                let key = secrets::digest(&token);
                medulla_store::write(&*self.store, move |tx| -> Result<(), OAuthError> {
                    tx.put_record(REFRESH, &key, &value, None)?;
                    Ok(())
                })
                .wait()
                .await?;
                Some(token)
            }
            _ => None,
        };
        let id_token = match (&state.user, scopes.contains(&Scope::OpenId)) {
            (Some(user), true) => Some(self.id_token(user, state, issued)?),
            _ => None,
        };
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: self.config.access_token_seconds,
            scope: state.scope.clone(),
            refresh_token,
            id_token,
            patient: state.patient.clone(),
            encounter: state.encounter.clone(),
            claims: Some(claims),
        })
    }

    fn id_token(&self, user: &str, state: &GrantState, issued: u64) -> Result<String, OAuthError> {
        let key = self.keys.id_token().map_err(|error| {
            tracing::error!(%error, "no ID token key");
            OAuthError::server_error()
        })?;
        let scopes = ScopeSet::parse_lenient(&state.scope, &is_resource_type).0;
        let mut claims = serde_json::json!({
            "iss": self.config.issuer,
            "sub": user,
            "aud": state.client_id,
            "exp": issued + self.config.access_token_seconds,
            "iat": issued,
        });
        if let Some(nonce) = &state.nonce {
            claims["nonce"] = serde_json::Value::String(nonce.clone());
        }
        let wants_user = scopes.contains(&Scope::FhirUser) || scopes.contains(&Scope::Profile);
        if let (true, Some(fhir_user)) = (wants_user, &state.fhir_user) {
            claims["fhirUser"] =
                serde_json::Value::String(format!("{}/{}", self.config.fhir_base, fhir_user));
        }
        let mut header = jsonwebtoken::Header::new(key.algorithm);
        header.kid = Some(key.kid.clone());
        jsonwebtoken::encode(&header, &claims, &key.encoding).map_err(|error| {
            tracing::error!(%error, "cannot sign an ID token");
            OAuthError::server_error()
        })
    }

    /// `authorization_code` with PKCE: the code is single-use (a second use revokes what the
    /// first issued), bound to its client and redirect URI, and valid for a minute.
    async fn authorization_code(
        &self,
        request: &TokenRequest,
    ) -> Result<TokenResponse, OAuthError> {
        let client = self.authenticate_client(request, true).await?;
        let code = Self::require(request, "code")?;
        let redirect_uri = Self::require(request, "redirect_uri")?.to_owned();
        let verifier = Self::require(request, "code_verifier")?.to_owned();
        let key = secrets::digest(code);
        let client_id = client.client_id.clone();
        // A refusal that must still commit (the revocation of a reused code's family) is the
        // inner error; the outer one rolls the job back.
        let state = medulla_store::write(
            &*self.store,
            move |tx| -> Result<Result<GrantState, OAuthError>, OAuthError> {
                let record = tx
                    .record(CODE, &key)?
                    .ok_or_else(|| OAuthError::invalid_grant("unknown authorization code"))?;
                let mut state: GrantState = serde_json::from_slice(&record.value)
                    .map_err(|_| OAuthError::server_error())?;
                if state.used {
                    // RFC 6749 §4.1.2: a reused code revokes the tokens it produced.
                    tx.put_record(FAMILY_REVOKED, &state.family, b"code reused", None)?;
                    return Ok(Err(OAuthError::invalid_grant(
                        "the authorization code was already used",
                    )));
                }
                state.used = true;
                let value = serde_json::to_vec(&state).map_err(|_| OAuthError::server_error())?;
                tx.put_record(CODE, &key, &value, None)?;
                Ok(Ok(state))
            },
        )
        .wait()
        .await??;
        if state.expires < now() {
            return Err(OAuthError::invalid_grant(
                "the authorization code has expired",
            ));
        }
        if state.client_id != client_id {
            return Err(OAuthError::invalid_grant(
                "the code was issued to another client",
            ));
        }
        if state.redirect_uri != redirect_uri {
            return Err(OAuthError::invalid_grant(
                "redirect_uri differs from the authorization request",
            ));
        }
        if !secrets::pkce_s256_matches(&verifier, &state.code_challenge) {
            return Err(OAuthError::invalid_grant(
                "code_verifier does not match the code_challenge",
            ));
        }
        let family = state.family.clone();
        self.respond(&state, Some(family)).await
    }

    /// `refresh_token`: rotation (the old token is spent; using a spent one revokes its whole
    /// family), the same client, and scopes that may narrow but never widen.
    async fn refresh(&self, request: &TokenRequest) -> Result<TokenResponse, OAuthError> {
        let client = self.authenticate_client(request, true).await?;
        let token = Self::require(request, "refresh_token")?;
        let key = secrets::digest(token);
        let client_id = client.client_id.clone();
        let asked = match Self::field(request, "scope") {
            Some(asked) => Some(
                ScopeSet::parse(asked, &is_resource_type)
                    .map_err(|error| OAuthError::invalid_scope(error.to_string()))?,
            ),
            None => None,
        };
        let state = medulla_store::write(
            &*self.store,
            move |tx| -> Result<Result<GrantState, OAuthError>, OAuthError> {
                let record = tx
                    .record(REFRESH, &key)?
                    .ok_or_else(|| OAuthError::invalid_grant("unknown refresh token"))?;
                let mut state: GrantState = serde_json::from_slice(&record.value)
                    .map_err(|_| OAuthError::server_error())?;
                if tx.record(FAMILY_REVOKED, &state.family)?.is_some() {
                    return Err(OAuthError::invalid_grant("the refresh token was revoked"));
                }
                if state.client_id != client_id {
                    return Err(OAuthError::invalid_grant(
                        "the refresh token belongs to another client",
                    ));
                }
                if state.used {
                    tx.put_record(FAMILY_REVOKED, &state.family, b"refresh token reused", None)?;
                    return Ok(Err(OAuthError::invalid_grant(
                        "the refresh token was already used; its family is revoked",
                    )));
                }
                if state.expires < now() {
                    return Err(OAuthError::invalid_grant("the refresh token has expired"));
                }
                // Checked before the token is spent: a refused escalation leaves it usable.
                let granted = ScopeSet::parse_lenient(&state.scope, &is_resource_type).0;
                if let Some(asked) = &asked
                    && !asked.is_within(&granted)
                {
                    return Err(OAuthError::invalid_scope(
                        "a refresh may narrow the granted scopes, never widen them",
                    ));
                }
                state.used = true;
                let value = serde_json::to_vec(&state).map_err(|_| OAuthError::server_error())?;
                tx.put_record(REFRESH, &key, &value, None)?;
                if let Some(asked) = asked {
                    state.scope = asked.to_string();
                }
                Ok(Ok(state))
            },
        )
        .wait()
        .await??;
        if let Some(user) = &state.user {
            let enabled = directory::user(&*self.store, user)
                .map_err(|_| OAuthError::server_error())?
                .is_some_and(|user| !user.disabled);
            if !enabled {
                return Err(OAuthError::invalid_grant("the user is disabled"));
            }
        }
        let family = state.family.clone();
        self.respond(&state, Some(family)).await
    }

    /// RFC 7662 introspection of an access or refresh token, for an authenticated client.
    ///
    /// # Errors
    /// Client authentication failures.
    pub async fn introspect(
        &self,
        request: &TokenRequest,
    ) -> Result<serde_json::Value, OAuthError> {
        self.authenticate_client(request, false).await?;
        let token = Self::require(request, "token")?;
        let inactive = serde_json::json!({ "active": false });
        if let Ok(access) = self.check_bearer(token) {
            let claims = tokens::decode(
                &self.keys,
                token,
                &self.config.issuer,
                &self.config.fhir_base,
                true,
            )
            .map_err(|_| OAuthError::server_error())?;
            let mut answer =
                serde_json::to_value(&claims).map_err(|_| OAuthError::server_error())?;
            answer["active"] = serde_json::Value::Bool(true);
            answer["token_type"] = serde_json::Value::String("Bearer".into());
            if let medulla_access::Subject::User(name) = &access.subject {
                answer["username"] = serde_json::Value::String(name.clone());
            }
            return Ok(answer);
        }
        let Some(record) = self.store.record(REFRESH, &secrets::digest(token))? else {
            return Ok(inactive);
        };
        let state: GrantState =
            serde_json::from_slice(&record.value).map_err(|_| OAuthError::server_error())?;
        let revoked = self.store.record(FAMILY_REVOKED, &state.family)?.is_some();
        if state.used || revoked || state.expires < now() {
            return Ok(inactive);
        }
        Ok(serde_json::json!({
            "active": true,
            "scope": state.scope,
            "client_id": state.client_id,
            "username": state.user,
            "exp": state.expires,
            "token_type": "refresh_token",
        }))
    }

    /// RFC 7009 revocation: an access token is refused from now on (its `jti` is recorded); a
    /// refresh token's whole family is revoked. Unknown tokens are not an error.
    ///
    /// # Errors
    /// Client authentication failures.
    pub async fn revoke(&self, request: &TokenRequest) -> Result<(), OAuthError> {
        let client = self.authenticate_client(request, true).await?;
        let token = Self::require(request, "token")?;
        if let Ok(claims) = tokens::decode(
            &self.keys,
            token,
            &self.config.issuer,
            &self.config.fhir_base,
            false,
        ) {
            if claims.client_id != client.client_id {
                return Ok(());
            }
            let jti = claims.jti.clone();
            let value = claims.exp.to_string().into_bytes();
            medulla_store::write(&*self.store, move |tx| -> Result<(), OAuthError> {
                tx.put_record(REVOKED, &jti, &value, None)?;
                Ok(())
            })
            .wait()
            .await?;
            self.cache.forget_jti(&claims.jti);
            return Ok(());
        }
        if let Some(record) = self.store.record(REFRESH, &secrets::digest(token))? {
            let state: GrantState =
                serde_json::from_slice(&record.value).map_err(|_| OAuthError::server_error())?;
            if state.client_id == client.client_id {
                let family = state.family;
                medulla_store::write(&*self.store, move |tx| -> Result<(), OAuthError> {
                    tx.put_record(FAMILY_REVOKED, &family, b"revoked", None)?;
                    Ok(())
                })
                .wait()
                .await?;
            }
        }
        Ok(())
    }

    /// EHR launch: a logged-in user opens an app for a patient (and encounter); the app gets
    /// the returned `launch` id and sends it to the authorization endpoint.
    ///
    /// # Errors
    /// The caller is not a user, or storage failed.
    pub async fn create_launch(
        &self,
        access: &Access,
        patient: Option<String>,
        encounter: Option<String>,
    ) -> Result<String, OAuthError> {
        let medulla_access::Subject::User(user) = &access.subject else {
            return Err(OAuthError::access_denied(
                "only a logged-in user can launch an app",
            ));
        };
        let id = secrets::random_token();
        let value = serde_json::to_vec(&serde_json::json!({
            "user": user,
            "patient": patient,
            "encounter": encounter,
            "expires": now() + LAUNCH_SECONDS,
        }))
        .map_err(|_| OAuthError::server_error())?;
        let key = id.clone();
        medulla_store::write(&*self.store, move |tx| -> Result<(), OAuthError> {
            tx.put_record(LAUNCH, &key, &value, None)?;
            Ok(())
        })
        .wait()
        .await?;
        Ok(id)
    }

    /// The authorization endpoint's first step: checks the request and keeps it for the
    /// login form.
    ///
    /// # Errors
    /// An error page for an unknown client or redirect URI (never redirect there), else a
    /// redirect carrying the OAuth error.
    pub async fn begin_authorize(
        &self,
        params: &HashMap<String, String>,
    ) -> Result<AuthorizeRequest, AuthorizeFailure> {
        let get = |name: &str| {
            params
                .get(name)
                .map(String::as_str)
                .filter(|v| !v.is_empty())
        };
        let client_id = get("client_id")
            .ok_or_else(|| AuthorizeFailure::Page("the request has no client_id".into()))?;
        let client = directory::client(&*self.store, client_id)
            .map_err(|_| AuthorizeFailure::Page("the authorization server failed".into()))?
            .filter(|client| !client.disabled)
            .ok_or_else(|| AuthorizeFailure::Page("unknown or disabled client".into()))?;
        let redirect_uri = match get("redirect_uri") {
            Some(uri) if client.redirect_uris.iter().any(|known| known == uri) => uri.to_owned(),
            Some(_) => {
                return Err(AuthorizeFailure::Page(
                    "redirect_uri is not registered for this client".into(),
                ));
            }
            None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
            None => {
                return Err(AuthorizeFailure::Page(
                    "the request has no redirect_uri".into(),
                ));
            }
        };
        let state = get("state").map(str::to_owned);
        let fail = |code: &str, description: &str| {
            let mut pairs = vec![("error", code), ("error_description", description)];
            if let Some(state) = &state {
                pairs.push(("state", state.as_str()));
            }
            AuthorizeFailure::Redirect(redirect_with(&redirect_uri, &pairs))
        };
        if get("response_type") != Some("code") {
            return Err(fail(
                "unsupported_response_type",
                "response_type must be code",
            ));
        }
        let Some(challenge) = get("code_challenge") else {
            return Err(fail(
                "invalid_request",
                "PKCE is required: send code_challenge",
            ));
        };
        if get("code_challenge_method") != Some("S256") {
            return Err(fail(
                "invalid_request",
                "code_challenge_method must be S256",
            ));
        }
        match get("aud") {
            Some(aud) if aud.trim_end_matches('/') == self.config.fhir_base => {}
            _ => {
                return Err(fail(
                    "invalid_request",
                    "aud must be this server's FHIR base URL",
                ));
            }
        }
        let scope = get("scope").unwrap_or_default();
        let scopes = ScopeSet::parse_lenient(scope, &is_resource_type).0;
        if scopes.is_empty() {
            return Err(fail("invalid_scope", "no known scope asked for"));
        }
        let launch = get("launch").map(str::to_owned);
        if launch.is_some() && !scopes.contains(&Scope::Launch) {
            return Err(fail(
                "invalid_scope",
                "a launch parameter needs the launch scope",
            ));
        }
        let request = AuthorizeRequest {
            id: secrets::random_token(),
            client_id: client.client_id.clone(),
            client_name: client.name.clone(),
            redirect_uri,
            scope: scopes.to_string(),
            state,
            code_challenge: challenge.to_owned(),
            nonce: get("nonce").map(str::to_owned),
            wants_patient: launch.is_none() && scopes.contains(&Scope::LaunchPatient),
            launch,
            expires: now() + REQUEST_SECONDS,
        };
        let value = serde_json::to_vec(&request)
            .map_err(|_| AuthorizeFailure::Page("the authorization server failed".into()))?;
        let key = request.id.clone();
        medulla_store::write(&*self.store, move |tx| -> Result<(), OAuthError> {
            tx.put_record(REQUEST, &key, &value, None)?;
            Ok(())
        })
        .wait()
        .await
        .map_err(|_| AuthorizeFailure::Page("the authorization server failed".into()))?;
        Ok(request)
    }

    /// The pending authorization request `id`, if it exists and has not expired.
    pub fn pending_request(&self, id: &str) -> Option<AuthorizeRequest> {
        let record = self.store.record(REQUEST, id).ok()??;
        let request: AuthorizeRequest = serde_json::from_slice(&record.value).ok()?;
        (request.expires >= now()).then_some(request)
    }

    /// The login form's post: checks throttling and the password, then the consent, and
    /// redirects to the client with a code (or `access_denied`).
    ///
    /// # Errors
    /// An error page text when the pending request is unknown or expired.
    pub async fn finish_authorize(&self, form: &LoginForm) -> Result<LoginOutcome, String> {
        let request = self
            .pending_request(&form.request_id)
            .ok_or_else(|| "this login form has expired; start again from the app".to_owned())?;
        let deny = |description: &str| {
            let mut pairs = vec![
                ("error", "access_denied"),
                ("error_description", description),
            ];
            if let Some(state) = &request.state {
                pairs.push(("state", state.as_str()));
            }
            redirect_with(&request.redirect_uri, &pairs)
        };
        if !form.approve {
            self.spend_request(&request.id).await;
            return Ok(LoginOutcome::Redirect {
                location: deny("the user declined"),
                user: None,
            });
        }
        let user_key = format!("user {}", form.username);
        let address_key = format!("address {}", form.address);
        let wait = self
            .throttle
            .wait_for(&user_key)
            .max(self.throttle.wait_for(&address_key));
        if !wait.is_zero() {
            return Ok(LoginOutcome::Retry {
                message: format!(
                    "too many failed logins; try again in {} seconds",
                    wait.as_secs().max(1)
                ),
                request: Box::new(request),
                failed_login: true,
            });
        }
        let user = directory::user(&*self.store, &form.username)
            .map_err(|_| "the authorization server failed".to_owned())?;
        // Hash even for unknown users, so timing does not tell which names exist.
        static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let phc = user
            .as_ref()
            .map(|u| u.password.clone())
            .unwrap_or_else(|| {
                DUMMY
                    .get_or_init(|| secrets::hash_password("not a password").unwrap_or_default())
                    .clone()
            });
        let password_ok = secrets::verify_password(&form.password, &phc);
        let user = match user {
            Some(user) if password_ok && !user.disabled => user,
            _ => {
                self.throttle.failed(&user_key);
                self.throttle.failed(&address_key);
                return Ok(LoginOutcome::Retry {
                    message: "wrong user name or password".into(),
                    request: Box::new(request),
                    failed_login: true,
                });
            }
        };
        self.throttle.succeeded(&user_key);
        self.throttle.succeeded(&address_key);
        let client = directory::client(&*self.store, &request.client_id)
            .map_err(|_| "the authorization server failed".to_owned())?
            .filter(|client| !client.disabled)
            .ok_or_else(|| "the client was disabled".to_owned())?;
        let asked = ScopeSet::parse_lenient(&request.scope, &is_resource_type).0;
        let granted = asked
            .restrict_to(&Self::client_scopes(&client))
            .restrict_to(&self.policy.scopes(&user.role));
        if granted.resource_scopes().next().is_none() && !granted.contains(&Scope::OpenId) {
            self.spend_request(&request.id).await;
            return Ok(LoginOutcome::Redirect {
                location: deny("none of the scopes asked for is allowed for this user and app"),
                user: Some(user.name),
            });
        }
        // The patient: a patient user is their own; an EHR launch carries one; a standalone
        // launch asks the user.
        let (mut patient, mut encounter) = (user.patient.clone(), None);
        if let Some(launch) = &request.launch {
            let record = self
                .store
                .record(LAUNCH, launch)
                .map_err(|_| "the authorization server failed".to_owned())?;
            let context: Option<serde_json::Value> =
                record.and_then(|r| serde_json::from_slice(&r.value).ok());
            let Some(context) = context.filter(|c| c["expires"].as_u64().unwrap_or(0) >= now())
            else {
                self.spend_request(&request.id).await;
                return Ok(LoginOutcome::Redirect {
                    location: deny("unknown or expired launch"),
                    user: Some(user.name),
                });
            };
            if patient.is_none() {
                patient = context["patient"].as_str().map(str::to_owned);
            }
            encounter = context["encounter"].as_str().map(str::to_owned);
        } else if request.wants_patient && patient.is_none() {
            let chosen = form.patient.clone().filter(|p| !p.trim().is_empty());
            match chosen {
                Some(id)
                    if self
                        .store
                        .read("Patient", id.trim())
                        .ok()
                        .flatten()
                        .is_some_and(|r| r.body.is_some()) =>
                {
                    patient = Some(id.trim().to_owned());
                }
                _ => {
                    return Ok(LoginOutcome::Retry {
                        message: "choose an existing patient id".into(),
                        request: Box::new(request),
                        failed_login: false,
                    });
                }
            }
        }
        let code = secrets::random_token();
        let state = GrantState {
            client_id: client.client_id.clone(),
            user: Some(user.name.clone()),
            scope: granted.to_string(),
            patient,
            encounter,
            fhir_user: user.fhir_user.clone(),
            roles: vec![user.role.clone()],
            family: uuid::Uuid::new_v4().to_string(),
            expires: now() + CODE_SECONDS,
            used: false,
            redirect_uri: request.redirect_uri.clone(),
            code_challenge: request.code_challenge.clone(),
            nonce: request.nonce.clone(),
            offline: false,
        };
        let value =
            serde_json::to_vec(&state).map_err(|_| "the authorization server failed".to_owned())?;
        let key = secrets::digest(&code);
        let request_id = request.id.clone();
        medulla_store::write(&*self.store, move |tx| -> Result<(), OAuthError> {
            tx.put_record(CODE, &key, &value, None)?;
            tx.delete_record(REQUEST, &request_id)?;
            Ok(())
        })
        .wait()
        .await
        .map_err(|_| "the authorization server failed".to_owned())?;
        let mut pairs = vec![("code", code.as_str())];
        if let Some(state) = &request.state {
            pairs.push(("state", state.as_str()));
        }
        Ok(LoginOutcome::Redirect {
            location: redirect_with(&request.redirect_uri, &pairs),
            user: Some(user.name),
        })
    }

    async fn spend_request(&self, id: &str) {
        let id = id.to_owned();
        let _ = medulla_store::write(&*self.store, move |tx| -> Result<(), OAuthError> {
            tx.delete_record(REQUEST, &id)?;
            Ok(())
        })
        .wait()
        .await;
    }
}

fn json_u64(value: &serde_json::Value) -> Option<u64> {
    value
        .as_u64()
        .or_else(|| value.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
}
