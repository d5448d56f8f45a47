//! The terminology benchmark behind `medulla bench terminology`: [`bench`] writes a synthetic
//! SNOMED CT release ([`write_synthetic_release`]), loads it, and measures `$subsumes`,
//! `$validate-code` and `$expand` in-process. [`BenchReport`] prints the figures.
//!
//! What is timed:
//! - **load**: [`Terminology::load_snomed`] from the RF2 files to a ready code system (parse,
//!   closure, word index), and with `persist` the write to a terminology file and a cold read
//!   back from it. Peak RSS is the process's high-water mark during the load (Linux: reset
//!   through `/proc/self/clear_refs` first).
//! - **calls/s**: one thread calling [`Terminology::subsumes`] on pairs of codes (half related,
//!   half random), [`Terminology::validate_code_in_system`], and [`Terminology::validate_code`]
//!   against `<<` a top-level concept (`http://snomed.info/sct?fhir_vs=isa/…`): the full API
//!   path, code strings in, results out.
//! - **expand**: [`Terminology::expand`] of `<<` a top-level concept with a text filter (one or
//!   two word prefixes), a page of 50; and without a filter, a page of 100.
//! - **ECL refinements**: [`Terminology::expand`] of the implicit value set
//!   `http://snomed.info/sct?fhir_vs=ecl/…` (a page of 100; each expression is new, so parsing
//!   and evaluating it are timed too) for `<< {clinical finding} : 363698007 = << {x}` with x a
//!   random body structure that has children, and the grouped
//!   `<< {clinical finding} : { 363698007 = << {x}, 116676008 = << {y} }` with y a random child
//!   of the body structure concept.

mod synthetic;

use std::fmt;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub use synthetic::{
    ASSOCIATED_MORPHOLOGY, BODY_STRUCTURE, FINDING_SITE, ROOT, SyntheticRelease, SyntheticSize,
    TOP_LEVEL_COUNT, sctid, write_synthetic_release,
};

use crate::snomed::{SNOMED_CT, SnomedOptions};
use crate::{Error, ExpandOptions, MemoryUsage, Terminology};

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BenchOptions {
    /// The synthetic release's size (default: 400,000 concepts, 1.2 M descriptions, 1 M
    /// relationships).
    pub size: SyntheticSize,
    /// Where to write the release and the terminology file; default a temporary folder,
    /// removed afterwards.
    pub work_dir: Option<PathBuf>,
    /// Also write the code system to a terminology file and read it back cold.
    pub persist: bool,
    /// Calls timed for each of `$subsumes` and the two `$validate-code`s.
    pub calls: usize,
    /// `$expand` calls timed for each of the two expansions and the two ECL refinements.
    pub expansions: usize,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            size: SyntheticSize::default(),
            work_dir: None,
            persist: true,
            calls: 2_000_000,
            expansions: 300,
        }
    }
}

/// Latencies of repeated calls.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Latency {
    /// Calls timed.
    pub runs: usize,
    /// Median.
    pub p50: Duration,
    /// 95th percentile.
    pub p95: Duration,
    /// Slowest.
    pub max: Duration,
    /// Mean `total` of the expansions (codes matched over all pages).
    pub mean_total: f64,
}

impl Latency {
    fn from_samples(mut samples: Vec<Duration>, totals: usize) -> Latency {
        samples.sort_unstable();
        let at = |fraction: f64| {
            let index = ((samples.len() as f64 - 1.0) * fraction).round() as usize;
            samples.get(index).copied().unwrap_or_default()
        };
        Latency {
            runs: samples.len(),
            p50: at(0.5),
            p95: at(0.95),
            max: samples.last().copied().unwrap_or_default(),
            mean_total: if samples.is_empty() {
                0.0
            } else {
                totals as f64 / samples.len() as f64
            },
        }
    }
}

