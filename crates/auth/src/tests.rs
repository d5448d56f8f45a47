//! The authorization server's grants and token checks, negative cases first.

use super::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use std::collections::HashMap;

const ISSUER: &str = "http://127.0.0.1:8080";

struct Fixture {
    _dir: tempfile::TempDir,
    auth: AuthServer,
    store: Arc<dyn Store>,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let store: Arc<dyn Store> = Arc::new(
        medulla_store::SqliteStore::open(dir.path(), Default::default()).expect("store opens"),
    );
    let auth =
        AuthServer::open(dir.path(), store.clone(), AuthConfig::new(ISSUER)).expect("auth opens");
    Fixture {
        _dir: dir,
        auth,
        store,
    }
}

fn form(pairs: &[(&str, &str)]) -> TokenRequest {
    TokenRequest {
        form: pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        basic: None,
    }
}

/// A client's ES384 key pair: the private PEM and the public JWKS.
fn es384_key() -> (Vec<u8>, Value) {
    use p384::pkcs8::EncodePrivateKey;
    let secret = p384::SecretKey::random(&mut rand_core::OsRng);
    let pem = secret
        .to_pkcs8_pem(p384::pkcs8::LineEnding::LF)
        .expect("pem")
        .as_bytes()
        .to_vec();
    let mut jwk: Value = serde_json::from_str(&secret.public_key().to_jwk_string()).expect("jwk");
    jwk["kid"] = json!("es-1");
    jwk["alg"] = json!("ES384");
    (pem, json!({ "keys": [jwk] }))
}

fn rs384_key() -> (Vec<u8>, Value) {
    use base64::Engine as _;
    use rsa::pkcs1::EncodeRsaPrivateKey;
    use rsa::traits::PublicKeyParts;
    let private = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048).expect("rsa key");
    let pem = private
        .to_pkcs1_pem(rsa::pkcs1::LineEnding::LF)
        .expect("pem")
        .as_bytes()
        .to_vec();
    let b64 = |bytes: Vec<u8>| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let jwk = json!({
        "kty": "RSA", "kid": "rs-1", "alg": "RS384",
        "n": b64(private.n().to_bytes_be()), "e": b64(private.e().to_bytes_be()),
    });
    (pem, json!({ "keys": [jwk] }))
}

async fn register(f: &Fixture, kind: ClientKind, jwks: Option<Value>, scope: &str) -> Registered {
    register_client(
        &*f.store,
        NewClient {
            name: "test app".into(),
            kind,
            jwks,
            redirect_uris: vec!["http://127.0.0.1:9999/callback".into()],
            scope: scope.into(),
        },
    )
    .await
    .expect("client registers")
}

fn assertion(pem: &[u8], alg: Algorithm, kid: &str, claims: &Value) -> String {
    let key = match alg {
        Algorithm::RS384 => EncodingKey::from_rsa_pem(pem),
        _ => EncodingKey::from_ec_pem(pem),
    }
    .expect("key");
    let mut header = Header::new(alg);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(&header, claims, &key).expect("signs")
}

fn assertion_claims(client_id: &str, aud: &str, exp_in: i64) -> Value {
    let now = tokens::now() as i64;
    json!({
        "iss": client_id, "sub": client_id, "aud": aud,
        "exp": now + exp_in, "jti": uuid::Uuid::new_v4().to_string(),
    })
}

async fn backend_token(
    f: &Fixture,
    client_assertion: &str,
    scope: &str,
) -> Result<TokenResponse, OAuthError> {
    f.auth
        .token(&form(&[
            ("grant_type", "client_credentials"),
            ("scope", scope),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", client_assertion),
        ]))
        .await
}

