//! The outbox worker: claims due mail, sends it over SMTP, and records the
//! outcome; retries with exponential backoff. Logins only queue mail, so an
//! SMTP server that is down or slow never delays or fails one.

use std::{sync::Arc, time::Duration};

use tokio::sync::watch;

use anyhow::Context;
use chrono::Utc;
use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, MultiPart, header::ContentType},
};
use sessions_domain::{ClaimedMail, MailRepository};

use crate::config::MailSettings;

/// Why a send failed, and whether trying again could help.
struct Failure {
    permanent: bool,
    error: String,
}

/// What the worker needs: the outbox, the transport and its pace.
pub struct Mailer {
    outbox: Arc<dyn MailRepository>,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    settings: MailSettings,
}

impl Mailer {
    /// `None` while no SMTP server is configured (nothing is queued then).
    pub fn new(
        settings: &MailSettings,
        outbox: Arc<dyn MailRepository>,
    ) -> anyhow::Result<Option<Self>> {
        let Some(url) = settings.smtp_url.as_deref().filter(|u| !u.is_empty()) else {
            return Ok(None);
        };
        // lettre reads `smtps://`, `smtp://…?tls=required` (STARTTLS), plain
        // `smtp://` and credentials from the URL; the error never repeats
        // the URL, which may hold a password.
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|err| anyhow::anyhow!("mail.smtp_url: {err}"))?
            .timeout(Some(Duration::from_secs(settings.send_timeout_secs)))
            .build();
        let from = settings.from.parse().context("mail.from")?;
        Ok(Some(Self {
            outbox,
            transport,
            from,
            settings: settings.clone(),
        }))
    }

    /// Sends until `draining` turns true; a send in flight is finished
    /// (bounded by the send timeout) rather than cut, so a rolling restart
    /// causes no duplicate.
    pub async fn run_until_drained(self, mut draining: watch::Receiver<bool>) {
        let pause = Duration::from_millis(self.settings.poll_interval_ms);
        // The gauges need not follow every round.
        let mut rounds: u64 = 0;
        while !*draining.borrow() {
            match self.send_next().await {
                // One was due: more may be.
                Ok(true) => continue,
                Ok(false) => {}
                Err(err) => tracing::warn!(error = %err, "outbox unavailable"),
            }
            if rounds.is_multiple_of(10) {
                self.sample_depth().await;
            }
            rounds += 1;
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                _ = draining.changed() => {}
            }
        }
    }

    /// Claims and sends one due message; answers whether there was one. One at
    /// a time, so a lease covers one SMTP exchange, never a batch's.
    pub async fn send_next(&self) -> anyhow::Result<bool> {
        let lease = Duration::from_secs(self.settings.lease_secs);
        // The worker schedules by the wall clock whatever clock the service
        // reads: retries are real waits.
        let Some(claimed) = self.outbox.claim_mail(Utc::now(), lease, 1).await?.pop() else {
            return Ok(false);
        };
        self.deliver(claimed).await;
        Ok(true)
    }

    async fn deliver(&self, claimed: ClaimedMail) {
        let (mail, attempts) = (&claimed.mail, claimed.attempts);
        let kind = mail.kind.as_str();
        // lettre's own timeout covers connecting only: this one bounds the
        // whole exchange, which the lease must outlast.
        let limit = Duration::from_secs(self.settings.send_timeout_secs);
        let outcome = match self.message(mail) {
            Ok(message) => match tokio::time::timeout(limit, self.transport.send(message)).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(err)) => Err(Failure {
                    permanent: err.is_permanent(),
                    error: err.to_string(),
                }),
                Err(_) => Err(Failure {
                    permanent: false,
                    error: format!("no answer within {}s", limit.as_secs()),
                }),
            },
            // A message that cannot be built never will be.
            Err(error) => Err(Failure {
                permanent: true,
                error,
            }),
        };
        let recorded = match outcome {
            Ok(()) => {
                metrics::counter!("sessions_mail_sent_total", "kind" => kind).increment(1);
                tracing::info!(mail_id = %mail.id, kind, attempts, "mail sent");
                self.outbox.mail_sent(&claimed, Utc::now()).await
            }
            Err(Failure { permanent, error }) => {
                // A 5xx answer (an unknown recipient, say) is final.
                let retry = !permanent && attempts < self.settings.max_attempts;
                let retry_at = retry.then(|| {
                    let wait = self.backoff(attempts);
                    Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default()
                });
                if retry_at.is_some() {
                    metrics::counter!("sessions_mail_retried_total", "kind" => kind).increment(1);
                    tracing::warn!(mail_id = %mail.id, kind, attempts, error = %error, "mail not sent; will retry");
                } else {
                    metrics::counter!("sessions_mail_failed_total", "kind" => kind).increment(1);
                    tracing::error!(mail_id = %mail.id, kind, attempts, error = %error, "mail given up");
                }
                self.outbox
                    .mail_not_sent(&claimed, Utc::now(), retry_at, &error)
                    .await
            }
        };
        if let Err(err) = recorded {
            // The lease ends and another round sends it again, with the same
            // Message-ID: at most one duplicate.
            tracing::warn!(mail_id = %mail.id, error = %err, "mail outcome not recorded");
        }
    }

    /// `retry_base · 2^(attempts-1)`, at most an hour.
    fn backoff(&self, attempts: u32) -> Duration {
        let base = Duration::from_secs(self.settings.retry_base_secs.max(1));
        let factor = 1u32 << attempts.saturating_sub(1).min(12);
        (base * factor).min(Duration::from_secs(3600))
    }

    fn message(&self, mail: &sessions_domain::OutboundMail) -> Result<Message, String> {
        let to = Mailbox::new(
            Some(mail.to_name.clone()).filter(|n| !n.is_empty()),
            mail.to_address
                .parse()
                .map_err(|err| format!("recipient address: {err}"))?,
        );
        let body = MultiPart::alternative()
            .singlepart(
                lettre::message::SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .body(mail.text_body.clone()),
            )
            .singlepart(
                lettre::message::SinglePart::builder()
                    .header(ContentType::TEXT_HTML)
                    .body(mail.html_body.clone()),
            );
        Message::builder()
            .message_id(Some(mail.message_id.clone()))
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .date(mail.created_at.into())
            .multipart(body)
            .map_err(|err| format!("message: {err}"))
    }

    async fn sample_depth(&self) {
        if let Ok(depth) = self.outbox.outbox_depth().await {
            metrics::gauge!("sessions_mail_queued").set(depth.queued as f64);
            metrics::gauge!("sessions_mail_failed").set(depth.failed as f64);
        }
    }
}