/// The figures of one [`bench`] run.
#[derive(Debug, Clone)]
pub struct BenchReport {
    /// The release written.
    pub release: SyntheticRelease,
    /// Time to write the release files.
    pub write_time: Duration,
    /// Time from RF2 files to a ready code system (parse, closure, word index).
    pub load_time: Duration,
    /// Time to write the code system to the terminology file.
    pub save_time: Option<Duration>,
    /// Time to read it back from the file into a ready code system (cold, first use).
    pub reopen_time: Option<Duration>,
    /// Size of the terminology file.
    pub file_bytes: Option<u64>,
    /// The process's peak resident memory during the load (Linux only).
    pub peak_rss_bytes: Option<u64>,
    /// Resident memory after the load.
    pub rss_after_load_bytes: Option<u64>,
    /// What the code system's indexes take.
    pub memory: MemoryUsage,
    /// Concepts loaded.
    pub concepts: usize,
    /// Active is-a edges.
    pub is_a_edges: usize,
    /// (concept, ancestor) pairs in the closure.
    pub closure_size: usize,
    /// `$subsumes` calls per second.
    pub subsumes_per_second: f64,
    /// `CodeSystem/$validate-code` calls per second.
    pub validate_in_system_per_second: f64,
    /// `ValueSet/$validate-code` calls per second, against `<<` a top-level concept.
    pub validate_in_value_set_per_second: f64,
    /// `$expand` of `<<` a top-level concept with a text filter, page of 50.
    pub expand_with_filter: Latency,
    /// `$expand` of `<<` a top-level concept without a filter, page of 100.
    pub expand_page: Latency,
    /// Attribute relationships loaded.
    pub attribute_relationships: usize,
    /// `$expand` of `ecl/<< {clinical finding} : 363698007 = << {x}`, page of 100.
    pub ecl_refinement: Latency,
    /// `$expand` of `ecl/<< {clinical finding} : { 363698007 = << {x}, 116676008 = << {y} }`,
    /// page of 100.
    pub ecl_grouped_refinement: Latency,
}

/// Runs the benchmark.
///
/// # Errors
///
/// [`Error::Io`] if the work folder cannot be written; any error of loading the release or of
/// the operations (none are expected on the synthetic release).
pub fn bench(options: &BenchOptions) -> Result<BenchReport, Error> {
    let temporary;
    let work_dir = match &options.work_dir {
        Some(dir) => dir.clone(),
        None => {
            temporary = tempfile::tempdir().map_err(|source| Error::Io {
                action: "create",
                path: std::env::temp_dir(),
                source,
            })?;
            temporary.path().to_owned()
        }
    };
    let release_dir = work_dir.join("release").join("Snapshot");
    let started = Instant::now();
    let release = write_synthetic_release(&release_dir, &options.size)?;
    let write_time = started.elapsed();

    let terminology_dir = work_dir.join("terminology");
    let (terminology, load) = load_release(&release_dir, &terminology_dir, options.persist)?;
    let system = terminology.code_system(SNOMED_CT)?;
    let (is_a_edges, closure_size) = system.hierarchy_size();

    let mut random = fastrand::Rng::with_seed(options.size.seed ^ 0x5eed);
    let pairs = sample_pairs(&system, options.calls.clamp(1, 100_000), &mut random);
    let top = release.top_level.first().cloned().unwrap_or_default();
    let calls = measure_calls(&terminology, &pairs, &top, options.calls)?;
    let (expand_with_filter, expand_page) =
        measure_expansions(&terminology, &release, options.expansions, &mut random)?;
    let (ecl_refinement, ecl_grouped_refinement) = measure_refinements(
        &terminology,
        &system,
        &release,
        options.expansions,
        &mut random,
    )?;

    Ok(BenchReport {
        release,
        write_time,
        load_time: load.load_time,
        save_time: load.save_time,
        reopen_time: load.reopen_time,
        file_bytes: load.file_bytes,
        peak_rss_bytes: load.peak_rss_bytes,
        rss_after_load_bytes: load.rss_after_load_bytes,
        memory: system.memory_usage(),
        concepts: system.len(),
        is_a_edges,
        closure_size,
        subsumes_per_second: calls.subsumes,
        validate_in_system_per_second: calls.validate_in_system,
        validate_in_value_set_per_second: calls.validate_in_value_set,
        expand_with_filter,
        expand_page,
        attribute_relationships: system.relationship_count(),
        ecl_refinement,
        ecl_grouped_refinement,
    })
}

