//! The `sessionsd` command line: serve, migrate, and operator commands for
//! users and permissions.

use std::{io::Write, path::PathBuf, sync::Arc};

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use sessions_domain::{SystemClock, UserEmail, format_timestamp};
use sessions_service::{RandomIds, SessionService, UpsertUser};

use crate::{Config, Server, build_service, open_store};

#[derive(Debug, Parser)]
#[command(
    name = "sessionsd",
    version,
    about = "Login sessions and devices over gRPC and REST"
)]
pub struct Cli {
    /// TOML configuration file; `SESSIONS_*` environment variables override it.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve REST, gRPC and gRPC-web on the configured address.
    Serve,
    /// Apply pending migrations (or roll back with --down).
    Migrate {
        /// Roll back instead of applying.
        #[arg(long)]
        down: bool,
        /// With --down: how many migrations to roll back (default: all).
        #[arg(long, requires = "down")]
        steps: Option<u32>,
    },
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage which roles hold a permission.
    #[command(subcommand)]
    Permission(PermissionCommand),
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; prints the new user id alone on the last line.
    Add(AddUser),
    /// List users, one per line.
    List,
    /// Deactivate a user (by id or username); their tokens stop working on
    /// every replica within its token cache's trust window (100 ms).
    Deactivate { user: String },
    /// Replace a user's e-mail addresses (none given: remove them all).
    SetEmails {
        user: String,
        #[command(flatten)]
        emails: EmailArgs,
    },
    /// Set a user's password (read from stdin when --password is not given).
    SetPassword {
        user: String,
        #[arg(long)]
        password: Option<String>,
    },
    /// Enable TOTP; prints the otpauth URI and the backup codes.
    EnableTotp {
        user: String,
        /// Base32 secret to use; random when omitted.
        #[arg(long)]
        secret: Option<String>,
    },
    /// Disable TOTP.
    DisableTotp { user: String },
}

#[derive(Debug, Args)]
pub struct AddUser {
    #[arg(long)]
    pub username: String,
    #[arg(long)]
    pub name: String,
    #[arg(long)]
    pub password: Option<String>,
    /// A role; repeat for several.
    #[arg(long = "role")]
    pub roles: Vec<String>,
    /// Enable TOTP with this base32 secret.
    #[arg(long)]
    pub totp_secret: Option<String>,
    #[command(flatten)]
    pub emails: EmailArgs,
}

/// A user's e-mail addresses, in the order given (the first is the one mailed).
#[derive(Debug, Args)]
pub struct EmailArgs {
    /// An unverified address; repeat for several.
    #[arg(long = "email")]
    pub unverified: Vec<String>,
    /// A verified address; repeat for several. Verified ones come first.
    #[arg(long = "verified-email")]
    pub verified: Vec<String>,
}

impl EmailArgs {
    fn emails(self) -> Vec<UserEmail> {
        let verified = self.verified.into_iter().map(|address| UserEmail {
            address,
            verified: true,
        });
        let unverified = self.unverified.into_iter().map(|address| UserEmail {
            address,
            verified: false,
        });
        verified.chain(unverified).collect()
    }
}

#[derive(Debug, Subcommand)]
pub enum PermissionCommand {
    /// Give a role a permission.
    Grant { permission: String, role: String },
    /// Take a permission from a role.
    Revoke { permission: String, role: String },
    /// List permissions and their roles.
    List,
}

/// Runs a command to completion, writing its output to `out`; `shutdown` ends
/// `serve`.
pub async fn run(
    command: Command,
    config: &Config,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    // Every command refuses a configuration `serve` would refuse.
    config.validate()?;
    match command {
        Command::Serve => Server::build(config).await?.run(shutdown).await,
        Command::Migrate { down, steps } => migrate(config, down, steps).await,
        Command::User(command) => {
            let service = operator_service(config).await?;
            user_command(&service, command, out).await
        }
        Command::Permission(command) => {
            let service = operator_service(config).await?;
            permission_command(&service, command, out).await
        }
    }
}

