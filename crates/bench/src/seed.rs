//! Synthetic users and sessions with the derived fields the service itself
//! writes (device, roles, `mostImportantRole`, `searchTerm`, token hash), so the
//! seeded rows are indistinguishable from rows created by real logins.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rand::{RngExt, SeedableRng, rngs::SmallRng};
use sessions_domain::{Device, Session, User};
use sessions_service::{
    device::parse_device, roles::most_important_role, secrets::hash_login_token,
};

/// Real User-Agents of browsers, phones, desktop and mobile Rocket.Chat apps,
/// with rough weights of how often each logs in.
pub const USER_AGENTS: &[(&str, u32)] = &[
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
        20,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/113.0.0.0 Safari/537.36 Edg/113.0.1774.57",
        6,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
        7,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36",
        8,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
        6,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.4; rv:124.0) Gecko/20100101 Firefox/124.0",
        2,
    ),
    (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36",
        4,
    ),
    (
        "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0",
        3,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1",
        6,
    ),
    (
        "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
        2,
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36",
        5,
    ),
    (
        "Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36",
        3,
    ),
    (
        "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36",
        1,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 OPR/106.0.0.0",
        1,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Rocket.Chat/3.9.14 Chrome/116.0.5845.228 Electron/26.6.10 Safari/537.36",
        5,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Rocket.Chat/4.0.0 Chrome/120.0.6099.291 Electron/28.3.1 Safari/537.36",
        3,
    ),
    ("RC Mobile; iOS 17.4; v4.47.0 (55022)", 5),
    ("RC Mobile; Android 14; v4.47.0 (55021)", 5),
    ("RC Mobile; iOS 16.7.7; v4.46.1 (54903)", 2),
    ("curl/8.5.0", 1),
];

/// The User-Agent the load generator sends (and the admin session's).
pub const CLIENT_UA: &str = USER_AGENTS[0].0;

const FIRST: &[&str] = &[
    "Ana", "Bruno", "Chen", "Dana", "Emeka", "Fatima", "Gustavo", "Hana", "Ivan", "Julia", "Kofi",
    "Lena", "Mateo", "Nadia", "Omar", "Priya", "Quentin", "Rosa", "Sven", "Tomoko",
];
const LAST: &[&str] = &[
    "Almeida", "Becker", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ito",
    "Jansen", "Kowalski", "Lopez", "Müller", "Nakamura", "Okafor", "Petrov", "Rossi", "Silva",
    "Tanaka", "Weber",
];
const INSTANCES: &[&str] = &[
    "0b7c6a4e-5f1d-4a8e-9a51-3f8d2c1e7b90",
    "5d2e9f3a-8c4b-4e71-b6d0-1a9c7e3f2d58",
    "c91a7e28-3b6f-4d05-8e2a-7f4c0d9b1e63",
];
const METEOR: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz";
const DAY_MS: i64 = 86_400_000;
/// The service's default token lifetime; every seeded session expires 90 days
/// after its login, as a real one would.
const LIFETIME_MS: i64 = 90 * DAY_MS;
/// Sessions of the users whose `sessions/list` is measured.
pub const LIST_USER_SESSIONS: usize = 100;

/// How much to seed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SeedSpec {
    pub users: usize,
    pub sessions: usize,
    /// Users seeded with exactly [`LIST_USER_SESSIONS`] active sessions.
    pub list_users: usize,
    /// Plain tokens kept for the load phase.
    pub sample: usize,
    pub rng_seed: u64,
}

/// A user id, a token in clear and its session: what a client holds.
#[derive(Debug, Clone)]
pub struct Login {
    pub user_id: String,
    pub token: String,
    pub session_id: String,
}

/// What the load phase needs from the seeded data.
#[derive(Debug, Clone)]
pub struct Seeded {
    pub admin: Login,
    pub admin_username: String,
    /// Active sessions spread over the whole table.
    pub sample: Vec<Login>,
    /// One session of each user holding exactly 100 active sessions.
    pub list_users: Vec<Login>,
    /// Substrings of sampled session ids: selective `list.all` filters.
    pub filters: Vec<String>,
}

/// A role set and its most important role: a handful per data set.
#[derive(Clone)]
struct Roles {
    list: Vec<String>,
    top: String,
}

fn roles(list: &[&str]) -> Roles {
    let list: Vec<String> = list.iter().map(|r| (*r).to_owned()).collect();
    Roles {
        top: most_important_role(&list),
        list,
    }
}