/// The load figures.
struct LoadFigures {
    load_time: Duration,
    save_time: Option<Duration>,
    reopen_time: Option<Duration>,
    file_bytes: Option<u64>,
    peak_rss_bytes: Option<u64>,
    rss_after_load_bytes: Option<u64>,
}

/// Loads the release (into a fresh terminology file with `persist`), and reads it back cold
/// from the file through a second service.
fn load_release(
    release_dir: &std::path::Path,
    terminology_dir: &std::path::Path,
    persist: bool,
) -> Result<(Terminology, LoadFigures), Error> {
    let terminology = if persist {
        // A previous run's file would make this a replacement rather than a first load.
        let _ = std::fs::remove_dir_all(terminology_dir);
        Terminology::open(terminology_dir)?
    } else {
        Terminology::in_memory()
    };
    reset_peak_rss();
    let load = terminology.load_snomed(release_dir, &SnomedOptions::default())?;
    let peak_rss_bytes = peak_rss();
    let rss_after_load_bytes = current_rss();
    let (reopen_time, file_bytes) = if persist {
        let file = terminology_dir.join(crate::TERMINOLOGY_FILE);
        let bytes = std::fs::metadata(&file).map(|meta| meta.len()).ok();
        let started = Instant::now();
        let reopened = Terminology::open(terminology_dir)?;
        let cold = reopened.code_system(SNOMED_CT)?;
        let elapsed = started.elapsed();
        black_box(cold.len());
        (Some(elapsed), bytes)
    } else {
        (None, None)
    };
    Ok((
        terminology,
        LoadFigures {
            load_time: load.read_time,
            save_time: load.save_time,
            reopen_time,
            file_bytes,
            peak_rss_bytes,
            rss_after_load_bytes,
        },
    ))
}

/// Pairs of codes: half a concept and one of its ancestors (one to four levels up), half two
/// random concepts.
fn sample_pairs(
    system: &crate::CodeSystem,
    count: usize,
    random: &mut fastrand::Rng,
) -> Vec<(String, String)> {
    let codes: Vec<&str> = system.concepts().map(|concept| concept.code()).collect();
    let pick = |random: &mut fastrand::Rng| codes[random.usize(..codes.len().max(1))];
    let mut pairs: Vec<(String, String)> = Vec::with_capacity(count);
    while pairs.len() < count && !codes.is_empty() {
        let code = pick(random);
        if random.bool() {
            let Some(mut ancestor) = system.concept(code) else {
                continue;
            };
            for _ in 0..1 + random.usize(..4) {
                let parents: Vec<_> = ancestor.parents().collect();
                if parents.is_empty() {
                    break;
                }
                ancestor = parents[random.usize(..parents.len())];
            }
            pairs.push((ancestor.code().to_owned(), code.to_owned()));
        } else {
            pairs.push((pick(random).to_owned(), code.to_owned()));
        }
    }
    pairs
}

struct CallRates {
    subsumes: f64,
    validate_in_system: f64,
    validate_in_value_set: f64,
}

/// Calls per second of the three operations over the sample pairs.
fn measure_calls(
    terminology: &Terminology,
    pairs: &[(String, String)],
    top: &str,
    calls: usize,
) -> Result<CallRates, Error> {
    let pair = |index: usize| &pairs[index % pairs.len()];
    let subsumes = rate(calls, |index| {
        let (a, b) = pair(index);
        black_box(terminology.subsumes(SNOMED_CT, a, b).is_ok());
    });
    let validate_in_system = rate(calls, |index| {
        let (_, code) = pair(index);
        black_box(
            terminology
                .validate_code_in_system(SNOMED_CT, code, None)
                .is_ok(),
        );
    });
    let value_set = format!("{SNOMED_CT}?fhir_vs=isa/{top}");
    // Compile (and cache) the value set before timing.
    terminology.validate_code(&value_set, SNOMED_CT, top, None)?;
    let validate_in_value_set = rate(calls, |index| {
        let (_, code) = pair(index);
        black_box(
            terminology
                .validate_code(&value_set, SNOMED_CT, code, None)
                .is_ok(),
        );
    });
    Ok(CallRates {
        subsumes,
        validate_in_system,
        validate_in_value_set,
    })
}

