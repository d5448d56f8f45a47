//! The terminology service: [`Terminology`], which knows every code system and value set
//! (built-in, added, or stored in the terminology file) and resolves canonical references to
//! them.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};
use std::time::{Duration, Instant};

use crate::Error;
use crate::builtin;
use crate::code_index::FastBuildHasher;
use crate::code_system::CodeSystem;
use crate::compiled::{CompiledValueSet, compile};
use crate::database::Database;
use crate::definitions::CodeSystemInfo;
use crate::snomed::{self, Rf2Stats, SnomedOptions};
use crate::translate::ConceptMapRegistry;
use crate::value_set::{Compose, ConceptSet, Filter, FilterOperator, ValueSet, split_canonical};

/// `900000000000455006 |Reference set|`, the parent of every reference set concept.
const REFERENCE_SET: u64 = 900_000_000_000_455_006;

/// Compiled value sets kept at most; the cache is emptied when it would grow past this (implicit
/// value sets such as `?fhir_vs=isa/…` can name any concept).
const COMPILED_CACHE_LIMIT: usize = 4096;

/// Code systems and value sets, and the terminology operations over them (`$lookup`,
/// `$validate-code`, `$subsumes`, `$expand`: see the methods).
///
/// Lookups resolve a canonical URL (optionally `url|version`) to, in order: a code system or
/// value set added or loaded into this service (newest first), then the FHIR R4 built-in
/// content, which is parsed from the binary on first use. Code systems stored in the
/// terminology file are read into memory on first use too.
///
/// `Terminology` is `Send + Sync`; share it as `Arc<Terminology>`. Reads take a read lock on
/// the registry for a hash lookup and clone an `Arc`; loads and additions take the write lock
/// only to swap entries in.
#[derive(Debug)]
pub struct Terminology {
    database: Option<Mutex<Database>>,
    registry: RwLock<Registry>,
    compiled: RwLock<HashMap<String, Arc<CompiledValueSet>, FastBuildHasher>>,
    /// Bumped whenever content changes, so a compile that raced a change is not cached.
    generation: AtomicU64,
    /// Concept maps added (see [`crate::translate`]).
    pub(crate) concept_maps: ConceptMapRegistry,
}

#[derive(Debug, Default)]
struct Registry {
    code_systems: HashMap<String, Vec<SystemEntry>, FastBuildHasher>,
    value_sets: HashMap<String, Vec<Arc<ValueSet>>, FastBuildHasher>,
}

#[derive(Debug, Clone)]
enum SystemEntry {
    Ready(Arc<CodeSystem>),
    Stored(Arc<StoredSystem>),
}

/// A code system in the terminology file, read into memory on first use.
#[derive(Debug)]
struct StoredSystem {
    key: i64,
    info: CodeSystemInfo,
    loaded: OnceLock<Arc<CodeSystem>>,
}

impl SystemEntry {
    fn version(&self) -> Option<&str> {
        match self {
            SystemEntry::Ready(system) => system.version(),
            SystemEntry::Stored(stored) => stored.info.version.as_deref(),
        }
    }
}

/// What [`Terminology::load_snomed`] did.
#[derive(Debug, Clone)]
pub struct SnomedLoad {
    /// What was read from the release files.
    pub stats: Rf2Stats,
    /// The version URI given to the code system.
    pub version: Option<String>,
    /// Time to read the files and build the indexes (closure and word index included).
    pub read_time: Duration,
    /// Time to write the code system to the terminology file; `None` without a file.
    pub save_time: Option<Duration>,
    /// The loaded code system.
    pub system: Arc<CodeSystem>,
}

impl Terminology {
    /// A terminology service with the built-in content only, kept in memory.
    pub fn in_memory() -> Terminology {
        Terminology {
            database: None,
            registry: RwLock::new(Registry::default()),
            compiled: RwLock::new(HashMap::default()),
            generation: AtomicU64::new(0),
            concept_maps: ConceptMapRegistry::default(),
        }
    }