#[tokio::test]
async fn backend_services_with_es384_and_rs384_assertions() {
    let f = fixture();
    let endpoint = f.auth.config().token_endpoint();
    for (alg, (pem, jwks), kid) in [
        (Algorithm::ES384, es384_key(), "es-1"),
        (Algorithm::RS384, rs384_key(), "rs-1"),
    ] {
        let client = register(&f, ClientKind::Asymmetric, Some(jwks), "system/*.rs").await;
        let id = &client.client_id;
        let signed = assertion(&pem, alg, kid, &assertion_claims(id, &endpoint, 240));
        let token = backend_token(
            &f,
            &signed,
            "system/Observation.rs system/Patient.cruds patient/*.rs",
        )
        .await
        .expect("token issued");
        // Narrowed to what the client may have; patient scopes make no sense without a user.
        assert_eq!(token.scope, "system/Observation.rs system/Patient.rs");
        assert!(token.refresh_token.is_none());
        let access = f
            .auth
            .check_bearer(&token.access_token)
            .expect("token accepted");
        assert_eq!(access.subject, medulla_access::Subject::Client(id.clone()));

        // The same assertion again: replay.
        let replay = backend_token(&f, &signed, "system/Observation.rs")
            .await
            .expect_err("replay");
        assert_eq!(replay.code, "invalid_client");
        assert!(replay.description.contains("already used"), "{replay}");

        for (claims, why) in [
            (
                assertion_claims(id, "http://elsewhere/token", 240),
                "wrong aud",
            ),
            (assertion_claims(id, &endpoint, -120), "expired"),
            (assertion_claims(id, &endpoint, 3600), "exp too far"),
            (
                assertion_claims("someone-else", &endpoint, 240),
                "unknown iss",
            ),
            (
                {
                    let mut c = assertion_claims(id, &endpoint, 240);
                    c["sub"] = json!("other");
                    c
                },
                "sub differs",
            ),
            (
                {
                    let mut c = assertion_claims(id, &endpoint, 240);
                    c.as_object_mut().expect("object").remove("jti");
                    c
                },
                "no jti",
            ),
        ] {
            let signed = assertion(&pem, alg, kid, &claims);
            let error = backend_token(&f, &signed, "system/Observation.rs")
                .await
                .expect_err(why);
            assert_eq!(error.code, "invalid_client", "{why}: {error}");
        }
    }
}

#[tokio::test]
async fn assertions_with_foreign_keys_or_weak_algorithms_are_refused() {
    let f = fixture();
    let endpoint = f.auth.config().token_endpoint();
    let (_, jwks) = es384_key();
    let client = register(&f, ClientKind::Asymmetric, Some(jwks), "system/*.rs").await;
    let claims = assertion_claims(&client.client_id, &endpoint, 240);
    // Signed by a key that is not the client's.
    let (other_pem, _) = es384_key();
    let foreign = assertion(&other_pem, Algorithm::ES384, "es-1", &claims);
    assert_eq!(
        backend_token(&f, &foreign, "system/*.rs")
            .await
            .expect_err("foreign")
            .code,
        "invalid_client"
    );
    // HS256 with a guessable secret, and `alg: none`.
    let hs = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(b"x"),
    )
    .expect("hs");
    assert!(
        backend_token(&f, &hs, "system/*.rs")
            .await
            .expect_err("hs256")
            .description
            .contains("RS384 or ES384")
    );
    let none = unsigned_jwt(&json!({"alg": "none", "typ": "JWT"}), &claims);
    assert_eq!(
        backend_token(&f, &none, "system/*.rs")
            .await
            .expect_err("none")
            .code,
        "invalid_client"
    );
}

fn unsigned_jwt(header: &Value, claims: &Value) -> String {
    use base64::Engine as _;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    format!("{}.{}.", b64(header), b64(claims))
}

/// A token of ours with some claims changed, re-signed with our key (to test claim checks).
fn our_token_with(f: &Fixture, change: impl FnOnce(&mut AccessClaims)) -> String {
    let now = tokens::now();
    let mut claims = AccessClaims {
        iss: ISSUER.into(),
        sub: "svc".into(),
        aud: f.auth.config().fhir_base.clone(),
        exp: now + 600,
        iat: now,
        jti: uuid::Uuid::new_v4().to_string(),
        scope: "system/*.rs".into(),
        client_id: "svc".into(),
        kind: "client".into(),
        patient: None,
        encounter: None,
        fhir_user: None,
        roles: vec![],
        fam: None,
    };
    change(&mut claims);
    tokens::sign(&f.auth.keys, &claims).expect("signs")
}

