//! Pruning: records that can no longer matter are deleted, so that the store does not grow with
//! every token ever issued. Codes, refresh tokens, pending authorize requests and launch
//! contexts go once they expire; revocations of access tokens and seen client-assertion ids once
//! the token or assertion would be refused as expired anyway; revoked grant families once no
//! token of the family can still be valid (refresh lifetime plus access lifetime after the
//! revocation).

use crate::AuthServer;
use crate::grants::{ASSERTION, CODE, FAMILY_REVOKED, LAUNCH, REFRESH, REQUEST, REVOKED};
use crate::tokens::now;
use medulla_store::Record;

/// Records read per page while pruning.
const PAGE: usize = 500;

/// Slack after an expiry before its record goes (clock skew, as the assertion check allows).
const SKEW_SECONDS: u64 = 60;

/// How many records [`AuthServer::prune`] deleted, by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Counts by record kind.
    pub by_kind: Vec<(&'static str, usize)>,
}

impl Pruned {
    /// All records deleted.
    pub fn total(&self) -> usize {
        self.by_kind.iter().map(|(_, count)| count).sum()
    }
}

/// The expiry (seconds since the epoch) a record's value states: a JSON object's `expires`, or
/// the value itself as a number.
fn stated_expiry(record: &Record) -> Option<u64> {
    if let Ok(text) = std::str::from_utf8(&record.value)
        && let Ok(seconds) = text.trim().parse::<u64>()
    {
        return Some(seconds);
    }
    serde_json::from_slice::<serde_json::Value>(&record.value)
        .ok()?
        .get("expires")?
        .as_u64()
}

impl AuthServer {
    /// Deletes the records that can no longer matter (see the module documentation), as of
    /// `now_seconds`.
    ///
    /// # Errors
    /// When the store fails; what was deleted before stays deleted.
    pub async fn prune_at(&self, now_seconds: u64) -> Result<Pruned, medulla_store::Error> {
        let family_lifetime = self.config.refresh_token_seconds + self.config.access_token_seconds;
        let mut pruned = Pruned::default();
        for kind in [
            CODE,
            REFRESH,
            REQUEST,
            LAUNCH,
            REVOKED,
            ASSERTION,
            FAMILY_REVOKED,
        ] {
            let mut after = 0;
            let mut count = 0;
            loop {
                let page = self.store.records(kind, after, PAGE)?;
                let Some(last) = page.last() else { break };
                after = last.seq;
                let done: Vec<String> = page
                    .iter()
                    .filter(|record| {
                        let expiry = if kind == FAMILY_REVOKED {
                            // Seconds since the epoch of the revocation, plus what a token of
                            // the family issued just before it may still live.
                            u64::try_from(record.updated.0 / 1_000_000)
                                .ok()
                                .map(|revoked| revoked + family_lifetime)
                        } else {
                            stated_expiry(record)
                        };
                        // A record whose expiry cannot be read is kept: never delete what might
                        // still refuse something.
                        expiry.is_some_and(|expiry| expiry + SKEW_SECONDS < now_seconds)
                    })
                    .map(|record| record.key.clone())
                    .collect();
                let short = page.len() < PAGE;
                if !done.is_empty() {
                    count += done.len();
                    medulla_store::write(&*self.store, move |tx| {
                        for key in &done {
                            tx.delete_record(kind, key)?;
                        }
                        Ok::<(), medulla_store::Error>(())
                    })
                    .wait()
                    .await?;
                }
                if short {
                    break;
                }
            }
            pruned.by_kind.push((kind, count));
        }
        Ok(pruned)
    }

    /// [`AuthServer::prune_at`] now.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn prune(&self) -> Result<Pruned, medulla_store::Error> {
        self.prune_at(now()).await
    }
}
