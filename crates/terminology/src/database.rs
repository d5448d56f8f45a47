//! The terminology file, `DATA/terminology/terminology.sqlite`: code systems loaded from
//! release files, kept so a restart does not need the release again. [`Database`] writes a
//! code system in one transaction and reads it back through [`CodeSystemBuilder`], which
//! rebuilds the in-memory indexes (closure, word index): those are derived and never stored.
//!
//! | table | key | holds |
//! | --- | --- | --- |
//! | `code_systems` | `key` (unique `url`, `version`) | metadata, concept count |
//! | `property_definitions` | `system`, `seq` | `CodeSystem.property` |
//! | `concepts` | `system`, `ordinal` | code, display (unless it is a designation's text), definition, flags |
//! | `designation_uses` | `system`, `id` | the distinct `use` Codings |
//! | `designations` | `system`, `ordinal`, `seq` | language, use id, value, whether it is the display |
//! | `concept_properties` | `system`, `ordinal`, `seq` | code, type, value text |
//! | `parents` | `system`, `ordinal`, `parent` | direct is-a links, by ordinal |
//! | `relationships` | `system`, `ordinal`, `grp`, `type`, `destination` | attribute relationships (SNOMED CT), by ordinal |
//! | `refset_members` | `system`, `refset`, `member` | reference set members (SNOMED CT), by ordinal |
//!
//! Durability: WAL with `synchronous=FULL`, so [`Database::save`] returns only once the code
//! system is on disk. Replacing a code system (same URL and version) deletes and inserts in the
//! same transaction: a crash leaves the old one or the new one, never a mix.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::Error;
use crate::builder::{CodeSystemBuilder, ConceptId};
use crate::code_system::{CODING_SEPARATOR, CodeSystem, FLAG_ABSTRACT, FLAG_INACTIVE, NO_TEXT};
use crate::definitions::{
    CodeSystemContent, CodeSystemInfo, Coding, HierarchyMeaning, PropertyDefinition, PropertyType,
    PropertyValue,
};

/// The file name inside the terminology folder.
pub const TERMINOLOGY_FILE: &str = "terminology.sqlite";

/// Bumped whenever the layout changes incompatibly; kept in `PRAGMA user_version`.
/// Version 2 added `relationships` and `refset_members`.
const LAYOUT_VERSION: i64 = 2;

const SCHEMA: &str = r#"
CREATE TABLE code_systems (
    key               INTEGER PRIMARY KEY,
    url               TEXT    NOT NULL,
    version           TEXT    NOT NULL,
    name              TEXT,
    title             TEXT,
    status            TEXT,
    content           TEXT    NOT NULL,
    hierarchy_meaning TEXT,
    case_sensitive    INTEGER,
    concept_count     INTEGER NOT NULL,
    saved_at          INTEGER NOT NULL,
    UNIQUE (url, version)
);
CREATE TABLE property_definitions (
    system      INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    code        TEXT    NOT NULL,
    uri         TEXT,
    type        TEXT    NOT NULL,
    description TEXT,
    PRIMARY KEY (system, seq)
) WITHOUT ROWID;
CREATE TABLE concepts (
    system     INTEGER NOT NULL,
    ordinal    INTEGER NOT NULL,
    code       TEXT    NOT NULL,
    display    TEXT,
    definition TEXT,
    flags      INTEGER NOT NULL,
    PRIMARY KEY (system, ordinal)
) WITHOUT ROWID;
CREATE TABLE designation_uses (
    system      INTEGER NOT NULL,
    id          INTEGER NOT NULL,
    use_system  TEXT,
    use_code    TEXT    NOT NULL,
    use_display TEXT,
    PRIMARY KEY (system, id)
) WITHOUT ROWID;
CREATE TABLE designations (
    system     INTEGER NOT NULL,
    ordinal    INTEGER NOT NULL,
    seq        INTEGER NOT NULL,
    language   TEXT,
    use_id     INTEGER NOT NULL,
    value      TEXT    NOT NULL,
    is_display INTEGER NOT NULL,
    PRIMARY KEY (system, ordinal, seq)
) WITHOUT ROWID;
CREATE TABLE concept_properties (
    system  INTEGER NOT NULL,
    ordinal INTEGER NOT NULL,
    seq     INTEGER NOT NULL,
    code    TEXT    NOT NULL,
    type    TEXT    NOT NULL,
    value   TEXT    NOT NULL,
    PRIMARY KEY (system, ordinal, seq)
) WITHOUT ROWID;
CREATE TABLE parents (
    system  INTEGER NOT NULL,
    ordinal INTEGER NOT NULL,
    parent  INTEGER NOT NULL,
    PRIMARY KEY (system, ordinal, parent)
) WITHOUT ROWID;
CREATE TABLE relationships (
    system      INTEGER NOT NULL,
    ordinal     INTEGER NOT NULL,
    grp         INTEGER NOT NULL,
    type        INTEGER NOT NULL,
    destination INTEGER NOT NULL,
    PRIMARY KEY (system, ordinal, grp, type, destination)
) WITHOUT ROWID;
CREATE TABLE refset_members (
    system INTEGER NOT NULL,
    refset INTEGER NOT NULL,
    member INTEGER NOT NULL,
    PRIMARY KEY (system, refset, member)
) WITHOUT ROWID;
"#;

