//! Login alerts (spec section 10): whether a login is mailed, and the message
//! composed from Rocket.Chat's device-management template and placeholders.
//! Composed at login and queued with the session; the worker only sends.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sessions_domain::{
    Device, DomainResult, LoginDevice, LoginExtras, MailKind, OutboundMail, User,
};

use crate::{ClientInfo, SessionService, address::address_key};

/// Which logins are mailed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginEmailPolicy {
    /// Every password login, as Rocket.Chat.
    Every,
    /// Only a login whose (device, address) was not seen for the user within
    /// `new_device_period`: a stolen password from elsewhere is mailed, a
    /// daily login from the same laptop is not.
    NewDevice,
}

/// E-mail settings; `enabled` is false while no SMTP server is configured, and
/// then nothing is queued.
#[derive(Debug, Clone)]
pub struct MailConfig {
    pub enabled: bool,
    /// The sender, `Name <address>` or an address.
    pub from: String,
    /// Rocket.Chat's `Site_Name`.
    pub site_name: String,
    /// Rocket.Chat's `Device_Management_Enable_Login_Emails` (on by default).
    pub login_emails: bool,
    /// Rocket.Chat's `Device_Management_Allow_Login_Email_preference`: users
    /// may turn their alerts off.
    pub allow_login_email_preference: bool,
    pub login_email_policy: LoginEmailPolicy,
    pub new_device_period: Duration,
    /// Rocket.Chat's `Device_Management_Email_Subject`, with placeholders.
    pub login_email_subject: String,
    /// Rocket.Chat's `Device_Management_Email_Body` (HTML), with placeholders.
    pub login_email_body: String,
}

/// Rocket.Chat's default subject.
pub const DEFAULT_LOGIN_SUBJECT: &str = "[Site_Name] - Login Detected";

/// Rocket.Chat's default body, its English strings filled in.
pub const DEFAULT_LOGIN_BODY: &str = "<h2 class=\"rc-color\">Login detected</h2>\
<p><strong>[name] ([username]) logged in via</strong></p>\
<p><strong>Client:</strong> [browserInfo]<br><strong>OS:</strong> [osInfo]<br>\
<strong>Device:</strong> [deviceInfo]<br><strong>IP:</strong>[ipInfo]<br>\
<strong>Date:</strong> [date]</p><p><small>[userAgent]</small></p>\
<a class=\"btn\" href=\"[Site_URL]\">Access your account</a>\
<p>Or copy and paste this URL into a tab of your browser<br>\
<a href=\"[Site_URL]\">[SITE_URL]</a></p><p>Thank you for choosing Rocket.Chat!</p>";

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            from: "Rocket.Chat <no-reply@localhost>".to_owned(),
            site_name: "Rocket.Chat".to_owned(),
            login_emails: true,
            allow_login_email_preference: true,
            login_email_policy: LoginEmailPolicy::Every,
            new_device_period: Duration::from_secs(30 * 24 * 3600),
            login_email_subject: DEFAULT_LOGIN_SUBJECT.to_owned(),
            login_email_body: DEFAULT_LOGIN_BODY.to_owned(),
        }
    }
}

/// Text for a header: no CR, LF or other control character survives, so a
/// crafted name or User-Agent cannot add a header.
pub fn header_safe(value: &str) -> String {
    value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_owned()
}

