//! The SMART scope grammar.
//!
//! ```text
//! scope          = context "/" type "." permissions [ "?" query ]
//! context        = "patient" / "user" / "system"
//! type           = a resource type / "*"
//! permissions    = v1: "read" / "write" / "*"      (read = rs, write = cud, * = cruds)
//!                / v2: a non-empty ordered subset of "cruds"
//! ```
//! Query strings (granular scopes) are only allowed with v2 permissions. Everything else
//! (`openid`, `fhirUser`, `launch/patient`, `offline_access` …) is a [`Scope`] of its own kind.

use std::fmt;

/// Whose data a resource scope speaks of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Context {
    /// The launch patient's compartment.
    Patient,
    /// Whatever the user may see.
    User,
    /// A backend service acting for itself.
    System,
}

impl Context {
    fn as_str(self) -> &'static str {
        match self {
            Context::Patient => "patient",
            Context::User => "user",
            Context::System => "system",
        }
    }
}

/// One SMART v2 permission letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// `c`: create.
    Create,
    /// `r`: read and vread (and history of a known instance).
    Read,
    /// `u`: update and patch.
    Update,
    /// `d`: delete.
    Delete,
    /// `s`: search (and type/system history).
    Search,
}

impl Permission {
    const ALL: [Permission; 5] = [
        Permission::Create,
        Permission::Read,
        Permission::Update,
        Permission::Delete,
        Permission::Search,
    ];

    fn bit(self) -> u8 {
        match self {
            Permission::Create => 1,
            Permission::Read => 2,
            Permission::Update => 4,
            Permission::Delete => 8,
            Permission::Search => 16,
        }
    }

    fn letter(self) -> char {
        match self {
            Permission::Create => 'c',
            Permission::Read => 'r',
            Permission::Update => 'u',
            Permission::Delete => 'd',
            Permission::Search => 's',
        }
    }
}

/// A set of permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Permissions(u8);

impl Permissions {
    /// Everything: `cruds`.
    pub const ALL: Permissions = Permissions(31);

    /// Whether `permission` is in the set.
    pub fn contains(self, permission: Permission) -> bool {
        self.0 & permission.bit() != 0
    }

    /// Whether every permission of `other` is in this set.
    pub fn includes(self, other: Permissions) -> bool {
        self.0 & other.0 == other.0
    }

    /// The set with `permission` added.
    pub fn with(self, permission: Permission) -> Permissions {
        Permissions(self.0 | permission.bit())
    }

    /// The permissions in both sets.
    pub fn intersect(self, other: Permissions) -> Permissions {
        Permissions(self.0 & other.0)
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// v1 `read` (`rs`), `write` (`cud`), `*` (`cruds`); v2 an ordered subset of `cruds`.
    fn parse(text: &str) -> Option<(Permissions, bool)> {
        match text {
            "read" => return Some((Permissions(2 | 16), false)),
            "write" => return Some((Permissions(1 | 4 | 8), false)),
            "*" => return Some((Permissions::ALL, false)),
            _ => {}
        }
        let mut set = Permissions::default();
        let mut next = 0;
        for letter in text.chars() {
            let position = Permission::ALL[next..]
                .iter()
                .position(|p| p.letter() == letter)?;
            set = set.with(Permission::ALL[next + position]);
            next += position + 1;
        }
        (!set.is_empty()).then_some((set, true))
    }
}

impl fmt::Display for Permissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for permission in Permission::ALL {
            if self.contains(permission) {
                write!(f, "{}", permission.letter())?;
            }
        }
        Ok(())
    }
}

/// A scope on resources: `patient/Observation.rs?category=vital-signs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceScope {
    /// `patient`, `user` or `system`.
    pub context: Context,
    /// The resource type; `None` for `*`.
    pub resource_type: Option<String>,
    /// What it allows.
    pub permissions: Permissions,
    /// Granular limit: search parameters a resource must match (v2 only).
    pub query: Vec<(String, String)>,
    /// Written in v2 syntax (letters), as opposed to v1 (`read`/`write`/`*`).
    pub v2: bool,
}

impl ResourceScope {
    /// Whether this scope speaks of `interaction` on `resource_type`.
    pub fn covers(&self, resource_type: &str, interaction: Permission) -> bool {
        self.permissions.contains(interaction)
            && self
                .resource_type
                .as_deref()
                .is_none_or(|t| t == resource_type)
    }

    /// Whether everything this scope allows, `other` allows too (used to refuse escalation:
    /// a refreshed token may only narrow).
    pub fn is_within(&self, other: &ResourceScope) -> bool {
        self.context == other.context
            && (other.resource_type.is_none() || other.resource_type == self.resource_type)
            && other.permissions.includes(self.permissions)
            && (other.query.is_empty() || other.query == self.query)
    }
}

