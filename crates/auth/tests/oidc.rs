//! `OidcVerifier` against a tiny identity provider on `127.0.0.1:0`, over real HTTP: discovery,
//! key rotation, and every way a token must be refused.

use axum::Router;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use medulla_access::{Grant, Interaction, Subject};
use medulla_auth::{OidcConfig, OidcError, OidcVerifier, TokenError};
use rand_core::OsRng;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const FHIR_BASE: &str = "https://fhir.example.org/fhir";
const REALM: &str = "/realms/clinic";

/// A signing key of the identity provider and its public JWK.
struct TestKey {
    kid: &'static str,
    algorithm: Algorithm,
    encoding: EncodingKey,
    jwk: Value,
    public_pem: Vec<u8>,
}

fn rsa_key(kid: &'static str) -> TestKey {
    use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
    let private = rsa::RsaPrivateKey::new(&mut OsRng, 2048).expect("RSA key");
    let pem = private.to_pkcs8_pem(LineEnding::LF).expect("PKCS#8 PEM");
    let public_pem = rsa::RsaPublicKey::from(&private)
        .to_public_key_pem(LineEnding::LF)
        .expect("public PEM")
        .into_bytes();
    let encoding = EncodingKey::from_rsa_pem(pem.as_bytes()).expect("encoding key");
    test_key(kid, Algorithm::RS256, encoding, public_pem)
}

fn ec_key(kid: &'static str) -> TestKey {
    use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
    let private = p256::SecretKey::random(&mut OsRng);
    let pem = private.to_pkcs8_pem(LineEnding::LF).expect("PKCS#8 PEM");
    let public_pem = private
        .public_key()
        .to_public_key_pem(LineEnding::LF)
        .expect("public PEM")
        .into_bytes();
    let encoding = EncodingKey::from_ec_pem(pem.as_bytes()).expect("encoding key");
    test_key(kid, Algorithm::ES256, encoding, public_pem)
}

fn test_key(
    kid: &'static str,
    algorithm: Algorithm,
    encoding: EncodingKey,
    public_pem: Vec<u8>,
) -> TestKey {
    let mut jwk = Jwk::from_encoding_key(&encoding, algorithm).expect("public JWK");
    jwk.common.key_id = Some(kid.to_owned());
    jwk.common.public_key_use = Some(jsonwebtoken::jwk::PublicKeyUse::Signature);
    TestKey {
        kid,
        algorithm,
        encoding,
        jwk: serde_json::to_value(jwk).expect("JWK as JSON"),
        public_pem,
    }
}

// RSA generation is slow in debug builds: two keys for the whole file.
static RSA_A: LazyLock<TestKey> = LazyLock::new(|| rsa_key("rsa-a"));
static RSA_B: LazyLock<TestKey> = LazyLock::new(|| rsa_key("rsa-b"));
static EC_A: LazyLock<TestKey> = LazyLock::new(|| ec_key("ec-a"));

/// What the identity provider serves; the key set can be swapped while it runs.
struct IdpState {
    announced_issuer: String,
    jwks_uri: String,
    jwks: Mutex<Value>,
    jwks_fetches: AtomicUsize,
}

struct Idp {
    issuer: String,
    state: Arc<IdpState>,
}

impl Idp {
    /// Serves the key set `keys` on a fresh port.
    async fn start(keys: &[&TestKey]) -> Idp {
        Idp::start_announcing(keys, None).await
    }

