//! The `[mail]` section: the SMTP server, the sender, the login alerts and the
//! outbox worker's pace.

use serde::{Deserialize, Serialize};
use sessions_service::{DEFAULT_LOGIN_BODY, DEFAULT_LOGIN_SUBJECT, LoginEmailPolicy, MailConfig};

#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailSettings {
    /// `smtps://host:port` (TLS from the start), `smtp://host:port?tls=required`
    /// (STARTTLS), `smtp://host:port` (plain, for a local relay); credentials
    /// as `smtps://user:password@host`. Unset: no mail is queued.
    pub smtp_url: Option<String>,
    /// The sender: `Name <address>` or an address.
    pub from: String,
    /// Rocket.Chat's `Site_Name`, for `[Site_Name]`.
    pub site_name: String,
    /// Mail a user when their account logs in (Rocket.Chat's
    /// `Device_Management_Enable_Login_Emails`).
    pub login_emails: bool,
    /// Users may turn their login alerts off (`receiveLoginDetectionEmail`).
    pub login_email_preference: bool,
    /// `every` login, or only a `new-device` one.
    pub login_email_policy: PolicySetting,
    /// `new-device`: a (device, address) seen within this long is not new.
    pub new_device_period_secs: u64,
    /// Subject and HTML body templates, with Rocket.Chat's placeholders.
    pub login_email_subject: String,
    pub login_email_body: String,
    /// Attempts before a message is given up (at least 1).
    pub max_attempts: u32,
    /// The first retry waits this long; each next one twice as long.
    pub retry_base_secs: u64,
    /// The worker looks for due mail this often.
    pub poll_interval_ms: u64,
    /// A claimed message is another worker's again after this long
    /// unanswered (a crashed worker); longer than one SMTP exchange.
    pub lease_secs: u64,
    /// The longest one SMTP exchange may take.
    pub send_timeout_secs: u64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PolicySetting {
    #[default]
    Every,
    NewDevice,
}

impl Default for MailSettings {
    fn default() -> Self {
        let mail = MailConfig::default();
        Self {
            smtp_url: None,
            from: mail.from,
            site_name: mail.site_name,
            login_emails: mail.login_emails,
            login_email_preference: mail.allow_login_email_preference,
            login_email_policy: PolicySetting::Every,
            new_device_period_secs: mail.new_device_period.as_secs(),
            login_email_subject: DEFAULT_LOGIN_SUBJECT.to_owned(),
            login_email_body: DEFAULT_LOGIN_BODY.to_owned(),
            max_attempts: 8,
            retry_base_secs: 5,
            poll_interval_ms: 1000,
            lease_secs: 60,
            send_timeout_secs: 15,
        }
    }
}

impl MailSettings {
    /// The service's view: composing and queueing.
    pub fn service_config(&self) -> MailConfig {
        MailConfig {
            enabled: self.smtp_url.as_deref().is_some_and(|url| !url.is_empty()),
            from: self.from.clone(),
            site_name: self.site_name.clone(),
            login_emails: self.login_emails,
            allow_login_email_preference: self.login_email_preference,
            login_email_policy: match self.login_email_policy {
                PolicySetting::Every => LoginEmailPolicy::Every,
                PolicySetting::NewDevice => LoginEmailPolicy::NewDevice,
            },
            new_device_period: std::time::Duration::from_secs(self.new_device_period_secs),
            login_email_subject: self.login_email_subject.clone(),
            login_email_body: self.login_email_body.clone(),
        }
    }
}