    /// Opens (or creates) the terminology file in `dir` (the data directory's `terminology`
    /// folder) and lists the code systems stored in it; each is read into memory on first use.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the folder cannot be created, [`Error::Database`] or
    /// [`Error::LayoutVersion`] if the file cannot be opened or was written by another layout.
    pub fn open(dir: &Path) -> Result<Terminology, Error> {
        let database = Database::open(dir)?;
        let mut registry = Registry::default();
        for (key, info) in database.list()? {
            registry
                .code_systems
                .entry(info.url.clone())
                .or_default()
                .push(SystemEntry::Stored(Arc::new(StoredSystem {
                    key,
                    info,
                    loaded: OnceLock::new(),
                })));
        }
        Ok(Terminology {
            database: Some(Mutex::new(database)),
            registry: RwLock::new(registry),
            compiled: RwLock::new(HashMap::default()),
            generation: AtomicU64::new(0),
            concept_maps: ConceptMapRegistry::default(),
        })
    }

    /// Adds a code system in memory only, replacing one of the same URL and version. It takes
    /// precedence over built-in content of the same URL.
    pub fn add_code_system(&self, system: CodeSystem) -> Arc<CodeSystem> {
        let system = Arc::new(system);
        self.register(SystemEntry::Ready(Arc::clone(&system)), system.url());
        system
    }

    /// Writes a code system to the terminology file (replacing one of the same URL and version,
    /// in one transaction) and adds it.
    ///
    /// # Errors
    ///
    /// [`Error::NoDatabase`] for an in-memory service; [`Error::Database`] if the write fails,
    /// in which case the file still holds what it held before.
    pub fn save_code_system(&self, system: CodeSystem) -> Result<Arc<CodeSystem>, Error> {
        let Some(database) = &self.database else {
            return Err(Error::NoDatabase {
                system: system.url().to_owned(),
            });
        };
        database
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .save(&system)?;
        Ok(self.add_code_system(system))
    }

    /// Adds a value set in memory, replacing one of the same URL and version.
    pub fn add_value_set(&self, value_set: ValueSet) {
        {
            let mut registry = self
                .registry
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            let entries = registry
                .value_sets
                .entry(value_set.url.clone())
                .or_default();
            entries.retain(|known| known.version != value_set.version);
            entries.push(Arc::new(value_set));
        }
        self.content_changed();
    }

    /// Removes the code system with this URL and version (`None`: the one without a version)
    /// from the service and, if it is stored there, from the terminology file. Returns whether
    /// there was one. Built-in code systems cannot be removed.
    ///
    /// # Errors
    ///
    /// [`Error::Database`] if the file cannot be changed; the code system is then still there.
    pub fn remove_code_system(&self, url: &str, version: Option<&str>) -> Result<bool, Error> {
        if let Some(database) = &self.database {
            database
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .delete(url, version.unwrap_or(""))?;
        }
        Ok(self.remove_code_system_entries(url, |known| known.version() == version))
    }

    /// Removes the value set added with this URL and version (`None`: the one without a
    /// version). Returns whether there was one. Built-in value sets cannot be removed.
    pub fn remove_value_set(&self, url: &str, version: Option<&str>) -> bool {
        let removed = {
            let mut registry = self
                .registry
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            let Some(entries) = registry.value_sets.get_mut(url) else {
                return false;
            };
            let before = entries.len();
            entries.retain(|known| known.version.as_deref() != version);
            let removed = entries.len() != before;
            if entries.is_empty() {
                registry.value_sets.remove(url);
            }
            removed
        };
        if removed {
            self.content_changed();
        }
        removed
    }

    /// Whether the service keeps loaded code systems in a terminology file.
    pub(crate) fn has_database(&self) -> bool {
        self.database.is_some()
    }

    /// Reads a SNOMED CT RF2 Snapshot release from `dir` ([`snomed::read_snapshot`]), writes
    /// it to the terminology file if there is one, and adds it.
    ///
    /// # Errors
    ///
    /// What [`snomed::read_snapshot`] and [`Terminology::save_code_system`] return.
    pub fn load_snomed(&self, dir: &Path, options: &SnomedOptions) -> Result<SnomedLoad, Error> {
        let started = Instant::now();
        let (system, stats) = snomed::read_snapshot(dir, options)?;
        let read_time = started.elapsed();
        let version = system.version().map(str::to_owned);
        let (system, save_time) = if self.database.is_some() {
            let saving = Instant::now();
            let system = self.save_code_system(system)?;
            (system, Some(saving.elapsed()))
        } else {
            (self.add_code_system(system), None)
        };
        tracing::info!(
            concepts = stats.concepts,
            descriptions = stats.descriptions,
            is_a = stats.is_a_relationships,
            read_ms = read_time.as_millis() as u64,
            "loaded SNOMED CT"
        );
        Ok(SnomedLoad {
            stats,
            version,
            read_time,
            save_time,
            system,
        })
    }

