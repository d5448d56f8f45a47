//! The definitions the engine works with beside the R4 base: the terminology service, kept in
//! step with the CodeSystem, ValueSet and ConceptMap resources in the store (and behind the
//! search modifiers `:in`, `:not-in`, `:below` and `:above`), and the validator, which knows
//! the StructureDefinition resources in the store (profiles, extensions) besides the base.
//!
//! The first use reads every current resource of those types; after that, each use at most
//! once a second (and at once after any write through the engine) asks the store for versions
//! newer than the last one seen, through type history, so changes made by any path (REST,
//! Bundles, `$import`) take effect, and updates and deletions replace or remove what the old
//! version added. Resources that cannot be used as definitions (a CodeSystem with
//! `content = not-present`, a ValueSet whose compose is malformed) are skipped with a warning
//! naming the resource, never the data.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use medulla_search::CodeSets;
use medulla_store::{
    CodesOfSystem, HistoryQuery, HistoryScope, SearchQuery, Store, StoredResource,
};
use medulla_terminology::{
    CodeSystem, CodeSystemContent, Compose, ConceptMap, ConceptSet, ExpandOptions, Expansion,
    ExpansionContains, Filter, FilterOperator, Terminology, ValueSet,
};
use medulla_validation::{Structures, Validator};
use serde_json::Value;

use crate::Error;

/// The resource types whose resources are definitions for the terminology service and the
/// validator.
pub(crate) const DEFINITION_TYPES: [&str; 4] = [
    "CodeSystem",
    "ValueSet",
    "ConceptMap",
    "StructureDefinition",
];

/// Whether resources of `resource_type` are definitions the engine reads into its services.
pub(crate) fn is_definition_type(resource_type: &str) -> bool {
    DEFINITION_TYPES.contains(&resource_type)
}

/// How long a check for new definitions in the store holds when nothing was written through
/// the engine meanwhile.
const RECHECK: Duration = Duration::from_secs(1);

/// The terminology service and the validator, and their synchronisation with the store.
pub(crate) struct Definitions {
    terminology: Arc<Terminology>,
    /// Rebuilt whenever the stored StructureDefinitions change.
    validator: RwLock<Arc<Validator>>,
    store: Arc<dyn Store>,
    sync: Mutex<SyncState>,
    /// Set by every write through the engine: the next use checks the store at once.
    dirty: AtomicBool,
}

impl std::fmt::Debug for Definitions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Definitions").finish_non_exhaustive()
    }
}

#[derive(Default)]
struct SyncState {
    /// The newest store position read; `None` before the first load.
    last_seq: Option<i64>,
    checked: Option<Instant>,
    /// What each stored resource (type, id) added, so that its next version or its deletion
    /// takes it out again.
    added: HashMap<(String, String), Added>,
    /// The stored StructureDefinitions with a snapshot, by id.
    structures: BTreeMap<String, Value>,
    /// `structures` changed since the validator was built.
    structures_changed: bool,
}

/// A definition added from a stored resource: type, url, version.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Added {
    CodeSystem(String, Option<String>),
    ValueSet(String, Option<String>),
    ConceptMap(String, Option<String>),
    /// A StructureDefinition, kept in `SyncState::structures` under the resource's id.
    Structure,
}

impl Definitions {
    pub(crate) fn new(terminology: Arc<Terminology>, store: Arc<dyn Store>) -> Definitions {
        Definitions {
            validator: RwLock::new(Arc::new(Validator::new(
                Structures::r4(),
                Arc::clone(&terminology),
            ))),
            terminology,
            store,
            sync: Mutex::new(SyncState::default()),
            dirty: AtomicBool::new(true),
        }
    }

    /// Something was written: check the store on the next use.
    pub(crate) fn invalidate(&self) {
        self.dirty.store(true, Ordering::Release);
    }