/// The tables holding one code system's rows, for deletion. Closed list: names in SQL text
/// come only from here.
const PER_SYSTEM_TABLES: [&str; 8] = [
    "property_definitions",
    "concepts",
    "designation_uses",
    "designations",
    "concept_properties",
    "parents",
    "relationships",
    "refset_members",
];

/// The open terminology file.
#[derive(Debug)]
pub(crate) struct Database {
    conn: Connection,
    path: PathBuf,
}

impl Database {
    /// Opens or creates `dir/terminology.sqlite`, creating `dir` if needed.
    pub(crate) fn open(dir: &Path) -> Result<Database, Error> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            action: "create",
            path: dir.to_owned(),
            source,
        })?;
        let path = dir.join(TERMINOLOGY_FILE);
        let mut conn = Connection::open(&path).map_err(Error::database("open the file"))?;
        let setup = |conn: &Connection| -> rusqlite::Result<()> {
            conn.busy_timeout(std::time::Duration::from_secs(5))?;
            conn.pragma_update(None, "journal_mode", "WAL")?;
            // A load is acknowledged only once it is on disk.
            conn.pragma_update(None, "synchronous", "FULL")?;
            // 64 MiB of page cache: a large release's rows are written without spilling.
            conn.pragma_update(None, "cache_size", -65536)?;
            Ok(())
        };
        setup(&conn).map_err(Error::database("configure the connection"))?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(Error::database("begin the layout check"))?;
        let version: i64 = tx
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(Error::database("read the layout version"))?;
        if version == 0 {
            let tables: i64 = tx
                .query_row("SELECT count(*) FROM sqlite_master", [], |row| row.get(0))
                .map_err(Error::database("inspect the file"))?;
            if tables != 0 {
                return Err(Error::LayoutVersion {
                    path,
                    found: 0,
                    expected: LAYOUT_VERSION,
                });
            }
            tx.execute_batch(SCHEMA)
                .map_err(Error::database("create the tables"))?;
            tx.pragma_update(None, "user_version", LAYOUT_VERSION)
                .map_err(Error::database("set the layout version"))?;
        } else if version != LAYOUT_VERSION {
            return Err(Error::LayoutVersion {
                path,
                found: version,
                expected: LAYOUT_VERSION,
            });
        }
        tx.commit().map_err(Error::database("create the tables"))?;
        Ok(Database { conn, path })
    }

    /// The stored code systems' keys and metadata, oldest first.
    pub(crate) fn list(&self) -> Result<Vec<(i64, CodeSystemInfo)>, Error> {
        let mut statement = self
            .conn
            .prepare(
                "SELECT key, url, version, name, title, status, content, hierarchy_meaning, \
                 case_sensitive FROM code_systems ORDER BY key",
            )
            .map_err(Error::database("list code systems"))?;
        let rows = statement
            .query_map([], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, Option<String>>(3)?,
                    row.get::<_, Option<String>>(4)?,
                    row.get::<_, Option<String>>(5)?,
                    row.get::<_, String>(6)?,
                    row.get::<_, Option<String>>(7)?,
                    row.get::<_, Option<bool>>(8)?,
                ))
            })
            .map_err(Error::database("list code systems"))?;
        let mut systems = Vec::new();
        for row in rows {
            let (key, url, version, name, title, status, content, meaning, case_sensitive) =
                row.map_err(Error::database("list code systems"))?;
            let corrupt = |what: String| Error::InvalidCodeSystem {
                url: url.clone(),
                reason: format!("{} holds {what}", self.path.display()),
            };
            let content = CodeSystemContent::from_code(&content)
                .ok_or_else(|| corrupt(format!("unknown content '{content}'")))?;
            let hierarchy_meaning = match meaning {
                None => None,
                Some(code) => Some(
                    HierarchyMeaning::from_code(&code)
                        .ok_or_else(|| corrupt(format!("unknown hierarchy meaning '{code}'")))?,
                ),
            };
            let properties = self.property_definitions(key, &corrupt)?;
            systems.push((
                key,
                CodeSystemInfo {
                    url: url.clone(),
                    version: (!version.is_empty()).then_some(version),
                    name,
                    title,
                    status,
                    content,
                    hierarchy_meaning,
                    case_sensitive,
                    properties,
                },
            ));
        }
        Ok(systems)
    }

    fn property_definitions(
        &self,
        key: i64,
        corrupt: &impl Fn(String) -> Error,
    ) -> Result<Vec<PropertyDefinition>, Error> {
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT code, uri, type, description FROM property_definitions \
                 WHERE system = ?1 ORDER BY seq",
            )
            .map_err(Error::database("read property definitions"))?;
        let rows = statement
            .query_map([key], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, Option<String>>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, Option<String>>(3)?,
                ))
            })
            .map_err(Error::database("read property definitions"))?;
        let mut definitions = Vec::new();
        for row in rows {
            let (code, uri, kind, description) =
                row.map_err(Error::database("read property definitions"))?;
            let kind = PropertyType::from_code(&kind)
                .ok_or_else(|| corrupt(format!("unknown property type '{kind}'")))?;
            definitions.push(PropertyDefinition {
                code,
                uri,
                kind,
                description,
            });
        }
        Ok(definitions)
    }

    /// Writes `system`, replacing a stored one of the same URL and version, in one durable
    /// transaction. Returns its key.
    pub(crate) fn save(&mut self, system: &CodeSystem) -> Result<i64, Error> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(Error::database("begin saving a code system"))?;
        let info = system.info();
        let version = info.version.as_deref().unwrap_or("");
        let existing: Option<i64> = tx
            .query_row(
                "SELECT key FROM code_systems WHERE url = ?1 AND version = ?2",
                params![info.url, version],
                |row| row.get(0),
            )
            .optional()
            .map_err(Error::database("find the code system to replace"))?;
        if let Some(key) = existing {
            for table in PER_SYSTEM_TABLES {
                tx.execute(&format!("DELETE FROM {table} WHERE system = ?1"), [key])
                    .map_err(Error::database("delete the replaced code system"))?;
            }
            tx.execute("DELETE FROM code_systems WHERE key = ?1", [key])
                .map_err(Error::database("delete the replaced code system"))?;
        }
        let saved_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| {
                i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
            });
        tx.execute(
            "INSERT INTO code_systems (url, version, name, title, status, content, \
             hierarchy_meaning, case_sensitive, concept_count, saved_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                info.url,
                version,
                info.name,
                info.title,
                info.status,
                info.content.code(),
                info.hierarchy_meaning.map(HierarchyMeaning::code),
                info.case_sensitive,
                i64::try_from(system.len()).unwrap_or(i64::MAX),
                saved_at,
            ],
        )
        .map_err(Error::database("insert the code system"))?;
        let key = tx.last_insert_rowid();
        write_rows(&tx, key, system).map_err(Error::database("insert the concepts"))?;
        tx.commit()
            .map_err(Error::database("commit the code system"))?;
        self.release_cache();
        Ok(key)
    }

    /// Deletes the stored code system with this URL and version (`""` for none), in one
    /// durable transaction. Returns whether there was one.
    pub(crate) fn delete(&mut self, url: &str, version: &str) -> Result<bool, Error> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(Error::database("begin deleting a code system"))?;
        let existing: Option<i64> = tx
            .query_row(
                "SELECT key FROM code_systems WHERE url = ?1 AND version = ?2",
                params![url, version],
                |row| row.get(0),
            )
            .optional()
            .map_err(Error::database("find the code system to delete"))?;
        let Some(key) = existing else {
            return Ok(false);
        };
        for table in PER_SYSTEM_TABLES {
            tx.execute(&format!("DELETE FROM {table} WHERE system = ?1"), [key])
                .map_err(Error::database("delete a code system"))?;
        }
        tx.execute("DELETE FROM code_systems WHERE key = ?1", [key])
            .map_err(Error::database("delete a code system"))?;
        tx.commit()
            .map_err(Error::database("commit deleting a code system"))?;
        Ok(true)
    }

    /// Reads stored code system `key` back and builds its indexes.
    pub(crate) fn read(&self, key: i64, info: CodeSystemInfo) -> Result<CodeSystem, Error> {
        let url = info.url.clone();
        let mut builder = CodeSystemBuilder::new(info);
        let ids = self.read_concepts(key, &mut builder)?;
        let concept = |ordinal: i64| -> Result<ConceptId, Error> {
            usize::try_from(ordinal)
                .ok()
                .and_then(|index| ids.get(index).copied())
                .ok_or_else(|| {
                    self.corrupt(
                        &url,
                        format!("a row for concept ordinal {ordinal}, not stored"),
                    )
                })
        };
        self.read_designations(key, &mut builder, &concept)?;
        self.read_properties(key, &mut builder, &concept)?;
        let mut statement = self
            .conn
            .prepare("SELECT ordinal, parent FROM parents WHERE system = ?1")
            .map_err(Error::database("read parents"))?;
        let mut rows = statement
            .query([key])
            .map_err(Error::database("read parents"))?;
        while let Some(row) = rows.next().map_err(Error::database("read parents"))? {
            let ordinal: i64 = row.get(0).map_err(Error::database("read parents"))?;
            let parent: i64 = row.get(1).map_err(Error::database("read parents"))?;
            builder.add_parent(concept(ordinal)?, concept(parent)?);
        }
        drop(rows);
        drop(statement);
        self.read_relationships(key, &mut builder, &concept)?;
        self.read_refset_members(key, &mut builder, &concept)?;
        self.release_cache();
        builder.build()
    }

    fn read_relationships(
        &self,
        key: i64,
        builder: &mut CodeSystemBuilder,
        concept: &impl Fn(i64) -> Result<ConceptId, Error>,
    ) -> Result<(), Error> {
        let mut statement = self
            .conn
            .prepare("SELECT ordinal, grp, type, destination FROM relationships WHERE system = ?1")
            .map_err(Error::database("read relationships"))?;
        let mut rows = statement
            .query([key])
            .map_err(Error::database("read relationships"))?;
        while let Some(row) = rows.next().map_err(Error::database("read relationships"))? {
            let read = |row: &rusqlite::Row<'_>| -> rusqlite::Result<_> {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, i64>(2)?,
                    row.get::<_, i64>(3)?,
                ))
            };
            let (ordinal, group, kind, destination) =
                read(row).map_err(Error::database("read relationships"))?;
            let group = u32::try_from(group).map_err(|_| {
                self.corrupt(
                    &builder.info().url,
                    format!("a relationship group {group} out of range"),
                )
            })?;
            builder.add_relationship(
                concept(ordinal)?,
                concept(kind)?,
                concept(destination)?,
                group,
            );
        }
        Ok(())
    }

    fn read_refset_members(
        &self,
        key: i64,
        builder: &mut CodeSystemBuilder,
        concept: &impl Fn(i64) -> Result<ConceptId, Error>,
    ) -> Result<(), Error> {
        let mut statement = self
            .conn
            .prepare("SELECT refset, member FROM refset_members WHERE system = ?1")
            .map_err(Error::database("read reference set members"))?;
        let mut rows = statement
            .query([key])
            .map_err(Error::database("read reference set members"))?;
        while let Some(row) = rows
            .next()
            .map_err(Error::database("read reference set members"))?
        {
            let refset: i64 = row
                .get(0)
                .map_err(Error::database("read reference set members"))?;
            let member: i64 = row
                .get(1)
                .map_err(Error::database("read reference set members"))?;
            builder.add_refset_member(concept(refset)?, concept(member)?);
        }
        Ok(())
    }

    /// Gives the page cache filled by a large write or read back to the allocator: the file
    /// is used rarely, the memory is better spent on the indexes.
    fn release_cache(&self) {
        // Only memory is at stake; a failure leaves the cache as it was.
        let _ = self.conn.execute_batch("PRAGMA shrink_memory");
    }

    fn corrupt(&self, url: &str, reason: String) -> Error {
        Error::InvalidCodeSystem {
            url: url.to_owned(),
            reason: format!("{} holds {reason}", self.path.display()),
        }
    }

    /// Adds the stored concepts to `builder`; returns their ids by ordinal.
    fn read_concepts(
        &self,
        key: i64,
        builder: &mut CodeSystemBuilder,
    ) -> Result<Vec<ConceptId>, Error> {
        let count: i64 = self
            .conn
            .query_row(
                "SELECT concept_count FROM code_systems WHERE key = ?1",
                [key],
                |row| row.get(0),
            )
            .map_err(Error::database("read the concept count"))?;
        builder.reserve(usize::try_from(count).unwrap_or(0));
        let mut ids = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
        let mut statement = self
            .conn
            .prepare(
                "SELECT ordinal, code, display, definition, flags FROM concepts \
                 WHERE system = ?1 ORDER BY ordinal",
            )
            .map_err(Error::database("read concepts"))?;
        let mut rows = statement
            .query([key])
            .map_err(Error::database("read concepts"))?;
        while let Some(row) = rows.next().map_err(Error::database("read concepts"))? {
            let read = |row: &rusqlite::Row<'_>| -> rusqlite::Result<_> {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, Option<String>>(2)?,
                    row.get::<_, Option<String>>(3)?,
                    row.get::<_, u8>(4)?,
                ))
            };
            let (ordinal, code, display, definition, flags) =
                read(row).map_err(Error::database("read concepts"))?;
            if usize::try_from(ordinal).ok() != Some(ids.len()) {
                return Err(self.corrupt(
                    &builder.info().url,
                    format!("a gap in concept ordinals at {ordinal}"),
                ));
            }
            let id = builder.add_concept(&code)?;
            if let Some(display) = display {
                builder.set_display(id, &display)?;
            }
            if let Some(definition) = definition {
                builder.set_definition(id, &definition)?;
            }
            builder.set_inactive(id, flags & FLAG_INACTIVE != 0);
            builder.set_abstract(id, flags & FLAG_ABSTRACT != 0);
            ids.push(id);
        }
        Ok(ids)
    }

    fn read_designations(
        &self,
        key: i64,
        builder: &mut CodeSystemBuilder,
        concept: &impl Fn(i64) -> Result<ConceptId, Error>,
    ) -> Result<(), Error> {
        let mut uses: Vec<Coding> = Vec::new();
        let mut statement = self
            .conn
            .prepare(
                "SELECT use_system, use_code, use_display FROM designation_uses \
                 WHERE system = ?1 ORDER BY id",
            )
            .map_err(Error::database("read designation uses"))?;
        let rows = statement
            .query_map([key], |row| {
                Ok(Coding {
                    system: row.get(0)?,
                    code: row.get(1)?,
                    display: row.get(2)?,
                })
            })
            .map_err(Error::database("read designation uses"))?;
        for row in rows {
            uses.push(row.map_err(Error::database("read designation uses"))?);
        }

        let mut statement = self
            .conn
            .prepare(
                "SELECT ordinal, language, use_id, value, is_display FROM designations \
                 WHERE system = ?1 ORDER BY ordinal, seq",
            )
            .map_err(Error::database("read designations"))?;
        let mut rows = statement
            .query([key])
            .map_err(Error::database("read designations"))?;
        while let Some(row) = rows.next().map_err(Error::database("read designations"))? {
            let read = |row: &rusqlite::Row<'_>| -> rusqlite::Result<_> {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, Option<String>>(1)?,
                    row.get::<_, i64>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, bool>(4)?,
                ))
            };
            let (ordinal, language, use_id, value, is_display) =
                read(row).map_err(Error::database("read designations"))?;
            let id = concept(ordinal)?;
            let usage = match use_id {
                0 => None,
                use_id => Some(
                    usize::try_from(use_id - 1)
                        .ok()
                        .and_then(|index| uses.get(index))
                        .ok_or_else(|| {
                            self.corrupt(
                                &builder.info().url,
                                format!("an unknown designation use {use_id}"),
                            )
                        })?,
                ),
            };
            let text = builder.add_designation_text(id, language.as_deref(), usage, &value)?;
            if is_display {
                builder.set_display_text(id, text);
            }
        }
        Ok(())
    }

    fn read_properties(
        &self,
        key: i64,
        builder: &mut CodeSystemBuilder,
        concept: &impl Fn(i64) -> Result<ConceptId, Error>,
    ) -> Result<(), Error> {
        let mut statement = self
            .conn
            .prepare(
                "SELECT ordinal, code, type, value FROM concept_properties \
                 WHERE system = ?1 ORDER BY ordinal, seq",
            )
            .map_err(Error::database("read concept properties"))?;
        let mut rows = statement
            .query([key])
            .map_err(Error::database("read concept properties"))?;
        while let Some(row) = rows
            .next()
            .map_err(Error::database("read concept properties"))?
        {
            let read = |row: &rusqlite::Row<'_>| -> rusqlite::Result<_> {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                ))
            };
            let (ordinal, code, kind, value) =
                read(row).map_err(Error::database("read concept properties"))?;
            let kind = PropertyType::from_code(&kind).ok_or_else(|| {
                self.corrupt(
                    &builder.info().url,
                    format!("unknown property type '{kind}'"),
                )
            })?;
            builder.add_property(concept(ordinal)?, &code, &property_value(kind, value))?;
        }
        Ok(())
    }
}