    /// Like `start`, but the discovery document names `announced` as its issuer.
    async fn start_announcing(keys: &[&TestKey], announced: Option<&str>) -> Idp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let address = listener.local_addr().expect("local address");
        let issuer = format!("http://{address}{REALM}");
        let state = Arc::new(IdpState {
            announced_issuer: announced.unwrap_or(&issuer).to_owned(),
            jwks_uri: format!("{issuer}/protocol/openid-connect/certs"),
            jwks: Mutex::new(jwks(keys)),
            jwks_fetches: AtomicUsize::new(0),
        });
        let app = Router::new()
            .route(
                &format!("{REALM}/.well-known/openid-configuration"),
                get(discovery),
            )
            .route(
                &format!("{REALM}/protocol/openid-connect/certs"),
                get(certs),
            )
            .with_state(Arc::clone(&state));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Idp { issuer, state }
    }

    fn serve_keys(&self, keys: &[&TestKey]) {
        *self.state.jwks.lock().expect("jwks lock") = jwks(keys);
    }

    fn serve_document(&self, document: Value) {
        *self.state.jwks.lock().expect("jwks lock") = document;
    }

    fn jwks_fetches(&self) -> usize {
        self.state.jwks_fetches.load(Ordering::SeqCst)
    }

    fn config(&self) -> OidcConfig {
        let mut config = OidcConfig::new(&self.issuer, FHIR_BASE);
        config
            .claims
            .role_scopes
            .insert("clinician".into(), "user/*.rs".into());
        config
    }

    async fn verifier(&self) -> OidcVerifier {
        OidcVerifier::discover(self.config())
            .await
            .expect("discovery succeeds")
    }

    /// Keycloak-shaped claims of a user token, valid for five minutes.
    fn claims(&self) -> Value {
        let now = now();
        json!({
            "iss": self.issuer,
            "sub": "f3a9c2e0-user",
            "aud": [FHIR_BASE, "account"],
            "exp": now + 300,
            "iat": now,
            "jti": "token-1",
            "azp": "web-app",
            "scope": "openid email patient/Observation.rs",
            "patient": "p1",
            "fhirUser": "https://fhir.example.org/fhir/Practitioner/pr1",
            "realm_access": {"roles": ["clinician", "offline_access"]},
        })
    }
}

fn jwks(keys: &[&TestKey]) -> Value {
    json!({"keys": keys.iter().map(|key| key.jwk.clone()).collect::<Vec<_>>()})
}

async fn discovery(State(state): State<Arc<IdpState>>) -> impl IntoResponse {
    let document = json!({
        "issuer": state.announced_issuer,
        "jwks_uri": state.jwks_uri,
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
    });
    ([(CONTENT_TYPE, "application/json")], document.to_string())
}