#[tokio::test]
async fn access_tokens_are_checked_strictly() {
    let f = fixture();
    let (pem, jwks) = es384_key();
    let client = register(&f, ClientKind::Asymmetric, Some(jwks), "system/*.rs").await;
    let endpoint = f.auth.config().token_endpoint();
    let signed = assertion(
        &pem,
        Algorithm::ES384,
        "es-1",
        &assertion_claims(&client.client_id, &endpoint, 240),
    );
    let token = backend_token(&f, &signed, "system/*.rs")
        .await
        .expect("token")
        .access_token;
    assert!(f.auth.check_bearer(&token).is_ok());

    let id = client.client_id.clone();
    let with = |change: fn(&mut AccessClaims)| {
        let id = id.clone();
        our_token_with(&f, move |c| {
            c.sub = id.clone();
            c.client_id = id;
            change(c);
        })
    };
    assert_eq!(
        f.auth
            .check_bearer(&with(|c| c.exp = tokens::now() - 60))
            .err(),
        Some(TokenError::Expired)
    );
    assert_eq!(
        f.auth
            .check_bearer(&with(|c| c.iss = "http://evil".into()))
            .err(),
        Some(TokenError::WrongIssuer)
    );
    assert_eq!(
        f.auth
            .check_bearer(&with(|c| c.aud = "http://other/fhir".into()))
            .err(),
        Some(TokenError::WrongAudience)
    );
    assert!(f.auth.check_bearer(&with(|_| {})).is_ok());

    // Not yet valid: `nbf` in the future (our tokens carry none; a forged one may).
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: Value = {
        use base64::Engine as _;
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(parts[1])
                .expect("b64"),
        )
        .expect("json")
    };
    claims["nbf"] = json!(tokens::now() + 3600);
    let key = f.auth.keys.access();
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(key.kid.clone());
    let future = jsonwebtoken::encode(&header, &claims, &key.encoding).expect("signs");
    assert_eq!(
        f.auth.check_bearer(&future).err(),
        Some(TokenError::NotYetValid)
    );

    // Tampered payload, `alg: none`, and HS256 "signed" with our public key.
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        unsigned_jwt(
            &json!({}),
            &json!({"sub": "admin", "scope": "system/*.cruds"})
        )
        .split('.')
        .nth(1)
        .expect("payload"),
        parts[2]
    );
    assert_eq!(
        f.auth.check_bearer(&tampered).err(),
        Some(TokenError::Invalid)
    );
    assert_eq!(
        f.auth
            .check_bearer(&unsigned_jwt(&json!({"alg": "none"}), &claims))
            .err(),
        Some(TokenError::Invalid)
    );
    let public = serde_json::to_vec(&f.auth.jwks()).expect("jwks");
    let hs = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(&public),
    )
    .expect("hs");
    assert_eq!(f.auth.check_bearer(&hs).err(), Some(TokenError::Invalid));
    assert_eq!(
        f.auth.check_bearer("not a jwt").err(),
        Some(TokenError::Invalid)
    );

    // Revoked by its client (RFC 7009): refused from then on, even though cached.
    let revoke = form(&[
        ("token", &token),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        (
            "client_assertion",
            &assertion(
                &pem,
                Algorithm::ES384,
                "es-1",
                &assertion_claims(&client.client_id, &endpoint, 240),
            ),
        ),
    ]);
    f.auth.revoke(&revoke).await.expect("revoked");
    assert_eq!(f.auth.check_bearer(&token).err(), Some(TokenError::Revoked));
}