/// Rebuilds a property value from its stored type and text.
fn property_value(kind: PropertyType, text: String) -> PropertyValue {
    match kind {
        PropertyType::Code => PropertyValue::Code(text),
        PropertyType::String => PropertyValue::String(text),
        PropertyType::DateTime => PropertyValue::DateTime(text),
        PropertyType::Decimal => PropertyValue::Decimal(text),
        PropertyType::Boolean => PropertyValue::Boolean(text == "true"),
        PropertyType::Integer => match text.parse() {
            Ok(value) => PropertyValue::Integer(value),
            Err(_) => PropertyValue::String(text),
        },
        PropertyType::Coding => {
            let mut parts = text.split(CODING_SEPARATOR);
            let system = parts
                .next()
                .filter(|part| !part.is_empty())
                .map(str::to_owned);
            let code = parts.next().unwrap_or("").to_owned();
            let display = parts
                .next()
                .filter(|part| !part.is_empty())
                .map(str::to_owned);
            PropertyValue::Coding(Coding {
                system,
                code,
                display,
            })
        }
    }
}

/// Inserts every row of `system` under `key`.
fn write_rows(
    tx: &rusqlite::Transaction<'_>,
    key: i64,
    system: &CodeSystem,
) -> rusqlite::Result<()> {
    let mut definitions = tx.prepare(
        "INSERT INTO property_definitions (system, seq, code, uri, type, description) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for (seq, definition) in system.info().properties.iter().enumerate() {
        definitions.execute(params![
            key,
            seq as i64,
            definition.code,
            definition.uri,
            definition.kind.code(),
            definition.description,
        ])?;
    }
    let mut uses = tx.prepare(
        "INSERT INTO designation_uses (system, id, use_system, use_code, use_display) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for (id, usage) in system.usages.iter().enumerate().skip(1) {
        uses.execute(params![
            key,
            id as i64,
            label(system, usage.system),
            system.labels.get(usage.code),
            label(system, usage.display),
        ])?;
    }
    write_concepts(tx, key, system)
}