    /// The service, with the store's definitions applied.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub(crate) fn current(&self) -> Result<&Arc<Terminology>, Error> {
        self.refresh()?;
        Ok(&self.terminology)
    }

    /// The validator, knowing the store's StructureDefinitions.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub(crate) fn validator(&self) -> Result<Arc<Validator>, Error> {
        self.refresh()?;
        Ok(Arc::clone(
            &self
                .validator
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        ))
    }

    /// A new validator over the base definitions and the stored ones. A StructureDefinition
    /// the validator refuses (no snapshot, a malicious regex) is left out with a warning.
    fn rebuild_validator(&self, sync: &mut SyncState) {
        let mut structures = Structures::r4();
        for (id, definition) in &sync.structures {
            if let Err(error) = structures.add_profile(definition) {
                tracing::warn!(id = %id, %error, "StructureDefinition not used by the validator");
            }
        }
        let validator = Arc::new(Validator::new(structures, Arc::clone(&self.terminology)));
        *self
            .validator
            .write()
            .unwrap_or_else(PoisonError::into_inner) = validator;
        sync.structures_changed = false;
    }

    fn refresh(&self) -> Result<(), Error> {
        let mut sync = self.sync.lock().unwrap_or_else(PoisonError::into_inner);
        let dirty = self.dirty.swap(false, Ordering::AcqRel);
        if !dirty && sync.checked.is_some_and(|at| at.elapsed() < RECHECK) {
            return Ok(());
        }
        let head = self.head()?;
        match sync.last_seq {
            None => self.load_all(&mut sync)?,
            Some(last) if head > last => self.load_since(&mut sync, last)?,
            Some(_) => {}
        }
        if sync.structures_changed {
            self.rebuild_validator(&mut sync);
        }
        sync.last_seq = Some(head);
        sync.checked = Some(Instant::now());
        Ok(())
    }

    /// The newest store position among the definition types (0 when there are none).
    fn head(&self) -> Result<i64, Error> {
        let mut head = 0;
        for resource_type in DEFINITION_TYPES {
            let page = self.store.history(&HistoryQuery {
                scope: HistoryScope::Type(resource_type.to_owned()),
                since: None,
                at: None,
                count: 1,
                before_seq: None,
            })?;
            if let Some(newest) = page.entries.first() {
                head = head.max(newest.seq);
            }
        }
        Ok(head)
    }

    /// Every current definition resource. Versions committed while this runs are read again
    /// by the next check (applying one twice changes nothing).
    fn load_all(&self, sync: &mut SyncState) -> Result<(), Error> {
        let queries: Vec<SearchQuery> = DEFINITION_TYPES
            .iter()
            .map(|resource_type| SearchQuery {
                resource_types: vec![(*resource_type).to_owned()],
                ..SearchQuery::default()
            })
            .collect();
        let mut found = Vec::new();
        self.store.scan(&queries, &mut |resource| {
            found.push(resource);
            Ok(true)
        })?;
        for resource in &found {
            self.apply(sync, resource);
        }
        Ok(())
    }

    /// The versions after `last`, newest of each resource, applied in commit order.
    fn load_since(&self, sync: &mut SyncState, last: i64) -> Result<(), Error> {
        let mut newest: HashMap<(String, String), StoredResource> = HashMap::new();
        for resource_type in DEFINITION_TYPES {
            let mut before_seq = None;
            'pages: loop {
                let page = self.store.history(&HistoryQuery {
                    scope: HistoryScope::Type(resource_type.to_owned()),
                    since: None,
                    at: None,
                    count: 100,
                    before_seq,
                })?;
                for entry in page.entries {
                    if entry.seq <= last {
                        break 'pages;
                    }
                    let key = (entry.resource_type.clone(), entry.id.clone());
                    // History runs newest first: the first version seen of each is its newest.
                    newest.entry(key).or_insert(entry);
                }
                match page.next_before_seq {
                    Some(next) => before_seq = Some(next),
                    None => break,
                }
            }
        }
        let mut changes: Vec<StoredResource> = newest.into_values().collect();
        changes.sort_by_key(|resource| resource.seq);
        for resource in &changes {
            self.apply(sync, resource);
        }
        Ok(())
    }

    /// Replaces what the resource's earlier version added with what this version defines.
    fn apply(&self, sync: &mut SyncState, resource: &StoredResource) {
        let key = (resource.resource_type.clone(), resource.id.clone());
        if let Some(previous) = sync.added.remove(&key) {
            match &previous {
                Added::CodeSystem(url, version) => {
                    self.terminology
                        .remove_added_code_system(url, version.as_deref());
                }
                Added::ValueSet(url, version) => {
                    self.terminology.remove_value_set(url, version.as_deref());
                }
                Added::ConceptMap(url, version) => {
                    self.terminology.remove_concept_map(url, version.as_deref());
                }
                Added::Structure => {
                    sync.structures.remove(&resource.id);
                    sync.structures_changed = true;
                }
            }
            if previous != Added::Structure {
                self.restore_twin(sync, &resource.resource_type, &previous);
            }
        }
        let Some(body) = &resource.body else {
            return;
        };
        let json: Value = match serde_json::from_slice(body) {
            Ok(json) => json,
            Err(error) => {
                tracing::warn!(resource_type = %resource.resource_type, id = %resource.id, %error, "stored definition is not JSON");
                return;
            }
        };
        if resource.resource_type == "StructureDefinition" {
            sync.structures.insert(resource.id.clone(), json);
            sync.structures_changed = true;
            sync.added.insert(key, Added::Structure);
            return;
        }
        match self.define(&resource.resource_type, &json) {
            Ok(Some(added)) => {
                sync.added.insert(key, added);
            }
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(resource_type = %resource.resource_type, id = %resource.id, %error, "stored definition not used by the terminology service");
            }
        }
    }

    /// After a definition was removed, another stored resource defining the same url and
    /// version (a copy, another package's) takes its place again.
    fn restore_twin(&self, sync: &mut SyncState, resource_type: &str, removed: &Added) {
        let twin = sync
            .added
            .iter()
            .filter(|((kind, _), added)| kind == resource_type && *added == removed)
            .map(|((_, id), _)| id.clone())
            .min();
        let Some(id) = twin else {
            return;
        };
        let stored = match self.store.read(resource_type, &id) {
            Ok(Some(stored)) => stored,
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(resource_type, id = %id, %error, "cannot read a stored definition");
                return;
            }
        };
        let Some(json) = stored
            .body
            .as_deref()
            .and_then(|body| serde_json::from_slice::<Value>(body).ok())
        else {
            return;
        };
        if let Err(error) = self.define(resource_type, &json) {
            tracing::warn!(resource_type, id = %id, %error, "stored definition not used by the terminology service");
        }
    }

    fn define(
        &self,
        resource_type: &str,
        json: &Value,
    ) -> Result<Option<Added>, medulla_terminology::Error> {
        match resource_type {
            "CodeSystem" => {
                let system = CodeSystem::from_json(json)?;
                // A stub naming an external system (SNOMED CT, LOINC) or a supplement must not
                // shadow the release loaded from files.
                if matches!(
                    system.info().content,
                    CodeSystemContent::NotPresent | CodeSystemContent::Supplement
                ) {
                    return Ok(None);
                }
                // Nor may a fragment or an example of a system the service already has (a
                // loaded release, the built-in content) replace it.
                if matches!(
                    system.info().content,
                    CodeSystemContent::Fragment | CodeSystemContent::Example
                ) && self.terminology.code_system(system.url()).is_ok()
                {
                    return Ok(None);
                }
                let added =
                    Added::CodeSystem(system.url().to_owned(), system.version().map(str::to_owned));
                self.terminology.add_code_system(system);
                Ok(Some(added))
            }
            "ValueSet" => {
                let value_set = ValueSet::from_json(json)?;
                let added = Added::ValueSet(value_set.url.clone(), value_set.version.clone());
                self.terminology.add_value_set(value_set);
                Ok(Some(added))
            }
            "ConceptMap" => {
                let map = ConceptMap::from_json(json)?;
                let added = Added::ConceptMap(map.url.clone(), map.version.clone());
                self.terminology.add_concept_map(map);
                Ok(Some(added))
            }
            _ => Ok(None),
        }
    }
}