async fn certs(State(state): State<Arc<IdpState>>) -> impl IntoResponse {
    state.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    let body = state.jwks.lock().expect("jwks lock").to_string();
    ([(CONTENT_TYPE, "application/json")], body)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

fn sign(key: &TestKey, claims: &Value) -> String {
    let mut header = Header::new(key.algorithm);
    header.kid = Some(key.kid.to_owned());
    jsonwebtoken::encode(&header, claims, &key.encoding).expect("token signs")
}

fn encode_part(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

#[tokio::test]
async fn a_valid_rs256_token_maps_scopes_patient_roles_and_context() {
    let idp = Idp::start(&[&RSA_A, &EC_A]).await;
    let verifier = idp.verifier().await;
    let access = verifier
        .check(&sign(&RSA_A, &idp.claims()))
        .await
        .expect("valid token");
    assert_eq!(access.subject, Subject::User("f3a9c2e0-user".into()));
    assert_eq!(access.client_id.as_deref(), Some("web-app"));
    // `email` is not a SMART scope and is dropped; `user/*.rs` comes from the clinician role.
    assert_eq!(
        access.scopes.to_string(),
        "openid patient/Observation.rs user/*.rs"
    );
    assert_eq!(access.patient.as_deref(), Some("p1"));
    assert_eq!(access.encounter, None);
    assert_eq!(access.fhir_user.as_deref(), Some("Practitioner/pr1"));
    assert_eq!(
        access.roles,
        vec!["clinician".to_owned(), "offline_access".to_owned()]
    );
    assert_eq!(access.token_id.as_deref(), Some("token-1"));
    assert_eq!(access.decide("Condition", Interaction::Read), Grant::All);
    assert_eq!(
        access.decide("Condition", Interaction::Create),
        Grant::Denied
    );

    // The second check is answered from the cache, with the same result.
    let again = verifier
        .check(&sign(&RSA_A, &idp.claims()))
        .await
        .expect("valid token");
    assert_eq!(again.scopes, access.scopes);
    assert_eq!(idp.jwks_fetches(), 1);
}

#[tokio::test]
async fn a_valid_es256_client_credentials_token_is_a_client() {
    let idp = Idp::start(&[&RSA_A, &EC_A]).await;
    let verifier = idp.verifier().await;
    let mut claims = idp.claims();
    claims["sub"] = json!("backend-service");
    claims["azp"] = json!("backend-service");
    claims["aud"] = json!(FHIR_BASE);
    claims
        .as_object_mut()
        .expect("claims object")
        .remove("scope");
    claims["scp"] = json!(["system/Patient.rs", "system/Observation.rs"]);
    claims["realm_access"] = json!({"roles": []});
    let access = verifier
        .check(&sign(&EC_A, &claims))
        .await
        .expect("valid token");
    assert_eq!(access.subject, Subject::Client("backend-service".into()));
    assert_eq!(
        access.scopes.to_string(),
        "system/Patient.rs system/Observation.rs"
    );
    assert_eq!(access.roles, Vec::<String>::new());
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let idp = Idp::start(&[&RSA_A]).await;
    let verifier = idp.verifier().await;
    let mut claims = idp.claims();
    claims["exp"] = json!(now() - 3600);
    let result = verifier.check(&sign(&RSA_A, &claims)).await;
    assert_eq!(result.map(|a| a.subject), Err(TokenError::Expired));
}

#[tokio::test]
async fn a_token_not_yet_valid_is_refused() {
    let idp = Idp::start(&[&RSA_A]).await;
    let verifier = idp.verifier().await;
    let mut claims = idp.claims();
    claims["nbf"] = json!(now() + 3600);
    let result = verifier.check(&sign(&RSA_A, &claims)).await;
    assert_eq!(result.map(|a| a.subject), Err(TokenError::NotYetValid));
}

#[tokio::test]
async fn a_token_of_another_issuer_is_refused() {
    let idp = Idp::start(&[&RSA_A]).await;
    let verifier = idp.verifier().await;
    for issuer in [
        format!("{}/", idp.issuer),
        "https://evil.example".to_owned(),
    ] {
        let mut claims = idp.claims();
        claims["iss"] = json!(issuer);
        let result = verifier.check(&sign(&RSA_A, &claims)).await;
        assert_eq!(result.map(|a| a.subject), Err(TokenError::WrongIssuer));
    }
}

#[tokio::test]
async fn a_token_for_another_audience_is_refused() {
    let idp = Idp::start(&[&RSA_A]).await;
    let verifier = idp.verifier().await;
    for audience in [json!("account"), json!(["account", "other-app"])] {
        let mut claims = idp.claims();
        claims["aud"] = audience;
        let result = verifier.check(&sign(&RSA_A, &claims)).await;
        assert_eq!(result.map(|a| a.subject), Err(TokenError::WrongAudience));
    }
    let mut claims = idp.claims();
    claims.as_object_mut().expect("claims object").remove("aud");
    let result = verifier.check(&sign(&RSA_A, &claims)).await;
    assert_eq!(result.map(|a| a.subject), Err(TokenError::WrongAudience));
}

#[tokio::test]
async fn a_token_without_exp_or_sub_is_refused() {
    let idp = Idp::start(&[&RSA_A]).await;
    let verifier = idp.verifier().await;
    for claim in ["exp", "sub"] {
        let mut claims = idp.claims();
        claims.as_object_mut().expect("claims object").remove(claim);
        let result = verifier.check(&sign(&RSA_A, &claims)).await;
        assert_eq!(
            result.map(|a| a.subject),
            Err(TokenError::Invalid),
            "{claim}"
        );
    }
}

#[tokio::test]
async fn an_unsigned_alg_none_token_is_refused() {
    let idp = Idp::start(&[&RSA_A]).await;
    let verifier = idp.verifier().await;
    for alg in ["none", "None", "NONE"] {
        let header = json!({"alg": alg, "typ": "JWT", "kid": RSA_A.kid});
        let token = format!("{}.{}.", encode_part(&header), encode_part(&idp.claims()));
        let result = verifier.check(&token).await;
        assert_eq!(result.map(|a| a.subject), Err(TokenError::Invalid), "{alg}");
    }
}

#[tokio::test]
async fn an_hs256_token_signed_with_the_public_key_is_refused() {
    let idp = Idp::start(&[&RSA_A, &EC_A]).await;
    let verifier = idp.verifier().await;
    for key in [&*RSA_A, &*EC_A] {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(key.kid.to_owned());
        let secret = EncodingKey::from_secret(&key.public_pem);
        let token = jsonwebtoken::encode(&header, &idp.claims(), &secret).expect("HS256 signs");
        let result = verifier.check(&token).await;
        assert_eq!(
            result.map(|a| a.subject),
            Err(TokenError::Invalid),
            "{}",
            key.kid
        );
    }
}

#[tokio::test]
async fn an_algorithm_that_is_not_configured_or_does_not_fit_the_key_is_refused() {
    let idp = Idp::start(&[&RSA_A, &EC_A]).await;
    let mut config = idp.config();
    config.algorithms = vec![Algorithm::ES256];
    let verifier = OidcVerifier::discover(config).await.expect("discovery");
    let result = verifier.check(&sign(&RSA_A, &idp.claims())).await;
    assert_eq!(result.map(|a| a.subject), Err(TokenError::Invalid));

    // An ES256 token naming the RSA key's kid finds no fitting key.
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(RSA_A.kid.to_owned());
    let token = jsonwebtoken::encode(&header, &idp.claims(), &EC_A.encoding).expect("ES256 signs");
    let result = verifier.check(&token).await;
    assert_eq!(result.map(|a| a.subject), Err(TokenError::Invalid));
}

#[tokio::test]
async fn a_tampered_payload_is_refused() {
    let idp = Idp::start(&[&RSA_A]).await;
    let verifier = idp.verifier().await;
    let token = sign(&RSA_A, &idp.claims());
    let mut parts = token.split('.');
    let (header, _payload, signature) = (
        parts.next().expect("header"),
        parts.next().expect("payload"),
        parts.next().expect("signature"),
    );
    let mut claims = idp.claims();
    claims["scope"] = json!("system/*.cruds");
    let tampered = format!("{header}.{}.{signature}", encode_part(&claims));
    let result = verifier.check(&tampered).await;
    assert_eq!(result.map(|a| a.subject), Err(TokenError::Invalid));
    // The untouched token still passes: the refusal was the signature's.
    let access = verifier.check(&token).await.expect("original token");
    assert_eq!(access.subject, Subject::User("f3a9c2e0-user".into()));
}

#[tokio::test]
async fn an_unknown_kid_refetches_the_key_set_and_retired_keys_stop_working() {
    let idp = Idp::start(&[&RSA_A]).await;
    let mut config = idp.config();
    config.jwks_refresh_min = Duration::ZERO;
    let verifier = OidcVerifier::discover(config).await.expect("discovery");
    let old_token = sign(&RSA_A, &idp.claims());
    let access = verifier.check(&old_token).await.expect("old key works");
    assert_eq!(access.token_id.as_deref(), Some("token-1"));
    assert_eq!(idp.jwks_fetches(), 1);

    // The issuer rotates: key B replaces key A.
    idp.serve_keys(&[&RSA_B]);
    let new_token = sign(&RSA_B, &idp.claims());
    let access = verifier.check(&new_token).await.expect("rotated key works");
    assert_eq!(access.subject, Subject::User("f3a9c2e0-user".into()));
    assert_eq!(idp.jwks_fetches(), 2);

    // The old token was cached, but its key is gone from the new set: refused.
    let result = verifier.check(&old_token).await;
    assert_eq!(result.map(|a| a.subject), Err(TokenError::Invalid));
    let result = verifier.check(&new_token).await;
    assert_eq!(
        result.map(|a| a.subject),
        Ok(Subject::User("f3a9c2e0-user".into()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_checks_meeting_a_rotated_key_share_one_refetch() {
    let idp = Idp::start(&[&RSA_A]).await;
    let mut config = idp.config();
    config.jwks_refresh_min = Duration::ZERO;
    let verifier = Arc::new(OidcVerifier::discover(config).await.expect("discovery"));
    idp.serve_keys(&[&RSA_B]);
    // Sign first, so the checks start together rather than one signature apart.
    let tokens: Vec<String> = (0..8)
        .map(|index| {
            let mut claims = idp.claims();
            claims["jti"] = json!(format!("token-{index}"));
            sign(&RSA_B, &claims)
        })
        .collect();
    let checks: Vec<_> = tokens
        .into_iter()
        .map(|token| {
            let verifier = Arc::clone(&verifier);
            tokio::spawn(async move { verifier.check(&token).await.map(|a| a.token_id) })
        })
        .collect();
    for (index, check) in checks.into_iter().enumerate() {
        let token_id = check.await.expect("task completes");
        assert_eq!(token_id, Ok(Some(format!("token-{index}"))));
    }
    assert_eq!(idp.jwks_fetches(), 2, "discovery, then one refetch for all");
}

#[tokio::test]
async fn key_set_refetches_wait_for_jwks_refresh_min() {
    let idp = Idp::start(&[&RSA_A]).await;
    let verifier = idp.verifier().await; // jwks_refresh_min: 60 s
    idp.serve_keys(&[&RSA_B]);
    for _ in 0..3 {
        let result = verifier.check(&sign(&RSA_B, &idp.claims())).await;
        assert_eq!(result.map(|a| a.subject), Err(TokenError::Invalid));
    }
    assert_eq!(
        idp.jwks_fetches(),
        1,
        "no refetch within a minute of the last"
    );
    let still_known = verifier.check(&sign(&RSA_A, &idp.claims())).await;
    assert_eq!(
        still_known.map(|a| a.subject),
        Ok(Subject::User("f3a9c2e0-user".into()))
    );

    // An explicit refresh ignores the interval.
    verifier.refresh_keys().await.expect("refresh");
    assert_eq!(idp.jwks_fetches(), 2);
    let result = verifier.check(&sign(&RSA_B, &idp.claims())).await;
    assert_eq!(
        result.map(|a| a.subject),
        Ok(Subject::User("f3a9c2e0-user".into()))
    );
    let result = verifier.check(&sign(&RSA_A, &idp.claims())).await;
    assert_eq!(result.map(|a| a.subject), Err(TokenError::Invalid));
}

#[tokio::test]
async fn a_discovery_document_naming_another_issuer_fails_discovery() {
    let idp = Idp::start_announcing(&[&RSA_A], Some("https://sso.example.org/realms/clinic")).await;
    let error = OidcVerifier::discover(idp.config())
        .await
        .err()
        .expect("discovery fails");
    assert_eq!(
        error,
        OidcError::IssuerMismatch {
            url: format!("{}/.well-known/openid-configuration", idp.issuer),
            expected: idp.issuer.clone(),
            found: "https://sso.example.org/realms/clinic".into(),
        }
    );
    assert_eq!(idp.jwks_fetches(), 0);
}

#[tokio::test]
async fn an_issuer_that_is_down_fails_discovery_quickly() {
    // A port that was just free: nothing listens there.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    drop(listener);
    let issuer = format!("http://{address}{REALM}");
    let started = Instant::now();
    let error = OidcVerifier::discover(OidcConfig::new(&issuer, FHIR_BASE))
        .await
        .err()
        .expect("discovery fails");
    assert!(started.elapsed() < Duration::from_secs(5), "{error}");
    match &error {
        OidcError::Discovery { url, reason } => {
            assert_eq!(url, &format!("{issuer}/.well-known/openid-configuration"));
            assert!(reason.contains("connect"), "{reason}");
        }
        other => panic!("expected a discovery error, got {other:?}"),
    }
    assert!(
        error
            .to_string()
            .starts_with("cannot read the OpenID configuration at \"http://127.0.0.1:"),
        "{error}"
    );
}

#[tokio::test]
async fn an_issuer_that_never_answers_fails_discovery_after_the_timeout() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((connection, _)) = listener.accept().await {
            held.push(connection);
        }
    });
    let mut config = OidcConfig::new(&format!("http://{address}{REALM}"), FHIR_BASE);
    config.fetch_timeout = Duration::from_millis(500);
    let started = Instant::now();
    let error = OidcVerifier::discover(config)
        .await
        .err()
        .expect("discovery fails");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(400) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
    match error {
        OidcError::Discovery { reason, .. } => assert!(reason.starts_with("timed out"), "{reason}"),
        other => panic!("expected a discovery error, got {other:?}"),
    }
}

#[tokio::test]
async fn an_oversized_or_keyless_key_set_fails_discovery() {
    let idp = Idp::start(&[&RSA_A]).await;
    idp.serve_document(json!({"keys": [], "padding": "x".repeat(1024 * 1024 + 1)}));
    let error = OidcVerifier::discover(idp.config())
        .await
        .err()
        .expect("discovery fails");
    assert_eq!(
        error,
        OidcError::Jwks {
            url: format!("{}/protocol/openid-connect/certs", idp.issuer),
            reason: "the document is larger than 1048576 bytes".into(),
        }
    );

    // Only an encryption key and a symmetric key: nothing to verify signatures with.
    let mut encryption = RSA_A.jwk.clone();
    encryption["use"] = json!("enc");
    let symmetric = json!({"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"});
    idp.serve_document(json!({"keys": [encryption, symmetric]}));
    let error = OidcVerifier::discover(idp.config())
        .await
        .err()
        .expect("discovery fails");
    assert_eq!(
        error.to_string(),
        format!(
            "cannot read the issuer's key set at \"{}/protocol/openid-connect/certs\": the key set holds no usable signature key",
            idp.issuer
        )
    );
}