async fn login_code(
    f: &Fixture,
    client_id: &str,
    scope: &str,
    user: &str,
    password: &str,
    patient: Option<&str>,
) -> Result<String, LoginOutcome> {
    let params: HashMap<String, String> = [
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", "http://127.0.0.1:9999/callback"),
        ("scope", scope),
        ("state", "xyz"),
        ("aud", &f.auth.config().fhir_base),
        (
            "code_challenge",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        ),
        ("code_challenge_method", "S256"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let request = f
        .auth
        .begin_authorize(&params)
        .await
        .expect("request accepted");
    let outcome = f
        .auth
        .finish_authorize(&LoginForm {
            request_id: request.id,
            username: user.into(),
            password: password.into(),
            approve: true,
            patient: patient.map(str::to_owned),
            address: "127.0.0.1".into(),
        })
        .await
        .expect("form accepted");
    match &outcome {
        LoginOutcome::Redirect { location, .. } if location.contains("code=") => {
            let code = location
                .split("code=")
                .nth(1)
                .and_then(|rest| rest.split('&').next())
                .expect("code");
            assert!(location.ends_with("&state=xyz"), "{location}");
            Ok(code.to_owned())
        }
        _ => Err(outcome),
    }
}

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

#[tokio::test]
async fn authorization_code_with_pkce_refresh_rotation_and_id_token() {
    let f = fixture();
    let client = register(
        &f,
        ClientKind::Public,
        None,
        "patient/*.rs launch/patient openid fhirUser offline_access",
    )
    .await;
    add_user(
        &*f.store,
        f.auth.policy(),
        User {
            name: "pat".into(),
            role: "patient".into(),
            patient: Some("p1".into()),
            fhir_user: Some("Patient/p1".into()),
            password: String::new(),
            disabled: false,
        },
        "secret-password",
    )
    .await
    .expect("user added");
    let scope = "patient/Observation.rs patient/Patient.r launch/patient openid fhirUser offline_access user/*.cruds";

    // Wrong password: the form again, then throttling after five failures.
    let wrong = login_code(&f, &client.client_id, scope, "pat", "nope-nope", None)
        .await
        .expect_err("wrong password");
    assert!(matches!(
        wrong,
        LoginOutcome::Retry {
            failed_login: true,
            ..
        }
    ));

    let code = login_code(&f, &client.client_id, scope, "pat", "secret-password", None)
        .await
        .expect("code");
    let exchange = |code: &str, verifier: &str| {
        form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("client_id", &client.client_id),
            ("redirect_uri", "http://127.0.0.1:9999/callback"),
            ("code_verifier", verifier),
        ])
    };
    // PKCE mismatch is refused, and spends the code.
    let bad = f
        .auth
        .token(&exchange(&code, &VERIFIER.replace('d', "e")))
        .await
        .expect_err("pkce mismatch");
    assert!(bad.description.contains("code_verifier"), "{bad}");
    let again = f
        .auth
        .token(&exchange(&code, VERIFIER))
        .await
        .expect_err("code reuse");
    assert!(again.description.contains("already used"), "{again}");

    let code = login_code(&f, &client.client_id, scope, "pat", "secret-password", None)
        .await
        .expect("code");
    let token = f
        .auth
        .token(&exchange(&code, VERIFIER))
        .await
        .expect("token");
    // user/*.cruds is beyond the patient role and the client: dropped.
    assert_eq!(
        token.scope,
        "patient/Observation.rs patient/Patient.r launch/patient openid fhirUser offline_access"
    );
    assert_eq!(token.patient.as_deref(), Some("p1"));
    let access = f.auth.check_bearer(&token.access_token).expect("valid");
    assert_eq!(access.patient.as_deref(), Some("p1"));
    // Code reuse after a successful exchange: refused.
    assert_eq!(
        f.auth
            .token(&exchange(&code, VERIFIER))
            .await
            .expect_err("reuse")
            .code,
        "invalid_grant"
    );
    // ... and revokes the access token the code produced (once the 30-second cache of checked
    // tokens lets go of it).
    f.auth.forget_subject("pat");
    assert!(matches!(
        f.auth.check_bearer(&token.access_token),
        Err(TokenError::Revoked)
    ));

    // The ID token is RS256, signed by a key of our JWKS, for this client.
    let id_token = token.id_token.clone().expect("id token");
    let header = jsonwebtoken::decode_header(&id_token).expect("header");
    assert_eq!(header.alg, Algorithm::RS256);
    let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_value(f.auth.jwks()).expect("jwks");
    let key = jsonwebtoken::DecodingKey::from_jwk(
        jwks.find(header.kid.as_deref().expect("kid")).expect("key"),
    )
    .expect("key");
    let mut validation = jsonwebtoken::Validation::new(Algorithm::RS256);
    validation.set_audience(&[&client.client_id]);
    validation.set_issuer(&[ISSUER]);
    let id: Value = jsonwebtoken::decode(&id_token, &key, &validation)
        .expect("id token verifies")
        .claims;
    assert_eq!(id["fhirUser"], json!(format!("{ISSUER}/fhir/Patient/p1")));

    let refresh_with = |token: &str, scope: Option<&str>| {
        let mut request = form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", token),
            ("client_id", &client.client_id),
        ]);
        if let Some(scope) = scope {
            request.form.insert("scope".into(), scope.into());
        }
        request
    };
    // The code was reused above: the refresh token it produced is revoked (RFC 6749 §4.1.2).
    let revoked = f
        .auth
        .token(&refresh_with(
            &token.refresh_token.clone().expect("refresh"),
            None,
        ))
        .await
        .expect_err("revoked");
    assert!(revoked.description.contains("revoked"), "{revoked}");

    // Refresh: rotation, narrowing allowed, widening refused, reuse revokes the family.
    let code = login_code(&f, &client.client_id, scope, "pat", "secret-password", None)
        .await
        .expect("code");
    let token = f
        .auth
        .token(&exchange(&code, VERIFIER))
        .await
        .expect("token");
    let refresh = token.refresh_token.clone().expect("refresh token");
    let widened = f
        .auth
        .token(&refresh_with(&refresh, Some("patient/*.cruds")))
        .await
        .expect_err("escalation");
    assert_eq!(widened.code, "invalid_scope");
    // The failed escalation did not spend the token.
    let second = f
        .auth
        .token(&refresh_with(
            &refresh,
            Some("patient/Observation.r offline_access"),
        ))
        .await
        .expect("narrowed refresh");
    assert_eq!(second.scope, "patient/Observation.r offline_access");
    let rotated = second.refresh_token.expect("rotated");
    let reuse = f
        .auth
        .token(&refresh_with(&refresh, None))
        .await
        .expect_err("reuse of a spent token");
    assert!(reuse.description.contains("already used"), "{reuse}");
    // The family is revoked now: the rotated token fails too.
    let family = f
        .auth
        .token(&refresh_with(&rotated, None))
        .await
        .expect_err("family revoked");
    assert!(family.description.contains("revoked"), "{family}");
}

