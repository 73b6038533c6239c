//! Argon2 work off the async workers, a bounded number at a time.
//!
//! One Argon2id hash costs tens of milliseconds of CPU and 19 MiB of memory.
//! Run on a tokio worker, a burst of logins stalls every token check queued
//! behind it on that worker, and 256 concurrent logins would hold ~5 GiB. So
//! hashes run on the blocking pool, at most one per core at once; the rest
//! wait their turn without holding memory.

use std::sync::{Arc, OnceLock};

use sessions_domain::{DomainError, DomainResult};
use tokio::sync::Semaphore;

use crate::secrets;

/// Process-wide: the budget is the machine's cores, shared by every service
/// instance in the process.
fn permits() -> Arc<Semaphore> {
    static PERMITS: OnceLock<Arc<Semaphore>> = OnceLock::new();
    PERMITS
        .get_or_init(|| {
            let cores = std::thread::available_parallelism().map_or(1, usize::from);
            Arc::new(Semaphore::new(cores))
        })
        .clone()
}

async fn run_bounded<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> DomainResult<T> {
    let permit = permits()
        .acquire_owned()
        .await
        .map_err(|_| DomainError::Internal("password hashing pool closed".to_owned()))?;
    // The permit travels with the hash: a request dropped while it runs (a
    // deadline, a reset stream) must not let another hash start beside it.
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        work()
    })
    .await
    .map_err(|e| DomainError::Internal(format!("password hashing task: {e}")))
}

/// [`secrets::verify_password_digest`] on the blocking pool.
pub(crate) async fn verify_password_digest(
    digest: String,
    stored: Option<String>,
) -> DomainResult<bool> {
    run_bounded(move || secrets::verify_password_digest(&digest, stored.as_deref())).await
}

/// [`secrets::hash_password`] on the blocking pool.
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