async fn migrate(config: &Config, down: bool, steps: Option<u32>) -> anyhow::Result<()> {
    let mut options = sessions_store::StoreOptions::new(config.database.url.clone());
    options.max_connections = 1;
    let store = sessions_store::Store::connect(&options)
        .await
        .context("cannot open the database")?;
    if down {
        store.migrate_down(steps).await.context("rollback failed")?;
        tracing::info!("migrations rolled back");
    } else {
        store.migrate().await.context("migrations failed")?;
        tracing::info!("migrations applied");
    }
    Ok(())
}

async fn operator_service(config: &Config) -> anyhow::Result<SessionService> {
    let store = open_store(config, config.is_sqlite()).await?;
    build_service(config, store, Arc::new(SystemClock), Arc::new(RandomIds))
}

async fn user_command(
    service: &SessionService,
    command: UserCommand,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    match command {
        UserCommand::Add(add) => {
            let user = service
                .upsert_user(UpsertUser {
                    id: None,
                    username: add.username,
                    name: add.name,
                    roles: add.roles,
                    active: true,
                    emails: Some(add.emails.emails()),
                    receive_login_emails: None,
                    email_two_factor: None,
                })
                .await?;
            if let Some(password) = add.password {
                service.set_password(&user.id, &password, None).await?;
            }
            if let Some(secret) = add.totp_secret {
                let enrollment = service.enroll_totp(&user.id, Some(&secret)).await?;
                writeln!(out, "otpauth: {}", enrollment.otpauth_uri)?;
                writeln!(out, "backup codes: {}", enrollment.backup_codes.join(" "))?;
            }
            writeln!(out, "{}", user.id)?;
        }
        UserCommand::List => {
            for user in service.list_users().await? {
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    user.id,
                    user.username,
                    user.name,
                    user.roles.join(","),
                    if user.active { "active" } else { "inactive" },
                    format_timestamp(user.created_at)
                )?;
            }
        }
        UserCommand::Deactivate { user } => {
            let user = service.find_user(&user).await?;
            service.deactivate_user(&user.id).await?;
            writeln!(out, "{} deactivated", user.id)?;
        }
        UserCommand::SetEmails { user, emails } => {
            let user = service.find_user(&user).await?;
            let emails = emails.emails();
            let count = emails.len();
            service
                .upsert_user(UpsertUser {
                    id: Some(user.id.clone()),
                    username: user.username,
                    name: user.name,
                    roles: user.roles,
                    active: user.active,
                    emails: Some(emails),
                    receive_login_emails: None,
                    email_two_factor: None,
                })
                .await?;
            writeln!(out, "{} has {count} e-mail address(es)", user.id)?;
        }
        UserCommand::SetPassword { user, password } => {
            let user = service.find_user(&user).await?;
            let password = match password {
                Some(password) => password,
                None => read_password_from_stdin()?,
            };
            // From the CLI nobody's session is kept: the operator is not one.
            let ended = service.set_password(&user.id, &password, None).await?;
            writeln!(
                out,
                "password set for {}; {} session(s) logged out",
                user.id,
                ended.len()
            )?;
        }
        UserCommand::EnableTotp { user, secret } => {
            let user = service.find_user(&user).await?;
            let enrollment = service.enroll_totp(&user.id, secret.as_deref()).await?;
            writeln!(out, "backup codes: {}", enrollment.backup_codes.join(" "))?;
            writeln!(out, "{}", enrollment.otpauth_uri)?;
        }
        UserCommand::DisableTotp { user } => {
            let user = service.find_user(&user).await?;
            service.disable_totp(&user.id).await?;
            writeln!(out, "totp disabled for {}", user.id)?;
        }
    }
    Ok(())
}

fn read_password_from_stdin() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the password from stdin")?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    anyhow::ensure!(!password.is_empty(), "empty password on stdin");
    Ok(password)
}

async fn permission_command(
    service: &SessionService,
    command: PermissionCommand,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let changed = match command {
        PermissionCommand::Grant { permission, role } => {
            service.grant_permission(&permission, &role).await?
        }
        PermissionCommand::Revoke { permission, role } => {
            service.revoke_permission(&permission, &role).await?
        }
        PermissionCommand::List => {
            for permission in service.list_permissions().await? {
                writeln!(out, "{}\t{}", permission.id, permission.roles.join(","))?;
            }
            return Ok(());
        }
    };
    writeln!(out, "{}\t{}", changed.id, changed.roles.join(","))?;
    Ok(())
}
