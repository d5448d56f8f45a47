//! Runs the terminology benchmark (`medulla_terminology::bench`) and prints its report; the
//! `medulla bench terminology` subcommand will call the same function.
//!
//!     cargo run --release -p medulla-terminology --example bench_terminology -- \
//!         [--concepts N] [--descriptions N] [--relationships N] [--calls N] [--expansions N] \
//!         [--no-persist] [--dir DIR]

use std::path::PathBuf;
use std::process::ExitCode;

use medulla_terminology::bench::{BenchOptions, bench};

fn main() -> ExitCode {
    let mut options = BenchOptions::default();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut number = |name: &str| -> Result<usize, String> {
            let value = args.next().ok_or_else(|| format!("{name} needs a value"))?;
            value
                .replace('_', "")
                .parse()
                .map_err(|_| format!("{name}: '{value}' is not a number"))
        };
        let parsed = match flag.as_str() {
            "--concepts" => number("--concepts").map(|n| options.size.concepts = n),
            "--descriptions" => number("--descriptions").map(|n| options.size.descriptions = n),
            "--relationships" => number("--relationships").map(|n| options.size.relationships = n),
            "--calls" => number("--calls").map(|n| options.calls = n),
            "--expansions" => number("--expansions").map(|n| options.expansions = n),
            "--no-persist" => {
                options.persist = false;
                Ok(())
            }
            "--dir" => match args.next() {
                Some(dir) => {
                    options.work_dir = Some(PathBuf::from(dir));
                    Ok(())
                }
                None => Err("--dir needs a value".to_owned()),
            },
            other => Err(format!("unknown option '{other}'")),
        };
        if let Err(message) = parsed {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    }
    match bench(&options) {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