    /// The code system for `system` (`url` or `url|version`).
    ///
    /// # Errors
    ///
    /// [`Error::UnknownCodeSystem`] or [`Error::UnknownCodeSystemVersion`] if it is not
    /// loaded; [`Error::Database`] if a stored code system cannot be read.
    pub fn code_system(&self, system: &str) -> Result<Arc<CodeSystem>, Error> {
        let (url, version) = split_canonical(system);
        self.find_code_system(url, version)?
            .ok_or_else(|| Error::UnknownCodeSystem {
                system: system.to_owned(),
            })
    }

    /// Runs `action` on the code system for `system` (`url` or `url|version`). For one that is
    /// added or already read into memory it runs under the registry's read lock, without
    /// cloning the `Arc`: the hot path of `$subsumes` and `$validate-code`.
    pub(crate) fn with_code_system<R>(
        &self,
        system: &str,
        action: impl FnOnce(&CodeSystem) -> R,
    ) -> Result<R, Error> {
        let (url, version) = split_canonical(system);
        {
            let registry = self.registry.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(entries) = registry.code_systems.get(url) {
                let entry = match version {
                    None => entries.last(),
                    Some(version) => entries
                        .iter()
                        .rev()
                        .find(|entry| entry.version() == Some(version)),
                };
                match entry {
                    Some(SystemEntry::Ready(code_system)) => return Ok(action(code_system)),
                    Some(SystemEntry::Stored(stored)) => {
                        if let Some(code_system) = stored.loaded.get() {
                            return Ok(action(code_system));
                        }
                    }
                    None => {}
                }
            }
        }
        let code_system = self.code_system(system)?;
        Ok(action(&code_system))
    }

    /// The metadata of the code systems added, loaded or stored (not the built-in ones).
    pub fn loaded_code_systems(&self) -> Vec<CodeSystemInfo> {
        let registry = self.registry.read().unwrap_or_else(PoisonError::into_inner);
        let mut infos: Vec<CodeSystemInfo> = registry
            .code_systems
            .values()
            .flatten()
            .map(|entry| match entry {
                SystemEntry::Ready(system) => system.info().clone(),
                SystemEntry::Stored(stored) => stored.info.clone(),
            })
            .collect();
        infos.sort_by(|a, b| (&a.url, &a.version).cmp(&(&b.url, &b.version)));
        infos
    }

