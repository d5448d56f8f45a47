//! The HL7 v2 interface engine: takes messages in over MLLP, maps them to FHIR resources and
//! writes them, acknowledging each message only once its resources are durable.
//!
//! - [`mllp`]: framing, the listener (many connections, timeouts, size limit) and a client
//!   that waits for each ACK;
//! - [`mapping`]: v2 → FHIR transaction Bundles, following the HL7 v2-to-FHIR implementation
//!   guide's mappings (ADT, ORU, ORM/OML, VXU, SIU);
//! - [`Interface`]: one message end to end: parse (AR when unreadable), map (AE and a dead
//!   letter when mapping fails), write the Bundle and the message's log record in one
//!   transaction (AA after the commit), and detect duplicates by sender and control id;
//! - [`log`]: the message log (every message received, its ACK, the resources it touched),
//!   kept as store records, with replay of dead letters.
//!
//! Does not: parse v2 itself (`medulla-hl7v2`), speak HTTP, or decide FHIR semantics (the
//! engine does, as for any transaction Bundle).

pub mod log;
pub mod mapping;
pub mod mllp;
mod process;

pub use process::{Handled, Interface, InterfaceOptions};
