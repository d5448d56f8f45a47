//! HL7 version 2 messages (v2.1–v2.8).
//!
//! This crate owns the wire format: [`parse`] reads a message without copying it (delimiters
//! from MSH-1/MSH-2, segments, fields, repetitions, components, sub-components), values are
//! unescaped on access ([`escape`]), [`path`] reads terser-style locations (`PID-5-1`,
//! `OBX(3)-5`, `PID-3(2)-1`), [`groups`] arranges segments into the groups of a message
//! structure (`ADT_A01`, `ORU_R01`, …), [`MessageBuf`] edits and writes messages back (byte for
//! byte when nothing changed), and [`ack`] builds original-mode acknowledgements.
//!
//! Does not: open sockets (MLLP lives in `medulla-interface`), map to FHIR, or store anything.
//!
//! ```
//! let text = "MSH|^~\\&|LAB|HOSP|EHR|HOSP|202401020304||ORU^R01^ORU_R01|42|P|2.5.1\r\
//!             PID|1||123^^^HOSP^MR||Doe^Jane\r\
//!             OBX|1|NM|8480-6^Systolic^LN||120|mm[Hg]\r";
//! let message = medulla_hl7v2::parse(text.as_bytes(), &Default::default()).unwrap();
//! assert_eq!(message.control_id(), "42");
//! assert_eq!(message.get("PID-5-2").as_deref(), Some("Jane"));
//! assert_eq!(message.get("OBX(1)-5").as_deref(), Some("120"));
//! ```

pub mod ack;
mod charset;
mod delimiters;
pub mod escape;
pub mod groups;
mod message;
pub mod path;
mod writer;

pub use charset::Charset;
pub use delimiters::Delimiters;
pub use message::{
    Component, Field, Message, ParseError, ParseOptions, Repetition, Segment, Value, parse,
};
pub use writer::MessageBuf;
