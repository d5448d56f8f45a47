//! Write jobs: closures that run on the writer thread and report after the commit.

use crate::{Error, Store, WriteTx};
use tokio::sync::oneshot;

/// Work for the writer thread. [`write`] builds one from a closure; backends only call these two
/// methods.
pub trait WriteJob: Send {
    /// Runs the job inside the open transaction. Returns `false` when the job failed and its
    /// changes must be rolled back (the batch's other jobs are unaffected).
    fn run(&mut self, tx: &mut dyn WriteTx) -> bool;

    /// Called once the batch's commit has finished (or failed); delivers the job's result.
    fn finish(self: Box<Self>, commit: Result<(), Error>);
}

/// The pending result of a submitted write.
#[derive(Debug)]
pub struct WriteTicket<R, E> {
    receiver: oneshot::Receiver<Result<R, E>>,
}

impl<R, E: From<Error>> WriteTicket<R, E> {
    /// Waits for the durable result.
    ///
    /// # Errors
    /// The job's own error, a commit failure, or [`Error::WriterStopped`].
    pub async fn wait(self) -> Result<R, E> {
        self.receiver
            .await
            .unwrap_or_else(|_| Err(E::from(Error::WriterStopped)))
    }

    /// Waits for the durable result, blocking the thread (not for use on async threads).
    ///
    /// # Errors
    /// As [`WriteTicket::wait`].
    pub fn blocking_wait(self) -> Result<R, E> {
        self.receiver
            .blocking_recv()
            .unwrap_or_else(|_| Err(E::from(Error::WriterStopped)))
    }
}

struct ClosureJob<F, R, E> {
    work: Option<F>,
    result: Option<Result<R, E>>,
    reply: oneshot::Sender<Result<R, E>>,
}

impl<F, R, E> WriteJob for ClosureJob<F, R, E>
where
    F: FnOnce(&mut dyn WriteTx) -> Result<R, E> + Send,
    R: Send,
    E: From<Error> + Send,
{
    fn run(&mut self, tx: &mut dyn WriteTx) -> bool {
        let Some(work) = self.work.take() else {
            return false;
        };
        let result = work(tx);
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn finish(self: Box<Self>, commit: Result<(), Error>) {
        let this = *self;
        let outcome = match (commit, this.result) {
            (Err(error), _) => Err(E::from(error)),
            (Ok(()), Some(result)) => result,
            (Ok(()), None) => Err(E::from(Error::CommitFailed("job did not run".into()))),
        };
        // The receiver may have gone away (client disconnected); the write is durable anyway.
        let _ = this.reply.send(outcome);
    }
}

/// Submits `work` to the store's writer and returns a ticket for its durable result.
///
/// The closure runs on the writer thread inside a transaction shared with other jobs; if it
/// returns `Err`, only its own changes are rolled back.
pub fn write<S, F, R, E>(store: &S, work: F) -> WriteTicket<R, E>
where
    S: Store + ?Sized,
    F: FnOnce(&mut dyn WriteTx) -> Result<R, E> + Send + 'static,
    R: Send + 'static,
    E: From<Error> + Send + 'static,
{
    let (reply, receiver) = oneshot::channel();
    store.submit(Box::new(ClosureJob {
        work: Some(work),
        result: None,
        reply,
    }));
    WriteTicket { receiver }
}
