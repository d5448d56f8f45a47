use super::*;

fn types(t: &str) -> bool {
    matches!(t, "Patient" | "Observation" | "Encounter" | "Condition")
}

fn set(text: &str) -> ScopeSet {
    ScopeSet::parse(text, &types).expect("scopes parse")
}

fn access(scopes: &str, patient: Option<&str>) -> Access {
    Access {
        subject: Subject::Client("app".into()),
        scopes: set(scopes),
        patient: patient.map(str::to_owned),
        ..Access::anonymous()
    }
}

#[test]
fn v1_and_v2_permissions() {
    let scopes =
        set("patient/Observation.read user/*.write system/Patient.rs user/Condition.cruds");
    let resource: Vec<&ResourceScope> = scopes.resource_scopes().collect();
    assert_eq!(resource[0].permissions.to_string(), "rs");
    assert!(!resource[0].v2);
    assert_eq!(resource[1].permissions.to_string(), "cud");
    assert_eq!(resource[1].resource_type, None);
    assert_eq!(resource[2].permissions.to_string(), "rs");
    assert!(resource[2].v2);
    assert_eq!(resource[3].permissions, Permissions::ALL);
    assert_eq!(
        scopes.to_string(),
        "patient/Observation.read user/*.write system/Patient.rs user/Condition.cruds"
    );
}

#[test]
fn granular_scopes_keep_their_query() {
    let scopes = set(
        "patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs",
    );
    let scope = scopes.resource_scopes().next().expect("one scope");
    assert_eq!(
        scope.query,
        vec![(
            "category".to_owned(),
            "http://terminology.hl7.org/CodeSystem/observation-category|vital-signs".to_owned()
        )]
    );
    let encoded = set("user/Observation.s?code=http%3A%2F%2Floinc.org%7C1234-5");
    let scope = encoded.resource_scopes().next().expect("one scope");
    assert_eq!(scope.query[0].1, "http://loinc.org|1234-5");
}

#[test]
fn malformed_scopes_are_refused_with_a_reason() {
    for (text, reason) in [
        ("patient/Observation.sr", "ordered subset"),
        ("patient/Observation.x", "ordered subset"),
        ("patient/Observation.", "ordered subset"),
        ("admin/Observation.read", "context"),
        ("patient/Unicorn.read", "unknown resource type"),
        ("patient/Observation.read?code=1", "v2"),
        ("patient/Observation.rs?code", "name=value"),
        ("patient/Observation", "Type.permissions"),
        ("superuser", "not a known scope"),
    ] {
        let error = ScopeSet::parse(text, &types).expect_err(text);
        assert!(error.to_string().contains(reason), "{text}: {error}");
    }
    let (kept, dropped) = ScopeSet::parse_lenient("openid superuser patient/Patient.r", &types);
    assert_eq!(kept.to_string(), "openid patient/Patient.r");
    assert_eq!(dropped, vec!["superuser".to_owned()]);
}

#[test]
fn decisions_follow_scopes_and_context() {
    let patient = access("patient/Observation.rs patient/Patient.r", Some("p1"));
    assert_eq!(
        patient.decide("Observation", Permission::Search),
        Grant::Limited(vec![Limit {
            patient: Some("p1".into()),
            query: vec![]
        }])
    );
    assert_eq!(
        patient.decide("Observation", Permission::Create),
        Grant::Denied
    );
    assert_eq!(patient.decide("Condition", Permission::Read), Grant::Denied);
    assert_eq!(patient.decide("Patient", Permission::Search), Grant::Denied);

    // A patient scope without a launch patient allows nothing.
    let unlaunched = access("patient/Observation.rs", None);
    assert_eq!(
        unlaunched.decide("Observation", Permission::Read),
        Grant::Denied
    );

    let system = access("system/*.rs", None);
    assert_eq!(system.decide("Condition", Permission::Read), Grant::All);
    assert_eq!(
        system.decide("Condition", Permission::Update),
        Grant::Denied
    );
    assert!(!system.allows_all_types(Permission::Create));
    assert!(access("system/*.cruds", None).allows_all_types(Permission::Create));
    assert!(!access("patient/*.cruds", Some("p")).allows_all_types(Permission::Create));

    // The widest scope wins; narrower ones of the same patient are dropped.
    let mixed = access(
        "patient/Observation.rs?category=vital-signs patient/Observation.rs user/Observation.rs?code=x",
        Some("p1"),
    );
    assert_eq!(
        mixed.decide("Observation", Permission::Read),
        Grant::Limited(vec![
            Limit {
                patient: Some("p1".into()),
                query: vec![]
            },
            Limit {
                patient: None,
                query: vec![("code".into(), "x".into())]
            },
        ])
    );
    let wide = access("patient/Observation.rs user/Observation.r", Some("p1"));
    assert_eq!(wide.decide("Observation", Permission::Read), Grant::All);
    assert!(Access::anonymous().decide("Observation", Permission::Delete) == Grant::All);
}

#[test]
fn refresh_may_narrow_but_not_widen() {
    let granted = set("patient/Observation.rs patient/Patient.r openid offline_access");
    assert!(set("patient/Observation.r").is_within(&granted));
    assert!(set("patient/Observation.read openid").is_within(&granted));
    assert!(!set("patient/Observation.rs patient/Condition.r").is_within(&granted));
    assert!(!set("user/Observation.rs").is_within(&granted));
    assert!(!set("patient/Observation.cruds").is_within(&granted));
    assert!(!set("fhirUser").is_within(&granted));
}

#[test]
fn requested_scopes_are_cut_to_what_the_policy_allows() {
    let policy = set("user/Observation.rs user/Patient.rs openid fhirUser");
    let asked = set("user/Observation.cruds user/Condition.rs openid launch");
    assert_eq!(
        asked.restrict_to(&policy).to_string(),
        "user/Observation.rs openid"
    );
}