/// The codes of an expansion, grouped by code system.
fn group_by_system(expansion: &Expansion) -> Vec<CodesOfSystem> {
    fn walk(contains: &[ExpansionContains], out: &mut Vec<CodesOfSystem>) {
        for item in contains {
            match out.iter_mut().find(|codes| codes.system == item.system) {
                Some(codes) => codes.codes.push(item.code.clone()),
                None => out.push(CodesOfSystem {
                    system: item.system.clone(),
                    codes: vec![item.code.clone()],
                }),
            }
            walk(&item.contains, out);
        }
    }
    let mut out = Vec::new();
    walk(&expansion.contains, &mut out);
    out
}

fn too_many(limit: usize) -> String {
    format!("the set has more than {limit} codes, more than a search can take; narrow it")
}

fn message(error: &medulla_terminology::Error, limit: usize) -> String {
    match error {
        medulla_terminology::Error::ExpansionTooLarge { .. } => too_many(limit),
        other => other.to_string(),
    }
}

impl CodeSets for Definitions {
    fn value_set(&self, url: &str, limit: usize) -> Result<Vec<CodesOfSystem>, String> {
        let terminology = self.current().map_err(|error| error.to_string())?;
        let options = ExpandOptions {
            limit,
            ..ExpandOptions::default()
        };
        // `ValueSet/123` names a stored resource rather than a canonical URL.
        let expansion = match url.strip_prefix("ValueSet/") {
            Some(id) if !url.contains(':') => {
                let stored = self
                    .store
                    .read("ValueSet", id)
                    .map_err(|error| error.to_string())?
                    .and_then(|stored| stored.body)
                    .ok_or_else(|| format!("ValueSet/{id} is not known"))?;
                let json: Value =
                    serde_json::from_slice(&stored).map_err(|error| error.to_string())?;
                let definition = ValueSet::from_json(&json).map_err(|error| error.to_string())?;
                terminology.expand_definition(&definition, &options)
            }
            _ => terminology.expand(url, &options),
        }
        .map_err(|error| message(&error, limit))?;
        Ok(group_by_system(&expansion))
    }

    fn hierarchy(
        &self,
        system: &str,
        code: &str,
        below: bool,
        limit: usize,
    ) -> Result<Vec<CodesOfSystem>, String> {
        let terminology = self.current().map_err(|error| error.to_string())?;
        // The code itself must exist: `:below` of a typo would otherwise match nothing quietly.
        terminology
            .lookup(system, code)
            .map_err(|error| error.to_string())?;
        let mut include = ConceptSet::system(system);
        include.filters.push(Filter {
            property: "concept".to_owned(),
            op: if below {
                FilterOperator::IsA
            } else {
                FilterOperator::Generalizes
            },
            value: code.to_owned(),
        });
        let definition = ValueSet::new(
            format!("{system}?fhir_vs"),
            Compose {
                include: vec![include],
                ..Compose::default()
            },
        );
        let options = ExpandOptions {
            limit,
            ..ExpandOptions::default()
        };
        let expansion = terminology
            .expand_definition(&definition, &options)
            .map_err(|error| message(&error, limit))?;
        Ok(group_by_system(&expansion))
    }
}
