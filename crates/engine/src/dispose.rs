//! Freeing large values off the store's writer thread.
//!
//! A bulk-ingest job ends holding every resource's parsed JSON and index rows; dropping them
//! is millions of small frees on the one thread every write waits for. The job hands them
//! here instead, and a background thread frees them.

use std::any::Any;
use std::sync::LazyLock;
use std::sync::mpsc::{Sender, channel};

static DISPOSER: LazyLock<Option<Sender<Box<dyn Any + Send>>>> = LazyLock::new(|| {
    let (sender, receiver) = channel::<Box<dyn Any + Send>>();
    std::thread::Builder::new()
        .name("medulla-dispose".into())
        .spawn(move || receiver.into_iter().for_each(drop))
        .ok()
        .map(|_| sender)
});

/// Drops `value` on the background thread (or here, if that thread could not start).
pub(crate) fn later<T: Send + 'static>(value: T) {
    if let Some(sender) = DISPOSER.as_ref() {
        // A send fails only if the thread is gone; the value then drops here.
        let _ = sender.send(Box::new(value));
    }
}
