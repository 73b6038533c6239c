//! Why a configuration was refused, one problem per bad key, each named by
//! its TOML path and its environment variable; figment's own errors (a
//! value of the wrong type, an unknown key in the file) are named the same way.

use std::fmt;

use super::env;

/// Why a configuration was refused: one line per bad key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    problems: Vec<String>,
}

impl ConfigError {
    pub(crate) fn new(problems: Vec<String>) -> Self {
        Self { problems }
    }

    /// Each bad key, with what is wrong with it.
    pub fn problems(&self) -> &[String] {
        &self.problems
    }

    /// figment's errors (a value of the wrong type, an unknown key in the
    /// file), with the key's environment variable added to its path.
    pub(crate) fn from_figment(error: figment::Error) -> Self {
        Self::new(error.into_iter().map(|e| describe_figment(&e)).collect())
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration: {}", self.problems.join("; "))
    }
}

impl std::error::Error for ConfigError {}

fn describe_figment(error: &figment::Error) -> String {
    let path = error.path.join(".");
    let origin = match &error.metadata {
        Some(metadata) => match &metadata.source {
            Some(source) => format!(" (in {} {source})", metadata.name),
            None => format!(" (in {})", metadata.name),
        },
        None => String::new(),
    };
    // A file written for the flat configuration: say where the key went.
    let hint = match &error.kind {
        figment::error::Kind::UnknownField(field, _) if path.is_empty() || path == *field => {
            // A flat key's name is its variable's, without the prefix.
            env::path_of(field)
                .map(|moved| format!("; `{field}` is now `{moved}`"))
                .unwrap_or_default()
        }
        _ => String::new(),
    };
    let kind = &error.kind;
    if path.is_empty() {
        format!("{kind}{origin}{hint}")
    } else {
        format!("{}: {kind}{origin}{hint}", env::describe(&path))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::Config;

    // figment's Jail API returns its large error type; nothing to box here.
    #[allow(clippy::result_large_err)]
    #[test]
    fn values_of_the_wrong_type_name_the_key_and_its_variable() {
        for (variable, value, key) in [
            (
                "SESSIONS_MAX_CONNECTIONS",
                "many",
                "listener.max_connections",
            ),
            ("SESSIONS_LOG_FORMAT", "yaml", "telemetry.log_format"),
            ("SESSIONS_LISTEN", "localhost", "listener.listen"),
            ("SESSIONS_ADMIN_LISTEN", "9090", "listener.admin_listen"),
            (
                "SESSIONS_TOTP_SKEW_STEPS",
                "one",
                "two_factor.totp_skew_steps",
            ),
        ] {
            figment::Jail::expect_with(|jail| {
                jail.set_env(variable, value);
                let refused = Config::load(None).unwrap_err().to_string();
                assert!(
                    refused.contains(&format!("{key} ({variable})")),
                    "{refused}"
                );
                Ok(())
            });
        }
    }

    // figment's Jail API returns its large error type; nothing to box here.
    #[allow(clippy::result_large_err)]
    #[test]
    fn a_flat_key_in_the_file_says_where_it_went() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("sessions.toml", "rate_limit_requests = 5\n")?;
            let refused = Config::load(Some(Path::new("sessions.toml")))
                .unwrap_err()
                .to_string();
            assert!(
                refused.contains("`rate_limit_requests` is now `limits.rate_limit.requests`"),
                "{refused}"
            );
            Ok(())
        });
    }
}