    /// The URLs of the built-in FHIR R4 value sets, sorted (parses the built-in content on
    /// first use).
    pub fn builtin_value_set_urls(&self) -> Vec<&'static str> {
        sorted_keys(&builtin::content().value_sets)
    }

    /// The URLs of the built-in FHIR R4 code systems, sorted.
    pub fn builtin_code_system_urls(&self) -> Vec<&'static str> {
        sorted_keys(&builtin::content().code_systems)
    }

    /// The value set definition for `value_set` (`url` or `url|version`), including implicit
    /// ones: `{code system}?fhir_vs` (all its concepts), `?fhir_vs=isa/{code}`,
    /// `?fhir_vs=ecl/{ECL}`, `?fhir_vs=refset/{code}` and `?fhir_vs=refset`.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownValueSet`] if there is none; [`Error::InvalidValueSet`] for another
    /// implicit value set form.
    pub fn value_set(&self, value_set: &str) -> Result<Arc<ValueSet>, Error> {
        let (url, version) = split_canonical(value_set);
        {
            let registry = self.registry.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(entries) = registry.value_sets.get(url) {
                let found = match version {
                    None => entries.last(),
                    Some(version) => entries
                        .iter()
                        .rev()
                        .find(|known| known.version.as_deref() == Some(version)),
                };
                if let Some(found) = found {
                    return Ok(Arc::clone(found));
                }
            }
        }
        if let Some(found) = builtin::content().value_sets.get(url)
            && version.is_none_or(|version| found.version.as_deref() == Some(version))
        {
            return Ok(Arc::clone(found));
        }
        if let Some((system, implicit)) = url.split_once("?fhir_vs") {
            return implicit_value_set(url, system, implicit).map(Arc::new);
        }
        Err(Error::UnknownValueSet {
            url: value_set.to_owned(),
        })
    }

    /// The code system `url` in `version` (or the newest, without one); `None` if the URL is
    /// not known at all.
    pub(crate) fn find_code_system(
        &self,
        url: &str,
        version: Option<&str>,
    ) -> Result<Option<Arc<CodeSystem>>, Error> {
        // Decide under the read lock, act (read a stored system, parse the built-in content)
        // after releasing it.
        enum Found {
            Entry(SystemEntry),
            OtherVersions(String),
            NotAdded,
        }
        let found = {
            let registry = self.registry.read().unwrap_or_else(PoisonError::into_inner);
            match registry.code_systems.get(url) {
                None => Found::NotAdded,
                Some(entries) => {
                    let entry = match version {
                        None => entries.last(),
                        Some(version) => entries
                            .iter()
                            .rev()
                            .find(|entry| entry.version() == Some(version)),
                    };
                    match entry {
                        Some(entry) => Found::Entry(entry.clone()),
                        None => Found::OtherVersions(
                            entries
                                .iter()
                                .map(|entry| entry.version().unwrap_or("(none)"))
                                .collect::<Vec<_>>()
                                .join(", "),
                        ),
                    }
                }
            }
        };
        let available = match found {
            Found::Entry(SystemEntry::Ready(system)) => return Ok(Some(system)),
            Found::Entry(SystemEntry::Stored(stored)) => {
                return self.read_stored(&stored).map(Some);
            }
            Found::OtherVersions(available) => Some(available),
            Found::NotAdded => None,
        };
        let builtin = builtin::content().code_systems.get(url);
        match (builtin, version) {
            (Some(system), Some(version)) if system.version() == Some(version) => {
                Ok(Some(Arc::clone(system)))
            }
            (Some(system), None) => Ok(Some(Arc::clone(system))),
            (None, _) if available.is_none() => Ok(None),
            (builtin, version) => {
                let mut versions: Vec<&str> = available.as_deref().into_iter().collect();
                versions.extend(builtin.map(|system| system.version().unwrap_or("(none)")));
                Err(Error::UnknownCodeSystemVersion {
                    system: url.to_owned(),
                    version: version.unwrap_or("").to_owned(),
                    available: versions.join(", "),
                })
            }
        }
    }

    /// Reads a stored code system into memory, once.
    fn read_stored(&self, stored: &StoredSystem) -> Result<Arc<CodeSystem>, Error> {
        if let Some(system) = stored.loaded.get() {
            return Ok(Arc::clone(system));
        }
        let Some(database) = &self.database else {
            return Err(Error::NoDatabase {
                system: stored.info.url.clone(),
            });
        };
        let database = database.lock().unwrap_or_else(PoisonError::into_inner);
        // Another thread may have read it while this one waited for the file.
        if let Some(system) = stored.loaded.get() {
            return Ok(Arc::clone(system));
        }
        let started = Instant::now();
        let system = Arc::new(database.read(stored.key, stored.info.clone())?);
        tracing::info!(
            concepts = system.len(),
            read_ms = started.elapsed().as_millis() as u64,
            "read a stored code system into memory"
        );
        Ok(Arc::clone(stored.loaded.get_or_init(|| system)))
    }

    /// The code system a compose include names; `None` if it is not loaded in that version
    /// (the include is then evaluated from its concept list alone, if it has one).
    pub(crate) fn code_system_for_compose(
        &self,
        url: &str,
        version: Option<&str>,
    ) -> Result<Option<Arc<CodeSystem>>, Error> {
        match self.find_code_system(url, version) {
            Err(Error::UnknownCodeSystemVersion { .. }) => Ok(None),
            other => other,
        }
    }

    /// The compiled form of `value_set` (`url` or `url|version`), cached.
    pub(crate) fn compiled_value_set(
        &self,
        value_set: &str,
    ) -> Result<Arc<CompiledValueSet>, Error> {
        self.compiled_for_import(value_set, &mut Vec::new())
    }

    /// The compiled form of `canonical`; `chain` holds the value sets whose compile led here.
    pub(crate) fn compiled_for_import(
        &self,
        canonical: &str,
        chain: &mut Vec<String>,
    ) -> Result<Arc<CompiledValueSet>, Error> {
        if let Some(found) = self
            .compiled
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(canonical)
        {
            return Ok(Arc::clone(found));
        }
        let generation = self.generation.load(Ordering::Acquire);
        let definition = self.value_set(canonical)?;
        let compiled = Arc::new(compile(self, &definition, chain)?);
        let mut cache = self
            .compiled
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if self.generation.load(Ordering::Acquire) == generation {
            if cache.len() >= COMPILED_CACHE_LIMIT {
                cache.clear();
            }
            cache.insert(canonical.to_owned(), Arc::clone(&compiled));
        }
        Ok(compiled)
    }

    fn register(&self, entry: SystemEntry, url: &str) {
        {
            let mut registry = self
                .registry
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            let entries = registry.code_systems.entry(url.to_owned()).or_default();
            let version = entry.version().map(str::to_owned);
            entries.retain(|known| known.version() != version.as_deref());
            entries.push(entry);
        }
        self.content_changed();
    }

    /// Removes the code system `url` in `version` that was added in memory (a stored release
    /// stays in the terminology file; built-in content cannot be removed). True if one was.
    pub fn remove_added_code_system(&self, url: &str, version: Option<&str>) -> bool {
        self.remove_code_system_entries(url, |known| {
            matches!(known, SystemEntry::Ready(_)) && known.version() == version
        })
    }

    /// Removes the registered code systems of `url` that `matches`; true if any was.
    fn remove_code_system_entries(
        &self,
        url: &str,
        matches: impl Fn(&SystemEntry) -> bool,
    ) -> bool {
        let removed = {
            let mut registry = self
                .registry
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            let Some(entries) = registry.code_systems.get_mut(url) else {
                return false;
            };
            let before = entries.len();
            entries.retain(|known| !matches(known));
            let removed = entries.len() != before;
            if entries.is_empty() {
                registry.code_systems.remove(url);
            }
            removed
        };
        if removed {
            self.content_changed();
        }
        removed
    }

    fn content_changed(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.compiled
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

/// The keys of a map of the built-in content, sorted.
fn sorted_keys<V, S>(map: &'static HashMap<String, V, S>) -> Vec<&'static str> {
    let mut keys: Vec<&'static str> = map.keys().map(String::as_str).collect();
    keys.sort_unstable();
    keys
}

/// `{system}?fhir_vs` (all concepts), `{system}?fhir_vs=isa/{code}` (the concept and its
/// descendants), as FHIR defines for SNOMED CT and LOINC, for any code system; and, evaluated
/// as `constraint` filters, `?fhir_vs=ecl/{ECL}` (percent-encoded or not),
/// `?fhir_vs=refset/{code}` (the reference set's members) and `?fhir_vs=refset` (the reference
/// sets).
fn implicit_value_set(url: &str, system: &str, implicit: &str) -> Result<ValueSet, Error> {
    let constraint = |ecl: String| Filter {
        property: "constraint".to_owned(),
        op: FilterOperator::Equal,
        value: ecl,
    };
    let mut include = ConceptSet::system(system);
    if let Some(code) = implicit.strip_prefix("=isa/") {
        include.filters.push(Filter {
            property: "concept".to_owned(),
            op: FilterOperator::IsA,
            value: code.to_owned(),
        });
    } else if let Some(ecl) = implicit.strip_prefix("=ecl/") {
        include
            .filters
            .push(constraint(crate::ecl::percent_decode(ecl)));
    } else if let Some(refset) = implicit.strip_prefix("=refset/") {
        // The members of one reference set: ECL "^ id". The id must be a concept id, so the
        // ECL parser's positioned error names anything else.
        include.filters.push(constraint(format!("^ {refset}")));
    } else if implicit == "=refset" {
        // Every reference set: SNOMED CT files each reference set concept under
        // 900000000000455006 |Reference set|.
        include
            .filters
            .push(constraint(format!("< {REFERENCE_SET}")));
    } else if !implicit.is_empty() {
        return Err(Error::InvalidValueSet {
            url: url.to_owned(),
            reason: "only the implicit value sets '?fhir_vs', '?fhir_vs=isa/{code}', \
                     '?fhir_vs=refset', '?fhir_vs=refset/{code}' and '?fhir_vs=ecl/{expression}' \
                     are supported"
                .to_owned(),
        });
    }
    Ok(ValueSet::new(
        url,
        Compose {
            inactive: None,
            include: vec![include],
            exclude: Vec::new(),
        },
    ))
}