/// Latencies of `<<` a top-level concept with a text filter (page of 50), and without one
/// (page of 100, each top-level concept in turn).
fn measure_expansions(
    terminology: &Terminology,
    release: &SyntheticRelease,
    runs: usize,
    random: &mut fastrand::Rng,
) -> Result<(Latency, Latency), Error> {
    let top = release.top_level.first().cloned().unwrap_or_default();
    let value_set = format!("{SNOMED_CT}?fhir_vs=isa/{top}");
    // Text filters: prefixes of frequent words, one or two of them.
    let frequent = release.words.len().clamp(1, 400);
    let mut samples = Vec::with_capacity(runs);
    let mut totals = 0_usize;
    for _ in 0..runs {
        let mut filter = prefix(&release.words[random.usize(..frequent)], random);
        if random.bool() {
            filter.push(' ');
            filter.push_str(&prefix(&release.words[random.usize(..frequent)], random));
        }
        let options = ExpandOptions {
            filter: Some(filter),
            count: Some(50),
            ..ExpandOptions::default()
        };
        let started = Instant::now();
        let expansion = terminology.expand(&value_set, &options)?;
        samples.push(started.elapsed());
        totals += expansion.total;
    }
    let with_filter = Latency::from_samples(samples, totals);

    let mut samples = Vec::with_capacity(runs);
    let mut totals = 0_usize;
    for run in 0..runs {
        let top = &release.top_level[run % release.top_level.len().max(1)];
        let options = ExpandOptions {
            count: Some(100),
            ..ExpandOptions::default()
        };
        let started = Instant::now();
        let expansion = terminology.expand(&format!("{SNOMED_CT}?fhir_vs=isa/{top}"), &options)?;
        samples.push(started.elapsed());
        totals += expansion.total;
    }
    Ok((with_filter, Latency::from_samples(samples, totals)))
}

/// Latencies of an ungrouped and a grouped refinement below the first top-level concept
/// (clinical finding), with values below random body structures.
fn measure_refinements(
    terminology: &Terminology,
    system: &crate::CodeSystem,
    release: &SyntheticRelease,
    runs: usize,
    random: &mut fastrand::Rng,
) -> Result<(Latency, Latency), Error> {
    let top = release.top_level.first().cloned().unwrap_or_default();
    let body = release
        .top_level
        .get(BODY_STRUCTURE)
        .and_then(|code| system.ordinal(code))
        .unwrap_or(0);
    // Body structures with children, so that "<< x" is more than one concept.
    let sites: Vec<&str> = system
        .hierarchy
        .descendants(body, false)
        .into_iter()
        .filter(|&ordinal| !system.hierarchy.children(ordinal).is_empty())
        .map(|ordinal| system.code_of(ordinal))
        .collect();
    let morphologies: Vec<&str> = system
        .hierarchy
        .children(body)
        .iter()
        .map(|&ordinal| system.code_of(ordinal))
        .collect();
    if sites.is_empty() || morphologies.is_empty() {
        return Ok((Latency::default(), Latency::default()));
    }
    let options = ExpandOptions {
        count: Some(100),
        ..ExpandOptions::default()
    };
    let time = |ecl: String| -> Result<(Duration, usize), Error> {
        let started = Instant::now();
        let expansion = terminology.expand(&format!("{SNOMED_CT}?fhir_vs=ecl/{ecl}"), &options)?;
        Ok((started.elapsed(), expansion.total))
    };
    let mut plain = (Vec::with_capacity(runs), 0_usize);
    let mut grouped = (Vec::with_capacity(runs), 0_usize);
    for _ in 0..runs {
        let site = sites[random.usize(..sites.len())];
        let morphology = morphologies[random.usize(..morphologies.len())];
        let (elapsed, total) = time(format!("<< {top} : {FINDING_SITE} = << {site}"))?;
        plain.0.push(elapsed);
        plain.1 += total;
        let (elapsed, total) = time(format!(
            "<< {top} : {{ {FINDING_SITE} = << {site}, {ASSOCIATED_MORPHOLOGY} = << {morphology} }}"
        ))?;
        grouped.0.push(elapsed);
        grouped.1 += total;
    }
    Ok((
        Latency::from_samples(plain.0, plain.1),
        Latency::from_samples(grouped.0, grouped.1),
    ))
}