fn instant(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

fn meteor_id(rng: &mut SmallRng) -> String {
    (0..17)
        .map(|_| METEOR[rng.random_range(0..METEOR.len())] as char)
        .collect()
}

/// Generates the data set; `users` and `sessions` receive it in chunks so a
/// database can ingest one chunk while the next is made.
pub struct Generator {
    spec: SeedSpec,
    now_ms: i64,
    rng: SmallRng,
    users: Vec<(String, usize)>,
    /// (cumulative weight, parsed device) per User-Agent.
    devices: Vec<(u32, Device)>,
    total_weight: u32,
    role_sets: Vec<Roles>,
    made: usize,
    /// This generator makes sessions `made..end` of the data set.
    end: usize,
    pub seeded: Seeded,
}

impl Generator {
    pub fn new(spec: SeedSpec, now_ms: i64) -> Self {
        let spec_sessions = spec.sessions.max(1);
        let mut rng = SmallRng::seed_from_u64(spec.rng_seed);
        let mut cumulative = 0;
        let mut devices = Vec::new();
        let mut parsed: HashMap<&str, Device> = HashMap::new();
        for (ua, weight) in USER_AGENTS {
            cumulative += weight;
            // The service's own parser, so device fields match real logins.
            let device = parsed.entry(ua).or_insert_with(|| parse_device(ua));
            devices.push((cumulative, device.clone()));
        }
        let role_sets = vec![
            roles(&["admin", "user"]),
            roles(&["user"]),
            roles(&["user", "livechat-agent"]),
            roles(&["bot"]),
        ];
        let users = (0..spec.users.max(2))
            .map(|i| {
                let set = match i {
                    0 => 0,
                    i if i % 50 == 0 => 2,
                    i if i % 200 == 7 => 3,
                    _ => 1,
                };
                (meteor_id(&mut rng), set)
            })
            .collect();
        Self {
            spec,
            now_ms,
            rng,
            users,
            devices,
            total_weight: cumulative,
            role_sets,
            made: 0,
            end: spec_sessions,
            seeded: Seeded {
                admin: Login {
                    user_id: String::new(),
                    token: String::new(),
                    session_id: String::new(),
                },
                admin_username: "user00000".to_owned(),
                sample: Vec::new(),
                list_users: Vec::new(),
                filters: Vec::new(),
            },
        }
    }

    /// Splits the sessions still to make into `parts` generators, each with its
    /// own random stream and share of the sample, to make them on every core.
    pub fn split(self, parts: usize) -> Vec<Generator> {
        let parts = parts.max(1);
        let (start, end) = (self.made, self.end);
        let per = (end - start).div_ceil(parts);
        (0..parts)
            .map(|i| {
                let mut spec = self.spec.clone();
                spec.sample = self.spec.sample.div_ceil(parts);
                Generator {
                    rng: SmallRng::seed_from_u64(self.spec.rng_seed.wrapping_add(1 + i as u64)),
                    made: (start + i * per).min(end),
                    end: (start + (i + 1) * per).min(end),
                    users: self.users.clone(),
                    devices: self.devices.clone(),
                    role_sets: self.role_sets.clone(),
                    seeded: Seeded {
                        sample: Vec::new(),
                        list_users: Vec::new(),
                        filters: Vec::new(),
                        ..self.seeded.clone()
                    },
                    spec,
                    now_ms: self.now_ms,
                    total_weight: self.total_weight,
                }
            })
            .collect()
    }

    pub fn users(&self) -> Vec<User> {
        self.users
            .iter()
            .enumerate()
            .map(|(i, (id, set))| User {
                id: id.clone(),
                username: format!("user{i:05}"),
                name: format!(
                    "{} {}",
                    FIRST[i % FIRST.len()],
                    LAST[(i / FIRST.len()) % LAST.len()]
                ),
                roles: self.role_sets[*set].list.clone(),
                active: true,
                password_hash: None,
                totp_secret: None,
                totp_last_step: None,
                created_at: instant(self.now_ms - 120 * DAY_MS),
            })
            .collect()
    }

    fn list_user_count(&self) -> usize {
        self.spec
            .list_users
            .min(self.users.len() - 1)
            .min(self.spec.sessions / LIST_USER_SESSIONS)
    }

    /// The next chunk of at most `size` sessions; empty when all are made. The
    /// admin's own session comes first, then the list users' 100 each, then
    /// sessions of random users.
    pub fn next_sessions(&mut self, size: usize) -> Vec<Session> {
        let mut rows = Vec::with_capacity(size);
        let fixed = self.list_user_count() * LIST_USER_SESSIONS;
        while rows.len() < size && self.made < self.end {
            let n = self.made;
            self.made += 1;
            let (user, kept) = if n == 0 {
                (0, Keep::Admin)
            } else if n <= fixed {
                let user = 1 + (n - 1) / LIST_USER_SESSIONS;
                let first = (n - 1).is_multiple_of(LIST_USER_SESSIONS);
                (user, if first { Keep::ListUser } else { Keep::No })
            } else {
                // Users holding exactly 100 sessions are left out of the rest.
                let lo = 1 + self.list_user_count();
                let user = if lo >= self.users.len() {
                    0
                } else {
                    self.rng.random_range(lo..self.users.len())
                };
                (user, Keep::Sample)
            };
            rows.push(self.session(user, kept));
        }
        rows
    }

    fn session(&mut self, user: usize, kept: Keep) -> Session {
        let rng = &mut self.rng;
        let mut token_bytes = [0u8; 24];
        rng.fill(&mut token_bytes[..]);
        let token = hex_string(&token_bytes);
        let mut record = [0u8; 12];
        rng.fill(&mut record[..]);
        let session_id = meteor_id(rng);
        let (user_id, set) = &self.users[user];
        let roles = &self.role_sets[*set];
        let pick = rng.random_range(0..self.total_weight);
        let device = if kept == Keep::Admin {
            &self.devices[0].1
        } else {
            self.devices
                .iter()
                .find(|(upto, _)| pick < *upto)
                .map_or(&self.devices[0].1, |(_, device)| device)
        };
        // Logins spread over the last 90 days; kept sessions stay clear of the
        // expiry edge so they remain valid for the whole run.
        let age = match kept {
            Keep::No | Keep::Sample => rng.random_range(0..LIFETIME_MS - DAY_MS),
            _ => rng.random_range(0..30 * DAY_MS),
        };
        let login_at = self.now_ms - age;
        let logged_out = kept == Keep::Sample && rng.random_range(0..10) == 0;
        let activity = login_at + rng.random_range(0..age.max(1));
        let last_activity_at = rng.random_bool(0.8).then_some(activity);
        let closed_at = rng.random_bool(0.3).then_some(activity);
        let session = Session {
            id: hex_string(&record),
            search_term: Session::search_term_for(device, &session_id, user_id),
            session_id,
            instance_id: INSTANCES[rng.random_range(0..INSTANCES.len())].to_owned(),
            login_token_hash: hash_login_token(&token),
            ip: format!(
                "10.{}.{}.{}",
                rng.random_range(0..256),
                rng.random_range(0..256),
                rng.random_range(1..255)
            ),
            host: "chat.example.com".to_owned(),
            device: device.clone(),
            user_id: user_id.clone(),
            roles: roles.list.clone(),
            most_important_role: roles.top.clone(),
            login_at: instant(login_at),
            created_at: instant(login_at),
            updated_at: instant(last_activity_at.unwrap_or(login_at)),
            last_activity_at: last_activity_at.map(instant),
            closed_at: closed_at.map(instant),
            logout_at: logged_out.then(|| instant(activity)),
            logout_by: logged_out.then(|| user_id.clone()),
            expires_at: instant(login_at + LIFETIME_MS),
            two_factor_trust: None,
        };
        self.keep(&session, token, kept, logged_out, age);
        session
    }

    fn keep(&mut self, row: &Session, token: String, kept: Keep, logged_out: bool, age: i64) {
        let login = || Login {
            user_id: row.user_id.clone(),
            token: token.clone(),
            session_id: row.session_id.clone(),
        };
        let seeded = &mut self.seeded;
        match kept {
            Keep::Admin => seeded.admin = login(),
            Keep::ListUser => seeded.list_users.push(login()),
            Keep::Sample
                if !logged_out && age < 80 * DAY_MS && seeded.sample.len() < self.spec.sample =>
            {
                if seeded.filters.len() < 64 {
                    // 5 characters of a session id: a handful of matches in
                    // 1M rows, as when an admin pastes part of an id.
                    let start = seeded.filters.len() % 12;
                    seeded
                        .filters
                        .push(row.session_id[start..start + 5].to_lowercase());
                }
                seeded.sample.push(login());
            }
            _ => {}
        }
    }
}

impl Seeded {
    /// Joins what the parts of a split generator kept.
    pub fn merge(parts: Vec<Seeded>) -> Option<Seeded> {
        let mut parts = parts.into_iter();
        let mut all = parts.next()?;
        for part in parts {
            if !part.admin.user_id.is_empty() {
                all.admin = part.admin;
            }
            all.list_users.extend(part.list_users);
            all.sample.extend(part.sample);
            all.filters.extend(part.filters);
        }
        Some(all)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keep {
    Admin,
    ListUser,
    Sample,
    No,
}

fn hex_string(bytes: &[u8]) -> String {
    const HEX: &[u8] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 15) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_carry_what_the_service_derives() {
        let spec = SeedSpec {
            users: 10,
            sessions: 500,
            list_users: 2,
            sample: 50,
            rng_seed: 1,
        };
        let mut generator = Generator::new(spec, 1_700_000_000_000);
        let mut all = Vec::new();
        loop {
            let chunk = generator.next_sessions(64);
            if chunk.is_empty() {
                break;
            }
            all.extend(chunk);
        }
        assert_eq!(all.len(), 500);
        let seeded = &generator.seeded;
        assert_eq!(seeded.list_users.len(), 2);
        assert_eq!(
            all.iter()
                .filter(|r| r.user_id == seeded.list_users[0].user_id)
                .count(),
            100
        );
        assert_eq!(all[0].most_important_role, "admin");
        let admin = &all[0];
        assert_eq!(
            admin.login_token_hash,
            hash_login_token(&seeded.admin.token)
        );
        assert_eq!(
            admin.search_term,
            format!(
                "Chromebrowser{}{}{}",
                "Windows", admin.session_id, admin.user_id
            )
        );
        assert!(!seeded.sample.is_empty() && !seeded.filters.is_empty());
    }
}
