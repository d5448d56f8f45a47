//! FHIRPath text to syntax tree: lexer, Pratt parser, and the tree ([`ast`]).

pub mod ast;
mod lexer;
pub mod parser;