/// Text inside HTML: values from the request are never markup, and their
/// control characters (line breaks in a name) become spaces.
fn html_escaped(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            c if c.is_control() => escaped.push(' '),
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// Rocket.Chat's `[placeholder]` values for one login.
struct LoginFacts {
    values: Vec<(&'static str, String)>,
}

impl LoginFacts {
    fn new(
        user: &User,
        device: &Device,
        client: &ClientInfo,
        at: DateTime<Utc>,
        config: &MailConfig,
        site_url: &str,
    ) -> Self {
        let os = device.os_name.clone();
        // As Rocket.Chat's login listener words each kind of device.
        let (browser, device_info, user_agent) = match device.kind.as_str() {
            "mobile-app" => (
                format!("Rocket.Chat App {}", device.long_version),
                "Mobile App".to_owned(),
                String::new(),
            ),
            "desktop-app" => (
                format!("Rocket.Chat {} {}", device.name, device.long_version),
                "Desktop App".to_owned(),
                String::new(),
            ),
            // The User-Agent for every browser (the spec wants it in the
            // alert); Rocket.Chat shows it for desktop browsers only.
            kind => (
                format!("{} {}", device.name, device.long_version),
                if kind.is_empty() || kind == "other" {
                    "Unknown".to_owned()
                } else {
                    kind.to_owned()
                },
                client.user_agent.clone(),
            ),
        };
        Self {
            values: vec![
                ("[name]", user.name.clone()),
                ("[username]", user.username.clone()),
                ("[browserInfo]", browser.trim().to_owned()),
                ("[osInfo]", os),
                ("[deviceInfo]", device_info),
                ("[ipInfo]", client.ip.clone()),
                ("[date]", at.format("%B %-d, %Y %-I:%M %p UTC").to_string()),
                ("[userAgent]", user_agent),
                ("[Site_URL]", site_url.to_owned()),
                ("[SITE_URL]", site_url.to_owned()),
                ("[Site_Name]", config.site_name.clone()),
            ],
        }
    }

    /// One pass over the template: a value holding a placeholder's text
    /// (a User-Agent with `[Site_URL]` in it) is never filled in again.
    fn fill(&self, template: &str, escape: fn(&str) -> String) -> String {
        let mut filled = String::with_capacity(template.len() * 2);
        let mut rest = template;
        while let Some(at) = rest.find('[') {
            filled.push_str(&rest[..at]);
            rest = &rest[at..];
            match self.values.iter().find(|(name, _)| rest.starts_with(name)) {
                Some((name, value)) => {
                    filled.push_str(&escape(value));
                    rest = &rest[name.len()..];
                }
                None => {
                    filled.push('[');
                    rest = &rest[1..];
                }
            }
        }
        filled.push_str(rest);
        filled
    }
}

/// A plain-text rendering of the HTML body, for mail readers without HTML.
fn text_of(html: &str) -> String {
    let spaced = html
        .replace("<br>", "\n")
        .replace("</p>", "\n\n")
        .replace("</h2>", "\n\n");
    let mut text = String::with_capacity(spaced.len());
    let mut in_tag = false;
    for c in spaced.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
        .trim()
        .to_owned()
}

/// The key the `new-device` policy compares: browser and OS, without
/// versions (an update is the same device).
fn device_key(device: &Device) -> String {
    format!("{}|{}", device.name, device.os_name).to_lowercase()
}

impl SessionService {
    /// Deletes mail done for longer than `retention` (sent alerts hold names,
    /// addresses and User-Agents) and devices unseen for longer than the
    /// `new-device` period, which can no longer spare anyone an alert.
    pub async fn prune_mail(&self, retention: Duration) -> DomainResult<u64> {
        let now = self.now();
        let days = |d: Duration| {
            chrono::Duration::from_std(d).unwrap_or_else(|_| chrono::Duration::days(30))
        };
        self.repo()
            .prune_mail(
                now - days(retention),
                now - days(self.config().mail.new_device_period),
            )
            .await
    }

    /// What a password login writes beside its session: its alert, when one
    /// is due, and the device it saw.
    pub(crate) async fn login_extras(
        &self,
        user: &User,
        device: &Device,
        client: &ClientInfo,
    ) -> DomainResult<LoginExtras> {
        let config = &self.config().mail;
        if !config.enabled || !config.login_emails {
            return Ok(LoginExtras::default());
        }
        let seen = LoginDevice {
            device_key: device_key(device),
            address: address_key(&client.ip),
        };
        let mail = self.login_alert(user, device, client, &seen).await?;
        Ok(LoginExtras {
            mail,
            device: Some(seen),
        })
    }

    /// The alert this login gets, if any: by the policy, the user's choice
    /// and whether the user has an address.
    async fn login_alert(
        &self,
        user: &User,
        device: &Device,
        client: &ClientInfo,
        seen: &LoginDevice,
    ) -> DomainResult<Option<OutboundMail>> {
        let config = &self.config().mail;
        let now = self.now();
        if config.login_email_policy == LoginEmailPolicy::NewDevice {
            let since = now
                - chrono::Duration::from_std(config.new_device_period)
                    .unwrap_or_else(|_| chrono::Duration::days(30));
            if self.repo().is_known_device(&user.id, seen, since).await? {
                return Ok(None);
            }
        }
        if config.allow_login_email_preference
            && self.repo().login_email_preference(&user.id).await? == Some(false)
        {
            return Ok(None);
        }
        // Rocket.Chat mails the first address, verified or not.
        let Some(email) = self.repo().user_emails(&user.id).await?.into_iter().next() else {
            return Ok(None);
        };
        let site_url = self.config().site_url.clone();
        let facts = LoginFacts::new(user, device, client, now, config, &site_url);
        let html = facts.fill(&config.login_email_body, html_escaped);
        let id = uuid::Uuid::new_v4().simple().to_string();
        let mail = OutboundMail {
            message_id: format!("<{id}@{}>", message_id_domain(&config.from)),
            id,
            kind: MailKind::LoginAlert,
            to_address: email.address,
            to_name: header_safe(&user.name),
            subject: header_safe(&facts.fill(&config.login_email_subject, header_safe)),
            text_body: text_of(&html),
            html_body: html,
            created_at: now,
        };
        Ok(Some(mail))
    }
}

/// The sender's domain, which makes each `Message-ID` globally unique.
pub(crate) fn message_id_domain(from: &str) -> String {
    let address = from
        .rsplit_once('<')
        .map_or(from, |(_, rest)| rest.trim_end_matches('>'));
    address
        .rsplit_once('@')
        .map(|(_, domain)| domain.trim())
        .filter(|domain| {
            !domain.is_empty()
                && domain
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        })
        .unwrap_or("sessions.invalid")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_lose_line_breaks_and_html_loses_markup() {
        assert_eq!(header_safe("Eve\r\nBcc: all@x.org"), "Eve  Bcc: all@x.org");
        assert_eq!(
            html_escaped("<script>\"x\" & 'y'</script>"),
            "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/script&gt;"
        );
        assert_eq!(text_of("<p>a &lt;b&gt;<br>c</p>"), "a <b>\nc");
    }

    #[test]
    fn placeholders_are_filled_once() {
        let facts = LoginFacts {
            values: vec![
                ("[name]", "[userAgent] & co".to_owned()),
                ("[userAgent]", "UA".to_owned()),
            ],
        };
        assert_eq!(
            facts.fill("<b>[name]</b> [userAgent] [unknown] [", html_escaped),
            "<b>[userAgent] &amp; co</b> UA [unknown] ["
        );
    }

    #[test]
    fn message_ids_use_the_sender_domain() {
        assert_eq!(
            message_id_domain("Chat <no-reply@chat.example.org>"),
            "chat.example.org"
        );
        assert_eq!(message_id_domain("a@b.io"), "b.io");
        assert_eq!(message_id_domain("nobody"), "sessions.invalid");
        assert_eq!(message_id_domain("x@evil\r\nBcc: y"), "sessions.invalid");
    }
}