#[tokio::test]
async fn logins_are_throttled_and_disabled_users_lose_their_tokens() {
    let f = fixture();
    let client = register(&f, ClientKind::Public, None, "user/*.rs openid").await;
    add_user(
        &*f.store,
        f.auth.policy(),
        User {
            name: "doc".into(),
            role: "clinician".into(),
            patient: None,
            fhir_user: None,
            password: String::new(),
            disabled: false,
        },
        "right-password",
    )
    .await
    .expect("user");
    for _ in 0..5 {
        let outcome = login_code(
            &f,
            &client.client_id,
            "user/*.rs",
            "doc",
            "wrong-password",
            None,
        )
        .await
        .expect_err("wrong");
        assert!(
            matches!(outcome, LoginOutcome::Retry { ref message, .. } if message.contains("wrong"))
        );
    }
    let throttled = login_code(
        &f,
        &client.client_id,
        "user/*.rs",
        "doc",
        "right-password",
        None,
    )
    .await
    .expect_err("throttled");
    assert!(
        matches!(throttled, LoginOutcome::Retry { ref message, .. } if message.contains("too many")),
        "{throttled:?}"
    );

    let g = fixture();
    let client = register(&g, ClientKind::Public, None, "user/*.rs").await;
    add_user(
        &*g.store,
        g.auth.policy(),
        User {
            name: "doc".into(),
            role: "clinician".into(),
            patient: None,
            fhir_user: None,
            password: String::new(),
            disabled: false,
        },
        "right-password",
    )
    .await
    .expect("user");
    let code = login_code(
        &g,
        &client.client_id,
        "user/*.rs",
        "doc",
        "right-password",
        None,
    )
    .await
    .expect("code");
    let token = g
        .auth
        .token(&form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", &client.client_id),
            ("redirect_uri", "http://127.0.0.1:9999/callback"),
            ("code_verifier", VERIFIER),
        ]))
        .await
        .expect("token");
    assert!(g.auth.check_bearer(&token.access_token).is_ok());
    set_user_disabled(&*g.store, "doc", true)
        .await
        .expect("disabled");
    g.auth.forget_subject("doc");
    assert_eq!(
        g.auth.check_bearer(&token.access_token).err(),
        Some(TokenError::Revoked)
    );
}

