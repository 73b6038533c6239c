//! Argon2 work off the async workers, on one thread per core.
//!
//! One Argon2id hash costs tens of milliseconds of CPU and 19 MiB of memory.
//! Run on a tokio worker, a burst of logins stalls every token check queued
//! behind it on that worker, and 256 concurrent logins would hold ~5 GiB. So
//! hashes run on a fixed set of threads, one per core, and the rest wait their
//! turn without holding memory. Fixed threads, not tokio's blocking pool: the
//! allocator keeps a freed 19 MiB block in the arena of the thread that freed
//! it, so a pool that grows to hundreds of threads under a burst keeps a block
//! per arena for good, while one thread per core reuses its own.

use std::sync::{Arc, Mutex, OnceLock, mpsc};

use sessions_domain::{DomainError, DomainResult};
use tokio::sync::{Semaphore, oneshot};

use crate::secrets;

type Job = Box<dyn FnOnce() + Send>;

/// The hashing threads and the permits that keep at most one job per thread
/// in flight (queued jobs would otherwise outlive the requests that sent them).
struct HashThreads {
    jobs: Mutex<mpsc::Sender<Job>>,
    permits: Arc<Semaphore>,
}

/// Process-wide: the budget is the machine's cores, shared by every service
/// instance in the process.
fn threads() -> &'static HashThreads {
    static THREADS: OnceLock<HashThreads> = OnceLock::new();
    THREADS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        for n in 0..cores {
            let receiver = receiver.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("argon2-{n}"))
                .spawn(move || {
                    loop {
                        // The lock is held only while waiting for a job.
                        let next = receiver.lock().map(|r| r.recv());
                        match next {
                            // A panicking job must not take its thread along.
                            Ok(Ok(job)) => {
                                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                            }
                            _ => return,
                        }
                    }
                });
            if let Err(err) = spawned {
                tracing::error!(error = %err, "cannot start a password hashing thread");
            }
        }
        HashThreads {
            jobs: Mutex::new(sender),
            permits: Arc::new(Semaphore::new(cores)),
        }
    })
}

async fn run_bounded<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> DomainResult<T> {
    let closed = || DomainError::Internal("password hashing threads gone".to_owned());
    let threads = threads();
    let permit = threads
        .permits
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| closed())?;
    let (answer, answered) = oneshot::channel();
    // The permit travels with the hash: a request dropped while it runs (a
    // deadline, a reset stream) must not let another hash start beside it.
    let job: Job = Box::new(move || {
        let _permit = permit;
        let _ = answer.send(work());
    });
    threads
        .jobs
        .lock()
        .map_err(|_| closed())?
        .send(job)
        .map_err(|_| closed())?;
    answered.await.map_err(|_| closed())
}

/// [`secrets::verify_password_digest`] on the hashing threads.
pub(crate) async fn verify_password_digest(
    digest: String,
    stored: Option<String>,
) -> DomainResult<bool> {
    run_bounded(move || secrets::verify_password_digest(&digest, stored.as_deref())).await
}

/// [`secrets::hash_password`] on the hashing threads.
pub(crate) async fn hash_password(password: String) -> DomainResult<String> {
    run_bounded(move || secrets::hash_password(&password))
        .await?
        .map_err(DomainError::Internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_off_the_workers() {
        let stored = hash_password("s3cret".to_owned()).await.unwrap();
        let digest = secrets::password_digest("s3cret");
        assert!(
            verify_password_digest(digest, Some(stored.clone()))
                .await
                .unwrap()
        );
        let wrong = secrets::password_digest("wrong");
        assert!(!verify_password_digest(wrong, Some(stored)).await.unwrap());
    }
}