impl fmt::Display for ResourceScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}.",
            self.context.as_str(),
            self.resource_type.as_deref().unwrap_or("*")
        )?;
        if self.v2 {
            write!(f, "{}", self.permissions)?;
        } else if self.permissions == Permissions::ALL {
            write!(f, "*")?;
        } else if self.permissions == Permissions(2 | 16) {
            write!(f, "read")?;
        } else {
            write!(f, "write")?;
        }
        for (index, (name, value)) in self.query.iter().enumerate() {
            let separator = if index == 0 { '?' } else { '&' };
            write!(f, "{separator}{name}={value}")?;
        }
        Ok(())
    }
}

/// One scope of a token request or grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Access to resources.
    Resource(ResourceScope),
    /// `openid`: an ID token is wanted.
    OpenId,
    /// `fhirUser`: the ID token names the user's FHIR resource.
    FhirUser,
    /// `profile` (SMART v1 alias of `fhirUser`).
    Profile,
    /// `launch`: EHR launch (with the `launch` parameter).
    Launch,
    /// `launch/patient`: pick a patient at authorization.
    LaunchPatient,
    /// `launch/encounter`: pick an encounter at authorization.
    LaunchEncounter,
    /// `offline_access`: a refresh token that outlives the session.
    OfflineAccess,
    /// `online_access`: a refresh token for the session.
    OnlineAccess,
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Resource(scope) => scope.fmt(f),
            Scope::OpenId => f.write_str("openid"),
            Scope::FhirUser => f.write_str("fhirUser"),
            Scope::Profile => f.write_str("profile"),
            Scope::Launch => f.write_str("launch"),
            Scope::LaunchPatient => f.write_str("launch/patient"),
            Scope::LaunchEncounter => f.write_str("launch/encounter"),
            Scope::OfflineAccess => f.write_str("offline_access"),
            Scope::OnlineAccess => f.write_str("online_access"),
        }
    }
}

