//! Static vocabularies the generator draws from: people and places, and clinical codes.

pub(crate) mod clinical;
pub(crate) mod people;
