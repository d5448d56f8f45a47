//! `--auth oidc` end to end: a tiny identity provider on loopback, the server accepting its
//! tokens (scopes and roles mapped to access) and refusing others.

mod support;

use axum::routing::get;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::Arc;
use support::{Options, Server};

struct Idp {
    issuer: String,
    key: EncodingKey,
    _runtime: tokio::runtime::Runtime,
}

fn idp() -> Idp {
    use p384::pkcs8::EncodePrivateKey;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let issuer = format!(
        "http://{}/realms/clinic",
        listener.local_addr().expect("addr")
    );
    let secret = p384::SecretKey::random(&mut rand_core::OsRng);
    let pem = secret
        .to_pkcs8_pem(p384::pkcs8::LineEnding::LF)
        .expect("pem");
    let mut jwk: Value = serde_json::from_str(&secret.public_key().to_jwk_string()).expect("jwk");
    jwk["kid"] = json!("idp-1");
    jwk["alg"] = json!("ES384");
    let discovery = json!({"issuer": issuer, "jwks_uri": format!("{issuer}/certs")});
    let jwks = json!({"keys": [jwk]});
    let app = axum::Router::new()
        .route(
            "/realms/clinic/.well-known/openid-configuration",
            get(move || {
                let discovery = discovery.clone();
                async move {
                    (
                        [("content-type", "application/json")],
                        discovery.to_string(),
                    )
                }
            }),
        )
        .route(
            "/realms/clinic/certs",
            get(move || {
                let jwks = jwks.clone();
                async move { ([("content-type", "application/json")], jwks.to_string()) }
            }),
        );
    runtime.spawn(async move { axum::serve(listener, app).await });
    Idp {
        issuer,
        key: EncodingKey::from_ec_pem(pem.as_bytes()).expect("key"),
        _runtime: runtime,
    }
}

fn token(idp: &Idp, audience: &str, claims: Value) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let mut all = json!({"iss": idp.issuer, "aud": audience, "exp": now + 300, "iat": now,
        "sub": "kc-user-1", "azp": "portal"});
    for (name, value) in claims.as_object().expect("object") {
        all[name] = value.clone();
    }
    let mut header = Header::new(Algorithm::ES384);
    header.kid = Some("idp-1".into());
    jsonwebtoken::encode(&header, &all, &idp.key).expect("signs")
}

#[test]
fn tokens_of_an_external_issuer_are_accepted_and_mapped() {
    let idp = idp();
    // The server's base URL is only known once it listens: accept the audience the test uses.
    let audience = "medulla-fhir";
    let mut config = medulla_auth::OidcConfig::new(&idp.issuer, audience);
    config
        .claims
        .role_scopes
        .insert("clinician".into(), "user/Patient.rs".into());
    let verifier = idp
        ._runtime
        .block_on(medulla_auth::OidcVerifier::discover(config))
        .expect("discovery");
    let server = Server::start_with(Options {
        oidc: Some(Arc::new(verifier)),
        audit: true,
        ..Options::default()
    });
    let admin = token(
        &idp,
        audience,
        json!({"scope": "system/*.cruds", "sub": "portal"}),
    );
    let created = server
        .as_token(&admin, Method::PUT, "Patient/p1")
        .json(&json!({"resourceType": "Patient", "id": "p1"}))
        .send();
    assert_eq!(created.status, 201, "{}", created.text());
    // A user whose role (Keycloak's realm_access.roles) grants patient reads.
    let clinician = token(
        &idp,
        audience,
        json!({"realm_access": {"roles": ["clinician"]}}),
    );
    assert_eq!(server.get_as(&clinician, "Patient/p1").status, 200);
    assert_eq!(server.get_as(&clinician, "Observation?code=x").status, 403);
    // Refused: another audience, a token of ours, none at all.
    let elsewhere = token(&idp, "another-api", json!({"scope": "system/*.cruds"}));
    assert_eq!(server.get_as(&elsewhere, "Patient/p1").status, 401);
    assert_eq!(server.get("Patient/p1").status, 401);
    let audited = server
        .audit
        .as_ref()
        .expect("ledger")
        .search(&medulla_audit::AuditQuery {
            agent: Some("kc-user-1".into()),
            ..Default::default()
        })
        .expect("search");
    assert_eq!(
        audited.len(),
        2,
        "both of the clinician's reads are audited"
    );
}