/// Why a scope string is not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid scope {scope:?}: {reason}")]
pub struct ScopeError {
    /// The scope as written.
    pub scope: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl Scope {
    /// Parses one scope. `is_resource_type` says which names are resource types (the caller
    /// owns the definitions).
    ///
    /// # Errors
    /// Unknown scope kinds, contexts, resource types, permissions, and queries on v1 scopes.
    pub fn parse(text: &str, is_resource_type: &dyn Fn(&str) -> bool) -> Result<Scope, ScopeError> {
        let error = |reason| ScopeError {
            scope: text.to_owned(),
            reason,
        };
        match text {
            "openid" => return Ok(Scope::OpenId),
            "fhirUser" => return Ok(Scope::FhirUser),
            "profile" => return Ok(Scope::Profile),
            "launch" => return Ok(Scope::Launch),
            "launch/patient" => return Ok(Scope::LaunchPatient),
            "launch/encounter" => return Ok(Scope::LaunchEncounter),
            "offline_access" => return Ok(Scope::OfflineAccess),
            "online_access" => return Ok(Scope::OnlineAccess),
            _ => {}
        }
        let (context, rest) = text
            .split_once('/')
            .ok_or_else(|| error("not a known scope"))?;
        let context = match context {
            "patient" => Context::Patient,
            "user" => Context::User,
            "system" => Context::System,
            _ => return Err(error("the context must be patient, user or system")),
        };
        let (head, query) = match rest.split_once('?') {
            Some((head, query)) => (head, Some(query)),
            None => (rest, None),
        };
        let (resource_type, permissions) = head
            .rsplit_once('.')
            .ok_or_else(|| error("expected Type.permissions"))?;
        let resource_type = match resource_type {
            "*" => None,
            t if is_resource_type(t) => Some(t.to_owned()),
            _ => return Err(error("unknown resource type")),
        };
        let (permissions, v2) = Permissions::parse(permissions).ok_or_else(|| {
            error("permissions must be read, write, * or an ordered subset of cruds")
        })?;
        let query = match query {
            None => Vec::new(),
            Some(_) if !v2 => return Err(error("granular queries need v2 permissions (cruds)")),
            Some(query) => parse_query(query)
                .ok_or_else(|| error("the query must be name=value pairs joined by &"))?,
        };
        Ok(Scope::Resource(ResourceScope {
            context,
            resource_type,
            permissions,
            query,
            v2,
        }))
    }
}

fn parse_query(query: &str) -> Option<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=')?;
        if name.is_empty() || value.is_empty() {
            return None;
        }
        pairs.push((percent_decode(name)?, percent_decode(value)?));
    }
    (!pairs.is_empty()).then_some(pairs)
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'%' => {
                let hex = text.get(index + 1..index + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                index += 3;
            }
            b'+' => {
                out.push(b' ');
                index += 1;
            }
            byte => {
                out.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// The scopes of a token, in the order written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeSet {
    scopes: Vec<Scope>,
}

impl ScopeSet {
    /// Parses a space-separated scope string.
    ///
    /// # Errors
    /// The first scope that is not understood.
    pub fn parse(
        text: &str,
        is_resource_type: &dyn Fn(&str) -> bool,
    ) -> Result<ScopeSet, ScopeError> {
        let mut scopes: Vec<Scope> = Vec::new();
        for word in text.split_ascii_whitespace() {
            let scope = Scope::parse(word, is_resource_type)?;
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        Ok(ScopeSet { scopes })
    }

    /// Parses what it can and drops the rest (for token requests, where unknown scopes are
    /// ignored rather than failing the grant); returns the dropped words too.
    pub fn parse_lenient(
        text: &str,
        is_resource_type: &dyn Fn(&str) -> bool,
    ) -> (ScopeSet, Vec<String>) {
        let mut set = ScopeSet::default();
        let mut dropped = Vec::new();
        for word in text.split_ascii_whitespace() {
            match Scope::parse(word, is_resource_type) {
                Ok(scope) if !set.scopes.contains(&scope) => set.scopes.push(scope),
                Ok(_) => {}
                Err(_) => dropped.push(word.to_owned()),
            }
        }
        (set, dropped)
    }

    /// A set from scopes.
    pub fn from_scopes(scopes: Vec<Scope>) -> ScopeSet {
        ScopeSet { scopes }
    }

    /// The scopes.
    pub fn scopes(&self) -> &[Scope] {
        &self.scopes
    }

    /// Whether the set holds `scope`.
    pub fn contains(&self, scope: &Scope) -> bool {
        self.scopes.contains(scope)
    }

    /// Whether the set holds no scope.
    pub fn is_empty(&self) -> bool {
        self.scopes.is_empty()
    }

    /// The resource scopes.
    pub fn resource_scopes(&self) -> impl Iterator<Item = &ResourceScope> {
        self.scopes.iter().filter_map(|scope| match scope {
            Scope::Resource(resource) => Some(resource),
            _ => None,
        })
    }

    /// The scopes of `self` that `allowed` permits: non-resource scopes must appear in
    /// `allowed`; a resource scope is kept when some allowed resource scope covers it whole,
    /// or narrowed to the permissions an allowed scope of the same context and type grants.
    pub fn restrict_to(&self, allowed: &ScopeSet) -> ScopeSet {
        let mut kept = Vec::new();
        for scope in &self.scopes {
            match scope {
                Scope::Resource(wanted) => {
                    if allowed
                        .resource_scopes()
                        .any(|granted| wanted.is_within(granted))
                    {
                        kept.push(scope.clone());
                        continue;
                    }
                    // Narrow the permissions: `user/Observation.cruds` asked, `.rs` granted.
                    let granted = allowed
                        .resource_scopes()
                        .filter(|granted| {
                            granted.context == wanted.context
                                && (granted.resource_type.is_none()
                                    || granted.resource_type == wanted.resource_type)
                                && (granted.query.is_empty() || granted.query == wanted.query)
                        })
                        .fold(Permissions::default(), |set, granted| {
                            Permissions(set.0 | granted.permissions.0)
                        });
                    let narrowed = wanted.permissions.intersect(granted);
                    if !narrowed.is_empty() {
                        kept.push(Scope::Resource(ResourceScope {
                            permissions: narrowed,
                            v2: true,
                            ..wanted.clone()
                        }));
                    }
                }
                other if allowed.contains(other) => kept.push(other.clone()),
                _ => {}
            }
        }
        ScopeSet { scopes: kept }
    }

    /// Whether every scope of `self` is within `other` (a refresh may narrow, never widen).
    pub fn is_within(&self, other: &ScopeSet) -> bool {
        self.scopes.iter().all(|scope| match scope {
            Scope::Resource(wanted) => other
                .resource_scopes()
                .any(|granted| wanted.is_within(granted)),
            other_kind => other.contains(other_kind),
        })
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, scope) in self.scopes.iter().enumerate() {
            if index > 0 {
                f.write_str(" ")?;
            }
            scope.fmt(f)?;
        }
        Ok(())
    }
}
