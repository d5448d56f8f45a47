//! SMART on FHIR authorization over real HTTP: tokens are refused when they should be, and a
//! `patient/` token cannot reach another patient's data by any path (read, vread, search,
//! includes, chains, `_has`, history, compartments, `$everything`, batch, transaction, export).
//! Every access lands in the audit ledger, which verifies intact afterwards.

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::{Options, Server};

const REDIRECT: &str = "http://127.0.0.1:9/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn start() -> Server {
    Server::start_with(Options {
        auth: true,
        audit: true,
        roles: Some(json!({"roles": {
            "clinician": "user/*.cruds openid fhirUser launch launch/patient offline_access",
            "patient": "patient/*.rs openid fhirUser launch/patient offline_access",
            "patient-writer": "patient/*.cruds launch/patient",
            "auditor": "user/AuditEvent.rs openid",
        }})),
        ..Options::default()
    })
}

fn no_redirects() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

fn form_post(
    server: &Server,
    path: &str,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> (u16, Value) {
    let mut request = no_redirects()
        .post(format!("{}{path}", server.origin))
        .form(form);
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    let response = request.send().expect("answered");
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Value::Null))
}

/// A system token from a symmetric client (client_credentials over HTTP with Basic auth).
fn system_token(server: &Server, scope: &str) -> String {
    let auth = server.auth.clone().expect("auth on");
    let store = server.store();
    let client = server
        .block_on(medulla_auth::register_client(
            &*store,
            medulla_auth::NewClient {
                name: "backend".into(),
                kind: medulla_auth::ClientKind::Symmetric,
                jwks: None,
                redirect_uris: vec![],
                scope: "system/*.cruds".into(),
            },
        ))
        .expect("client registers");
    let _ = auth;
    let secret = client.client_secret.expect("secret");
    let (status, body) = form_post(
        server,
        "/auth/token",
        &[("grant_type", "client_credentials"), ("scope", scope)],
        Some((&client.client_id, &secret)),
    );
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().expect("token").to_owned()
}

/// A user token through the whole authorization code flow: the login page, the form post, the
/// redirect with a code, and the PKCE exchange.
fn user_token(
    server: &Server,
    user: &str,
    role: &str,
    patient: Option<&str>,
    scope: &str,
) -> Value {
    let fhir_user = patient.map(|p| format!("Patient/{p}"));
    user_token_as(server, user, role, patient, fhir_user, scope)
}