/// The first three to five characters of `word`.
fn prefix(word: &str, random: &mut fastrand::Rng) -> String {
    word.chars().take(3 + random.usize(..3)).collect()
}

/// Calls per second of `call(0..calls)`.
fn rate(calls: usize, mut call: impl FnMut(usize)) -> f64 {
    let started = Instant::now();
    for index in 0..calls {
        call(index);
    }
    calls as f64 / started.elapsed().as_secs_f64().max(f64::EPSILON)
}

/// Resets the process's peak RSS (Linux 4.0+); ignored where unsupported.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn status_kilobytes(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map(|kilobytes| kilobytes * 1024)
}

fn peak_rss() -> Option<u64> {
    status_kilobytes("VmHWM:")
}

fn current_rss() -> Option<u64> {
    status_kilobytes("VmRSS:")
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
        let opt_mib = |bytes: Option<u64>| match bytes {
            Some(bytes) => format!("{:.1} MiB", mib(bytes)),
            None => "n/a".to_owned(),
        };
        let secs = |duration: Duration| duration.as_secs_f64();
        let ms = |duration: Duration| duration.as_secs_f64() * 1000.0;
        let release = &self.release;
        writeln!(
            f,
            "release: {} concepts, {} descriptions, {} relationships ({} active is-a), {} language rows; {:.0} MiB written in {:.1} s",
            release.concepts,
            release.descriptions,
            release.relationships,
            release.is_a,
            release.language_rows,
            mib(release.bytes),
            secs(self.write_time)
        )?;
        writeln!(
            f,
            "load (RF2 → ready: parse, closure, word index): {:.2} s; peak RSS {}; RSS after {}",
            secs(self.load_time),
            opt_mib(self.peak_rss_bytes),
            opt_mib(self.rss_after_load_bytes)
        )?;
        if let (Some(save), Some(reopen)) = (self.save_time, self.reopen_time) {
            writeln!(
                f,
                "terminology file: saved in {:.2} s ({}), read back cold in {:.2} s",
                secs(save),
                opt_mib(self.file_bytes),
                secs(reopen)
            )?;
        }
        writeln!(
            f,
            "hierarchy: {} concepts, {} is-a edges, closure {} (concept, ancestor) pairs",
            self.concepts, self.is_a_edges, self.closure_size
        )?;
        writeln!(f, "memory: {}", self.memory)?;
        writeln!(
            f,
            "$subsumes: {:.0} calls/s; CodeSystem/$validate-code: {:.0} calls/s; ValueSet/$validate-code (<< top-level): {:.0} calls/s",
            self.subsumes_per_second,
            self.validate_in_system_per_second,
            self.validate_in_value_set_per_second
        )?;
        writeln!(
            f,
            "$expand << top-level, text filter, count 50: p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms over {} runs (mean total {:.0})",
            ms(self.expand_with_filter.p50),
            ms(self.expand_with_filter.p95),
            ms(self.expand_with_filter.max),
            self.expand_with_filter.runs,
            self.expand_with_filter.mean_total
        )?;
        writeln!(
            f,
            "$expand << top-level, no filter, count 100: p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms over {} runs (mean total {:.0})",
            ms(self.expand_page.p50),
            ms(self.expand_page.p95),
            ms(self.expand_page.max),
            self.expand_page.runs,
            self.expand_page.mean_total
        )?;
        writeln!(
            f,
            "ECL << clinical finding : 363698007 = << x ({} attribute relationships), count 100: p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms over {} runs (mean total {:.0})",
            self.attribute_relationships,
            ms(self.ecl_refinement.p50),
            ms(self.ecl_refinement.p95),
            ms(self.ecl_refinement.max),
            self.ecl_refinement.runs,
            self.ecl_refinement.mean_total
        )?;
        write!(
            f,
            "ECL << clinical finding : {{ 363698007 = << x, 116676008 = << y }}, count 100: p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms over {} runs (mean total {:.0})",
            ms(self.ecl_grouped_refinement.p50),
            ms(self.ecl_grouped_refinement.p95),
            ms(self.ecl_grouped_refinement.max),
            self.ecl_grouped_refinement.runs,
            self.ecl_grouped_refinement.mean_total
        )
    }
}