#[tokio::test]
async fn the_authorization_endpoint_refuses_bad_requests() {
    let f = fixture();
    let client = register(&f, ClientKind::Public, None, "user/*.rs").await;
    let base = |changes: &[(&str, Option<&str>)]| {
        let mut params: HashMap<String, String> = [
            ("response_type", "code"),
            ("client_id", client.client_id.as_str()),
            ("redirect_uri", "http://127.0.0.1:9999/callback"),
            ("scope", "user/*.rs"),
            ("aud", "http://127.0.0.1:8080/fhir"),
            ("state", "s"),
            (
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            ),
            ("code_challenge_method", "S256"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        for (name, value) in changes {
            match value {
                Some(value) => params.insert((*name).to_owned(), (*value).to_owned()),
                None => params.remove(*name),
            };
        }
        params
    };
    assert!(f.auth.begin_authorize(&base(&[])).await.is_ok());
    // Never redirect to an unregistered URI or for an unknown client.
    for changes in [
        vec![("redirect_uri", Some("http://evil/cb"))],
        vec![("client_id", Some("nobody"))],
    ] {
        assert!(matches!(
            f.auth.begin_authorize(&base(&changes)).await,
            Err(grants::AuthorizeFailure::Page(_))
        ));
    }
    for (changes, error) in [
        (
            vec![("code_challenge_method", Some("plain"))],
            "invalid_request",
        ),
        (vec![("code_challenge", None)], "invalid_request"),
        (vec![("aud", Some("http://other/fhir"))], "invalid_request"),
        (
            vec![("response_type", Some("token"))],
            "unsupported_response_type",
        ),
        (vec![("scope", Some("nonsense"))], "invalid_scope"),
    ] {
        match f.auth.begin_authorize(&base(&changes)).await {
            Err(grants::AuthorizeFailure::Redirect(location)) => {
                assert!(
                    location.starts_with("http://127.0.0.1:9999/callback?error="),
                    "{location}"
                );
                assert!(
                    location.contains(error) && location.ends_with("&state=s"),
                    "{location}"
                );
            }
            other => panic!("{changes:?}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn directory_validates_input() {
    let f = fixture();
    let policy = f.auth.policy();
    let user = |name: &str, role: &str| User {
        name: name.into(),
        role: role.into(),
        patient: None,
        fhir_user: None,
        password: String::new(),
        disabled: false,
    };
    assert!(
        add_user(&*f.store, policy, user("a b", "clinician"), "password1")
            .await
            .is_err()
    );
    assert!(
        add_user(&*f.store, policy, user("ann", "wizard"), "password1")
            .await
            .is_err()
    );
    assert!(
        add_user(&*f.store, policy, user("ann", "patient"), "password1")
            .await
            .is_err()
    );
    assert!(
        add_user(&*f.store, policy, user("ann", "clinician"), "short")
            .await
            .is_err()
    );
    add_user(&*f.store, policy, user("ann", "clinician"), "password1")
        .await
        .expect("added");
    assert!(matches!(
        add_user(&*f.store, policy, user("ann", "clinician"), "password1").await,
        Err(DirectoryError::Exists(_))
    ));
    let listed = users(&*f.store).expect("users");
    assert_eq!(listed.len(), 1);
    assert!(listed[0].password.is_empty());
    assert!(
        serde_json::to_string(&listed[0])
            .expect("json")
            .contains("\"role\":\"clinician\"")
    );

    let symmetric = register(&f, ClientKind::Symmetric, None, "system/*.rs").await;
    let secret = symmetric.client_secret.clone().expect("secret shown once");
    let stored = client(&*f.store, &symmetric.client_id)
        .expect("read")
        .expect("exists");
    assert!(
        !serde_json::to_string(&stored)
            .expect("json")
            .contains(&secret)
    );
    let token = f
        .auth
        .token(&TokenRequest {
            form: [
                ("grant_type", "client_credentials"),
                ("scope", "system/Patient.rs"),
            ]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
            basic: Some(ClientCredentials {
                client_id: symmetric.client_id.clone(),
                secret: secret.clone(),
            }),
        })
        .await
        .expect("secret works");
    assert_eq!(token.scope, "system/Patient.rs");
    let wrong = f
        .auth
        .token(&TokenRequest {
            form: [
                ("grant_type", "client_credentials"),
                ("scope", "system/Patient.rs"),
            ]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
            basic: Some(ClientCredentials {
                client_id: symmetric.client_id.clone(),
                secret: "guess".into(),
            }),
        })
        .await
        .expect_err("wrong secret");
    assert_eq!((wrong.code, wrong.status()), ("invalid_client", 401));

    for bad in [
        NewClient {
            name: "x".into(),
            kind: ClientKind::Asymmetric,
            jwks: None,
            redirect_uris: vec![],
            scope: "system/*.rs".into(),
        },
        NewClient {
            name: "x".into(),
            kind: ClientKind::Asymmetric,
            jwks: Some(json!({"keys": []})),
            redirect_uris: vec![],
            scope: "system/*.rs".into(),
        },
        NewClient {
            name: "x".into(),
            kind: ClientKind::Public,
            jwks: None,
            redirect_uris: vec!["javascript:alert(1)".into()],
            scope: "user/*.rs".into(),
        },
        NewClient {
            name: "x".into(),
            kind: ClientKind::Public,
            jwks: None,
            redirect_uris: vec![],
            scope: "user/Unicorn.rs".into(),
        },
    ] {
        assert!(matches!(
            register_client(&*f.store, bad).await,
            Err(DirectoryError::Invalid(_))
        ));
    }
}

#[tokio::test]
async fn expired_records_are_pruned_and_live_ones_kept() {
    use crate::grants::{ASSERTION, CODE, FAMILY_REVOKED, REFRESH, REVOKED};
    let f = fixture();
    let now = tokens::now();
    let expired = (now - 3600).to_string().into_bytes();
    let live = (now + 3600).to_string().into_bytes();
    let state = |expires: u64| serde_json::to_vec(&json!({"expires": expires})).expect("json");
    let rows: Vec<(&str, &str, Vec<u8>)> = vec![
        (REVOKED, "old-jti", expired.clone()),
        (REVOKED, "live-jti", live.clone()),
        (ASSERTION, "old-assertion", expired),
        (ASSERTION, "live-assertion", live),
        (CODE, "old-code", state(now - 3600)),
        (CODE, "live-code", state(now + 60)),
        (REFRESH, "old-refresh", state(now - 3600)),
        (REFRESH, "unreadable", b"not json".to_vec()),
        (FAMILY_REVOKED, "recent-family", b"revoked".to_vec()),
    ];
    medulla_store::write(&*f.store, move |tx| {
        for (kind, key, value) in &rows {
            tx.put_record(kind, key, value, None)?;
        }
        Ok::<(), medulla_store::Error>(())
    })
    .wait()
    .await
    .expect("records written");
    let pruned = f.auth.prune_at(now).await.expect("pruned");
    assert_eq!(pruned.total(), 4, "{pruned:?}");
    let kept = |kind: &str, key: &str| f.store.record(kind, key).expect("read").is_some();
    assert!(!kept(REVOKED, "old-jti") && kept(REVOKED, "live-jti"));
    assert!(!kept(ASSERTION, "old-assertion") && kept(ASSERTION, "live-assertion"));
    assert!(!kept(CODE, "old-code") && kept(CODE, "live-code"));
    assert!(!kept(REFRESH, "old-refresh"));
    // What cannot be read is kept; a family revoked just now outlives its tokens.
    assert!(kept(REFRESH, "unreadable"));
    assert!(kept(FAMILY_REVOKED, "recent-family"));
    // Long after, the family record goes too.
    let later = now + f.auth.config().refresh_token_seconds + 2 * 3600;
    let pruned = f.auth.prune_at(later).await.expect("pruned");
    assert!(!kept(FAMILY_REVOKED, "recent-family"), "{pruned:?}");
}