fn user_token_as(
    server: &Server,
    user: &str,
    role: &str,
    patient: Option<&str>,
    fhir_user: Option<String>,
    scope: &str,
) -> Value {
    let store = server.store();
    let policy = server.auth.as_ref().expect("auth").policy().clone();
    server
        .block_on(medulla_auth::add_user(
            &*store,
            &policy,
            medulla_auth::User {
                name: user.into(),
                role: role.into(),
                patient: patient.map(str::to_owned),
                fhir_user,
                password: String::new(),
                disabled: false,
            },
            "correct horse battery",
        ))
        .expect("user added");
    let app = server
        .block_on(medulla_auth::register_client(
            &*store,
            medulla_auth::NewClient {
                name: format!("app for {user}"),
                kind: medulla_auth::ClientKind::Public,
                jwks: None,
                redirect_uris: vec![REDIRECT.into()],
                scope: scope.into(),
            },
        ))
        .expect("client registers");
    let http = no_redirects();
    let page = http
        .get(format!("{}/auth/authorize", server.origin))
        .query(&[
            ("response_type", "code"),
            ("client_id", app.client_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("scope", scope),
            ("state", "s1"),
            ("aud", server.base.as_str()),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .expect("login page");
    assert_eq!(page.status().as_u16(), 200);
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .expect("csp")
            .contains("frame-ancestors 'none'")
    );
    let html = page.text().expect("html");
    let request_id = html
        .split("name=\"request_id\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("request id in the form")
        .to_owned();
    let login = http
        .post(format!("{}/auth/authorize", server.origin))
        .form(&[
            ("request_id", request_id.as_str()),
            ("username", user),
            ("password", "correct horse battery"),
            ("decision", "approve"),
        ])
        .send()
        .expect("login");
    assert_eq!(
        login.status().as_u16(),
        302,
        "{}",
        login.text().unwrap_or_default()
    );
    let location = login.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    assert!(
        location.starts_with(REDIRECT) && location.ends_with("&state=s1"),
        "{location}"
    );
    let code = location
        .split("code=")
        .nth(1)
        .and_then(|rest| rest.split('&').next())
        .expect("code");
    let (status, body) = form_post(
        server,
        "/auth/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("client_id", &app.client_id),
            ("code_verifier", VERIFIER),
        ],
        None,
    );
    assert_eq!(status, 200, "{body}");
    body
}

struct World {
    server: Server,
    admin: String,
    /// A `patient/*.rs` token for p1.
    p1: String,
    p2_observation: String,
    p1_observation: String,
}

fn world() -> World {
    let server = start();
    let admin = system_token(&server, "system/*.cruds");
    let put = |path: &str, mut body: Value| {
        body["id"] = json!(path.rsplit('/').next().expect("id"));
        let response = server
            .as_token(&admin, Method::PUT, path)
            .json(&body)
            .send();
        assert!(
            matches!(response.status, 200 | 201),
            "{path}: {}",
            response.text()
        );
        response.json()
    };
    put(
        "Practitioner/doc",
        json!({"resourceType": "Practitioner", "name": [{"family": "Welby"}]}),
    );
    put(
        "Patient/p1",
        json!({"resourceType": "Patient", "name": [{"family": "One"}]}),
    );
    put(
        "Patient/p2",
        json!({"resourceType": "Patient", "name": [{"family": "Two"}]}),
    );
    let observation = |id: &str, patient: &str, code: &str| {
        put(
            &format!("Observation/{id}"),
            json!({"resourceType": "Observation", "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
                "subject": {"reference": format!("Patient/{patient}")},
                "performer": [{"reference": "Practitioner/doc"}]}),
        );
        id.to_owned()
    };
    let p1_observation = observation("o1", "p1", "8867-4");
    let p2_observation = observation("o2", "p2", "2339-0");
    let token = user_token(
        &server,
        "pat",
        "patient",
        Some("p1"),
        "launch/patient openid fhirUser patient/*.rs",
    );
    assert_eq!(token["patient"], "p1");
    World {
        p1: token["access_token"].as_str().expect("token").to_owned(),
        server,
        admin,
        p2_observation,
        p1_observation,
    }
}

fn ids(bundle: &Value) -> Vec<String> {
    let mut ids: Vec<String> = bundle["entry"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .filter_map(|e| {
                    let r = &e["resource"];
                    Some(format!(
                        "{}/{}",
                        r["resourceType"].as_str()?,
                        r["id"].as_str()?
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

#[test]
fn tokens_are_required_and_checked() {
    let w = world();
    let s = &w.server;
    // No token: 401 with a bare challenge; a garbage token: 401 invalid_token.
    let missing = s.get("Patient/p1");
    assert_eq!(missing.status, 401);
    assert_eq!(
        missing.header("www-authenticate").as_deref(),
        Some("Bearer realm=\"medulla\"")
    );
    let garbage = s.get_as("not.a.token", "Patient/p1");
    assert_eq!(garbage.status, 401);
    assert!(
        garbage
            .header("www-authenticate")
            .expect("challenge")
            .contains("error=\"invalid_token\"")
    );
    // Public: the CapabilityStatement (with SMART's security section) and discovery.
    let metadata = s.get("metadata");
    assert_eq!(metadata.status, 200);
    assert_eq!(
        metadata.json()["rest"][0]["security"]["service"][0]["coding"][0]["code"],
        "SMART-on-FHIR"
    );
    let discovery: Value = support::client()
        .get(format!("{}/.well-known/smart-configuration", s.base))
        .send()
        .expect("discovery")
        .json()
        .expect("json");
    assert_eq!(
        discovery["token_endpoint"],
        json!(format!("{}/auth/token", s.origin))
    );
    assert_eq!(
        discovery["code_challenge_methods_supported"],
        json!(["S256"])
    );

    // Insufficient scope: 403, whatever exists.
    let narrow = system_token(s, "system/Patient.rs");
    assert_eq!(s.get_as(&narrow, "Patient/p1").status, 200);
    assert_eq!(s.get_as(&narrow, "Observation/o1").status, 403);
    assert_eq!(s.get_as(&narrow, "Observation?code=8867-4").status, 403);
    let create = s
        .as_token(&narrow, Method::POST, "Patient")
        .json(&json!({"resourceType": "Patient"}))
        .send();
    assert_eq!(create.status, 403, "{}", create.text());
    assert_eq!(create.json()["issue"][0]["code"], "forbidden");
    // Nobody writes AuditEvents.
    let forged = s
        .as_token(&w.admin, Method::POST, "AuditEvent")
        .json(&json!({"resourceType": "AuditEvent"}))
        .send();
    assert_eq!(forged.status, 403);
    // Server-wide operations need server-wide scopes.
    assert_eq!(
        s.as_token(&narrow, Method::POST, "$reindex").send().status,
        403
    );

    // A revoked token stops working at once.
    let token = user_token(s, "doc", "clinician", None, "user/*.rs openid");
    let access = token["access_token"].as_str().expect("token");
    assert_eq!(s.get_as(access, "Observation/o2").status, 200);
    // Public clients revoke by naming themselves.
    let introspected = s
        .auth
        .as_ref()
        .expect("auth")
        .check_bearer(access)
        .expect("valid");
    let client_id = introspected.client_id.expect("client id");
    let (status, _) = form_post(
        s,
        "/auth/revoke",
        &[("token", access), ("client_id", &client_id)],
        None,
    );
    assert_eq!(status, 200);
    let revoked = s.get_as(access, "Observation/o2");
    assert_eq!(revoked.status, 401);
    assert!(
        revoked
            .header("www-authenticate")
            .expect("challenge")
            .contains("revoked")
    );
}

#[test]
fn a_patient_token_reaches_only_its_own_patient() {
    let w = world();
    let s = &w.server;
    let get = |path: &str| s.get_as(&w.p1, path);
    // Read and vread: the other patient's data does not exist for this token.
    assert_eq!(get("Patient/p1").status, 200);
    assert_eq!(get("Patient/p2").status, 404);
    assert_eq!(
        get(&format!("Observation/{}", w.p1_observation)).status,
        200
    );
    let other = get(&format!("Observation/{}", w.p2_observation));
    assert_eq!(other.status, 404);
    assert_eq!(other.json()["issue"][0]["code"], "not-found");
    assert_eq!(
        get(&format!("Observation/{}/_history/1", w.p2_observation)).status,
        404
    );
    // Non-patient data stays readable.
    assert_eq!(get("Practitioner/doc").status, 200);

    // Search: only the compartment, whatever the query asks for.
    assert_eq!(ids(&get("Observation").json()), ["Observation/o1"]);
    assert_eq!(
        ids(&get("Observation?subject=Patient/p2").json()),
        Vec::<String>::new()
    );
    assert_eq!(
        ids(&get("Observation?code=2339-0").json()),
        Vec::<String>::new()
    );
    assert_eq!(get("Observation?_summary=count").json()["total"], 1);
    assert_eq!(ids(&get("Patient").json()), ["Patient/p1"]);
    // Includes: only what the token may see.
    assert_eq!(
        ids(&get("Observation?_include=Observation:subject&_include=Observation:performer").json()),
        ["Observation/o1", "Patient/p1", "Practitioner/doc"]
    );
    assert_eq!(
        ids(&get("Practitioner?_revinclude=Observation:performer").json()),
        ["Observation/o1", "Practitioner/doc"]
    );
    // Chains and _has from compartment types stay inside the compartment.
    assert_eq!(
        ids(&get("Observation?subject.name=Two").json()),
        Vec::<String>::new()
    );
    assert_eq!(
        ids(&get("Patient?_has:Observation:subject:code=2339-0").json()),
        Vec::<String>::new()
    );
    assert_eq!(
        ids(&get("Patient?_has:Observation:subject:code=8867-4").json()),
        ["Patient/p1"]
    );
    // … and from other types they are refused: they would tell about other patients.
    assert_eq!(
        get("Practitioner?_has:Observation:performer:subject=Patient/p2").status,
        403
    );
    assert_eq!(get("Device?patient.name=Two").status, 403);
    // Types outside the compartment that still point at patients: only this one's.
    let device = |id: &str, patient: &str| {
        let body = json!({"resourceType": "Device", "id": id, "patient": {"reference": format!("Patient/{patient}")}});
        let response = s
            .as_token(&w.admin, Method::PUT, &format!("Device/{id}"))
            .json(&body)
            .send();
        assert_eq!(response.status, 201, "{}", response.text());
    };
    device("d1", "p1");
    device("d2", "p2");
    assert_eq!(get("Device/d1").status, 200);
    assert_eq!(get("Device/d2").status, 404);
    assert_eq!(ids(&get("Device").json()), ["Device/d1"]);

    // History: of its own resources only; of types and the system not at all.
    assert_eq!(
        get(&format!("Observation/{}/_history", w.p1_observation)).status,
        200
    );
    assert_eq!(
        get(&format!("Observation/{}/_history", w.p2_observation)).status,
        404
    );
    assert_eq!(get("Observation/_history").status, 403);
    assert_eq!(get("_history").status, 403);

    // Compartments and $everything: its own patient only.
    assert_eq!(
        ids(&get("Patient/p1/Observation").json()),
        ["Observation/o1"]
    );
    assert_eq!(get("Patient/p2/Observation").status, 404);
    assert_eq!(get("Patient/p2/$everything").status, 404);
    let everything = ids(&get("Patient/p1/$everything").json());
    assert!(
        everything.contains(&"Observation/o1".to_owned())
            && !everything
                .iter()
                .any(|id| id.contains("p2") || id == "Observation/o2"),
        "{everything:?}"
    );

    // Batch and transaction: reads go through the REST API; writes need write scopes.
    let batch = s
        .as_token(&w.p1, Method::POST, "")
        .json(
            &json!({"resourceType": "Bundle", "type": "batch", "entry": [
                {"request": {"method": "GET", "url": "Observation/o2"}},
                {"request": {"method": "DELETE", "url": "Observation/o2"}}
            ]}),
        )
        .send();
    assert_eq!(batch.status, 200, "{}", batch.text());
    let statuses: Vec<String> = batch.json()["entry"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            e["response"]["status"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(statuses, ["403 Forbidden", "403 Forbidden"]);
    assert_eq!(
        s.get_as(&w.admin, "Observation/o2").status,
        200,
        "nothing was deleted"
    );

    // Bulk export and the audit trail are not for patient tokens.
    let export = s
        .as_token(&w.p1, Method::GET, "$export")
        .header("prefer", "respond-async")
        .send();
    assert_eq!(export.status, 403);
    let patient_export = s
        .as_token(&w.p1, Method::GET, "Patient/$export")
        .header("prefer", "respond-async")
        .send();
    assert_eq!(patient_export.status, 403);
    assert_eq!(get("AuditEvent").status, 403);
}

#[test]
fn patient_level_writes_stay_in_the_compartment() {
    let w = world();
    let s = &w.server;
    let writer = user_token(
        s,
        "pw",
        "patient-writer",
        Some("p1"),
        "launch/patient patient/*.cruds",
    );
    let token = writer["access_token"].as_str().expect("token");
    let observation = |patient: &str| {
        json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"},
            "subject": {"reference": format!("Patient/{patient}")}})
    };
    // Create: inside the compartment yes, outside no.
    let own = s
        .as_token(token, Method::POST, "Observation")
        .json(&observation("p1"))
        .send();
    assert_eq!(own.status, 201, "{}", own.text());
    let foreign = s
        .as_token(token, Method::POST, "Observation")
        .json(&observation("p2"))
        .send();
    assert_eq!(foreign.status, 403);
    // Update: the other patient's resource does not exist; moving one's own out is refused.
    let hijack = s
        .as_token(token, Method::PUT, "Observation/o2")
        .json(&observation("p1"))
        .send();
    assert_eq!(hijack.status, 404);
    let mut moved = observation("p2");
    moved["id"] = json!("o1");
    assert_eq!(
        s.as_token(token, Method::PUT, "Observation/o1")
            .json(&moved)
            .send()
            .status,
        403
    );
    // Patch that would move it out: refused; delete of the other's: 404.
    let patch = s
        .as_token(token, Method::PATCH, "Observation/o1")
        .body(
            "application/json-patch+json",
            serde_json::to_vec(&json!([
                {"op": "replace", "path": "/subject/reference", "value": "Patient/p2"}
            ]))
            .expect("json"),
        )
        .send();
    assert_eq!(patch.status, 403, "{}", patch.text());
    assert_eq!(
        s.as_token(token, Method::DELETE, "Observation/o2")
            .send()
            .status,
        404
    );
    // Conditional writes cannot be checked before they run: refused.
    let conditional = s
        .as_token(token, Method::PUT, "Observation?code=x")
        .json(&observation("p1"))
        .send();
    assert_eq!(conditional.status, 403);
    // A transaction that touches the other patient fails whole.
    let transaction = s
        .as_token(token, Method::POST, "")
        .json(&json!({"resourceType": "Bundle", "type": "transaction", "entry": [
            {"request": {"method": "POST", "url": "Observation"}, "resource": observation("p1")},
            {"request": {"method": "PUT", "url": "Observation/o2"}, "resource": {
                "resourceType": "Observation", "id": "o2", "status": "final", "code": {"text": "x"},
                "subject": {"reference": "Patient/p1"}}}
        ]}))
        .send();
    assert_eq!(transaction.status, 404, "{}", transaction.text());
    let still = s.get_as(&w.admin, "Observation/o2").json();
    assert_eq!(still["subject"]["reference"], "Patient/p2");
    assert_eq!(still["meta"]["versionId"], "1");
    // Definitions change terminology and validation for everyone: not under patient scopes.
    let value_set = json!({"resourceType": "ValueSet", "url": "http://example.org/vs/x",
        "status": "active", "compose": {"include": [{"system": "http://example.org/cs"}]}});
    let definition = s
        .as_token(token, Method::POST, "ValueSet")
        .json(&value_set)
        .send();
    assert_eq!(definition.status, 403, "{}", definition.text());
    let by_admin = s
        .as_token(&w.admin, Method::POST, "ValueSet")
        .json(&value_set)
        .send();
    assert_eq!(by_admin.status, 201, "{}", by_admin.text());
}

#[test]
fn accesses_are_audited_and_the_ledger_verifies() {
    let w = world();
    let s = &w.server;
    assert_eq!(s.get_as(&w.p1, "Patient/p2").status, 404);
    assert_eq!(s.get("Patient/p1").status, 401);
    let btg = s
        .as_token(&w.admin, Method::GET, "Observation/o1")
        .header("x-purpose-of-use", "BTG")
        .send();
    assert_eq!(btg.status, 200);
    let auditor = user_token(s, "aud", "auditor", None, "user/AuditEvent.rs openid");
    let token = auditor["access_token"].as_str().expect("token");
    // The patient's failed read is there, with the patient and the outcome.
    let mine = s.get_as(token, "AuditEvent?agent=pat&subtype=read").json();
    let event = &mine["entry"][0]["resource"];
    assert_eq!(event["resourceType"], "AuditEvent");
    assert_eq!(event["outcome"], "4");
    assert_eq!(event["action"], "R");
    let entities = event["entity"].to_string();
    assert!(
        entities.contains("Patient/p1") && entities.contains("Patient/p2"),
        "{entities}"
    );
    // Logins, tokens, refusals and break-glass too.
    assert!(
        !s.get_as(token, "AuditEvent?type=110114").json()["entry"]
            .as_array()
            .expect("logins")
            .is_empty()
    );
    let refused = s.get_as(token, "AuditEvent?agent=anonymous").json();
    assert!(
        refused["entry"][0]["resource"]["outcomeDesc"]
            .as_str()
            .expect("desc")
            .contains("no access token")
    );
    let broken_glass = s.get_as(token, "AuditEvent?_count=50").json().to_string();
    assert!(
        broken_glass.contains("\"BTG\""),
        "break-glass purpose recorded"
    );
    // An AuditEvent can be read by id, by the auditor only.
    let id = event["id"].as_str().expect("id");
    assert_eq!(s.get_as(token, &format!("AuditEvent/{id}")).status, 200);
    assert_eq!(s.get_as(&w.p1, &format!("AuditEvent/{id}")).status, 403);
    let report = medulla_audit::verify(&s.data_dir.join("audit")).expect("verify runs");
    assert!(report.is_intact(), "{report}");
    assert!(report.records >= 10, "{report}");
}

#[test]
fn exports_belong_to_whoever_started_them() {
    let w = world();
    let s = &w.server;
    let kick = s
        .as_token(&w.admin, Method::GET, "$export?_type=Patient")
        .header("prefer", "respond-async")
        .send();
    assert_eq!(kick.status, 202, "{}", kick.text());
    let status_url = kick.header("content-location").expect("status url");
    let other = system_token(s, "system/*.rs");
    assert_eq!(
        s.get_as(&other, &status_url).status,
        404,
        "another client's job does not exist"
    );
    assert_eq!(s.get(&status_url).status, 401);
    let manifest = loop {
        let poll = s.get_as(&w.admin, &status_url);
        match poll.status {
            202 => std::thread::sleep(std::time::Duration::from_millis(20)),
            200 => break serde_json::from_slice::<Value>(&poll.body).expect("manifest"),
            other => panic!("status {other}: {}", poll.text()),
        }
    };
    assert_eq!(manifest["requiresAccessToken"], true);
    let file = manifest["output"][0]["url"].as_str().expect("file url");
    assert_eq!(s.get(file).status, 401);
    assert_eq!(s.get_as(&other, file).status, 404);
    let download = s.get_as(&w.admin, file);
    assert_eq!(download.status, 200);
    assert_eq!(String::from_utf8_lossy(&download.body).lines().count(), 2);
}

#[test]
fn consents_hide_data_unless_glass_is_broken() {
    let w = world();
    let s = &w.server;
    let consent = json!({"resourceType": "Consent", "status": "active",
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": "Patient/p1"},
        "policyRule": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}]},
        "provision": {"type": "permit", "provision": [{"type": "deny",
            "actor": [{"role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "PRCP"}]},
                       "reference": {"reference": "Practitioner/doc"}}],
            "class": [{"system": "http://hl7.org/fhir/resource-types", "code": "Observation"}]}]}});
    let created = s
        .as_token(&w.admin, Method::POST, "Consent")
        .json(&consent)
        .send();
    assert_eq!(created.status, 201, "{}", created.text());
    let consent_id = created.json()["id"].as_str().expect("id").to_owned();
    let scope = "user/*.rs openid";
    let doc = user_token_as(
        s,
        "doc",
        "clinician",
        None,
        Some("Practitioner/doc".into()),
        scope,
    );
    let doc = doc["access_token"].as_str().expect("token").to_owned();
    let nurse = user_token_as(
        s,
        "nurse",
        "clinician",
        None,
        Some("Practitioner/nurse".into()),
        scope,
    );
    let nurse = nurse["access_token"].as_str().expect("token").to_owned();

    // The denied practitioner sees neither the resource nor a hint of it.
    assert_eq!(s.get_as(&doc, "Observation/o1").status, 404);
    assert_eq!(
        ids(&s.get_as(&doc, "Observation?subject=Patient/p1").json()),
        Vec::<String>::new()
    );
    assert_eq!(
        ids(&s.get_as(&doc, "Observation").json()),
        ["Observation/o2"]
    );
    assert_eq!(
        ids(&s
            .get_as(&doc, "Patient?_id=p1&_revinclude=Observation:subject")
            .json()),
        ["Patient/p1"]
    );
    // Other types of the same patient, other practitioners, the patient: unaffected.
    assert_eq!(s.get_as(&doc, "Patient/p1").status, 200);
    assert_eq!(s.get_as(&nurse, "Observation/o1").status, 200);
    assert_eq!(s.get_as(&w.p1, "Observation/o1").status, 200);
    // Break-glass lifts it, and is audited as such.
    let btg = s
        .as_token(&doc, Method::GET, "Observation/o1")
        .header("x-purpose-of-use", "BTG")
        .send();
    assert_eq!(btg.status, 200);
    let ledger = s.audit.as_ref().expect("audit");
    let events = ledger
        .search(&medulla_audit::AuditQuery {
            agent: Some("doc".into()),
            ..Default::default()
        })
        .expect("search");
    let newest: Value = serde_json::from_slice(&events[0].1).expect("json");
    assert_eq!(
        newest["purposeOfEvent"][0]["coding"][0]["code"], "BTG",
        "{newest}"
    );
    // A patient cannot break the glass on someone else's consent.
    let other = user_token(
        s,
        "pat2",
        "patient",
        Some("p2"),
        "launch/patient patient/*.rs",
    );
    let other = other["access_token"].as_str().expect("token");
    let glass = s
        .as_token(other, Method::GET, "Observation/o1")
        .header("x-purpose-of-use", "BTG")
        .send();
    assert_eq!(glass.status, 404);
    // Withdrawing the consent applies at once.
    assert_eq!(
        s.as_token(&w.admin, Method::DELETE, &format!("Consent/{consent_id}"))
            .send()
            .status,
        204
    );
    assert_eq!(s.get_as(&doc, "Observation/o1").status, 200);
}