/// An interned label, `None` for the empty one.
fn label(system: &CodeSystem, id: u32) -> Option<&str> {
    let text = system.labels.get(id);
    (!text.is_empty()).then_some(text)
}

/// Inserts the concepts with their designations, properties and parents.
fn write_concepts(
    tx: &rusqlite::Transaction<'_>,
    key: i64,
    system: &CodeSystem,
) -> rusqlite::Result<()> {
    let mut concepts = tx.prepare(
        "INSERT INTO concepts (system, ordinal, code, display, definition, flags) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    let mut designations = tx.prepare(
        "INSERT INTO designations (system, ordinal, seq, language, use_id, value, is_display) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    let mut properties = tx.prepare(
        "INSERT INTO concept_properties (system, ordinal, seq, code, type, value) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    let mut parents =
        tx.prepare("INSERT INTO parents (system, ordinal, parent) VALUES (?1, ?2, ?3)")?;
    let mut relationships = tx.prepare(
        "INSERT INTO relationships (system, ordinal, grp, type, destination) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for index in 0..system.len() {
        let Ok(ordinal) = u32::try_from(index) else {
            break;
        };
        let concept = system.concept_at(ordinal);
        let display_text = system.displays.get(index).copied().unwrap_or(NO_TEXT);
        let records = system.designation_records(ordinal);
        // A display that is one of the designations (SNOMED CT's preferred term) is stored
        // once, as that designation.
        let display_is_designation = records.iter().any(|record| record.text == display_text);
        concepts.execute(params![
            key,
            i64::from(ordinal),
            concept.code(),
            if display_is_designation {
                None
            } else {
                concept.display()
            },
            concept.definition(),
            system.flags_of(ordinal),
        ])?;
        for (seq, record) in records.iter().enumerate() {
            designations.execute(params![
                key,
                i64::from(ordinal),
                seq as i64,
                label(system, record.language),
                i64::from(record.usage),
                system.texts.get(record.text),
                display_is_designation && record.text == display_text,
            ])?;
        }
        for (seq, record) in system.property_records(ordinal).iter().enumerate() {
            properties.execute(params![
                key,
                i64::from(ordinal),
                seq as i64,
                system.labels.get(record.code),
                record.kind.code(),
                system.labels.get(record.value),
            ])?;
        }
        for &parent in system.hierarchy.parents(ordinal) {
            parents.execute(params![key, i64::from(ordinal), i64::from(parent)])?;
        }
        for record in system.relationships.outgoing(ordinal) {
            relationships.execute(params![
                key,
                i64::from(ordinal),
                i64::from(record.group),
                i64::from(record.kind),
                i64::from(record.other),
            ])?;
        }
    }
    let mut members =
        tx.prepare("INSERT INTO refset_members (system, refset, member) VALUES (?1, ?2, ?3)")?;
    for &refset in system.refsets.refsets() {
        for &member in system.refsets.members(refset) {
            members.execute(params![key, i64::from(refset), i64::from(member)])?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definitions::PropertyValue;

    fn sample() -> CodeSystem {
        let mut builder = CodeSystemBuilder::new(CodeSystemInfo {
            version: Some("2".to_owned()),
            properties: vec![PropertyDefinition {
                code: "rank".to_owned(),
                uri: None,
                kind: PropertyType::Integer,
                description: Some("Order".to_owned()),
            }],
            ..CodeSystemInfo::new("http://example.org/cs")
        });
        let root = builder.add_concept("root").unwrap();
        builder.set_display(root, "Root").unwrap();
        let leaf = builder.add_concept("leaf").unwrap();
        builder
            .add_designation(
                leaf,
                Some("de"),
                Some(&Coding::new("http://u", "syn")),
                "Blatt",
            )
            .unwrap();
        builder
            .add_property(leaf, "rank", &PropertyValue::Integer(2))
            .unwrap();
        builder.set_inactive(leaf, true);
        builder.add_parent(leaf, root);
        let site = builder.add_concept("site").unwrap();
        builder.add_relationship(root, site, leaf, 3);
        builder.add_refset_member(site, root);
        builder.add_refset_member(site, leaf);
        builder.build().unwrap()
    }

    #[test]
    fn a_saved_code_system_reads_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let mut database = Database::open(dir.path()).unwrap();
        let original = sample();
        let key = database.save(&original).unwrap();
        let listed = database.list().unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].0, key);
        assert_eq!(&listed[0].1, original.info());
        let read = database.read(key, listed[0].1.clone()).unwrap();
        let leaf = read.concept("leaf").unwrap();
        assert_eq!(
            leaf.designations(),
            original.concept("leaf").unwrap().designations()
        );
        assert_eq!(leaf.properties()[0].value, PropertyValue::Integer(2));
        assert!(!leaf.is_active());
        assert_eq!(leaf.parents().next().unwrap().code(), "root");
        assert_eq!(read.concept("root").unwrap().display(), Some("Root"));
        let relationships: Vec<(&str, &str, u32)> = read
            .concept("root")
            .unwrap()
            .relationships()
            .map(|r| (r.attribute.code(), r.value.code(), r.group))
            .collect();
        assert_eq!(relationships, [("site", "leaf", 3)]);
        assert_eq!(read.refset_size(), (1, 2));
        // Saving the same URL and version again replaces it.
        database.save(&original).unwrap();
        assert_eq!(database.list().unwrap().len(), 1);
    }

    #[test]
    fn a_file_of_another_layout_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(Database::open(dir.path()).unwrap());
        let conn = Connection::open(dir.path().join(TERMINOLOGY_FILE)).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        let error = Database::open(dir.path()).unwrap_err();
        assert!(
            matches!(
                error,
                Error::LayoutVersion {
                    found: 99,
                    expected: LAYOUT_VERSION,
                    ..
                }
            ),
            "{error}"
        );

        let foreign = tempfile::tempdir().unwrap();
        let conn = Connection::open(foreign.path().join(TERMINOLOGY_FILE)).unwrap();
        conn.execute_batch("CREATE TABLE other (x)").unwrap();
        drop(conn);
        let error = Database::open(foreign.path()).unwrap_err();
        assert!(
            matches!(error, Error::LayoutVersion { found: 0, .. }),
            "{error}"
        );
    }
}
