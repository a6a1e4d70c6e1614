//! Sessions: `POST Login`, the `Authtoken` check every other call passes, idle expiry,
//! `POST RenewLoginToken`, `POST Logout` and `POST WhoAmI`.
//!
//! # Login
//! The body is the documented JSON (`{"domain","username","password","commserver","timeout"}`),
//! what cvpysdk sends (`{"mode":4,"username","password","deviceId","clientType":30}`), or the
//! documented XML `<DM2ContentIndexing_CheckCredentialReq username="" password="" …/>`; the
//! `Content-Type` header says which, and without one the first character of the body does.
//! `password` must be the base64 (standard alphabet, padded) of the UTF-8 password, as the docs
//! require: a password sent in plain text does not log in. User names compare without regard
//! to case (Commvault user names are case-insensitive); the configured users are local CommCell
//! users, so a non-empty `domain` matches none of them. `deviceId` binds the session to a
//! device (see renewal); `timeout` (minutes, the docs' "Timeout of the token", default 30) sets
//! the session's idle timeout, else [`super::CommvaultConfig::token_idle_timeout`] applies.
//!
//! Success: HTTP 200 with `token` (`"QSDK <hex>"`, used verbatim as `Authtoken`), `userName`,
//! `aliasName` (the user id as a string), `userGUID` and the other fields of the documented
//! response (dialects.md §2.2). Failure (unknown user, wrong or plain-text password, a body that
//! is not a login request): HTTP 200 with `{"errList":[{"errorCode":…,"errLogMessage":…}],
//! "isAccountLocked":false,"remainingLockTime":0}` — cvpysdk's `_login` reads exactly
//! `errList[0].errLogMessage` from a 200 answer that lacks `token`, and parses the body as JSON
//! even on other statuses, so the failure is a JSON 200. The simulator never locks accounts.
//!
//! # Tokens
//! A token dies when it has not been used for its idle timeout ("The authentication token
//! expires after 30 minutes of inactivity"), when [`super::CommvaultSim::expire_all_tokens`]
//! is called, on Logout, or when it is renewed. Every authenticated call that finds it live
//! resets its idle timer. A dead or unknown token, or none, gets HTTP 401, on which cvpysdk
//! renews. Tokens and passwords are never logged.
//!
//! # Renewal
//! `POST RenewLoginToken {"sessionId": <token>, "deviceId": …}` needs no live `Authtoken`
//! header: cvpysdk calls it after a 401, with the dead token in both places, and a 401 here
//! would send it into its renewal loop. The token is the `sessionId` (with or without the
//! `QSDK ` prefix). A renewal is granted when renewals are allowed
//! ([`super::CommvaultSim::set_renewal_allowed`]) and the session was neither logged out nor
//! already renewed, and:
//! - the session is live: any `deviceId` is accepted when the login gave none, else it must
//!   match; or
//! - the session expired (idle, or by the test knob) no more than 24 hours ago and the login
//!   gave a `deviceId` that this request repeats: the docs describe `deviceId` as what is "used
//!   to renew token after expiry", so a session without one cannot come back once dead.
//!
//! A grant answers HTTP 200 `{"token":"QSDK …"}` with a new token for the same user, device
//! and idle timeout; the old token stops working. A refusal answers HTTP 200
//! `{"error":{"errorCode":8,"errLogMessage":…,"errorMessage":…}}`, the member cvpysdk's
//! `_renew_login_token` reads.
//!
//! # Logout and WhoAmI
//! Both need a live token. Logout ends the session and answers the plain text
//! `User logged out` (cvpysdk only returns the text). WhoAmI answers
//! `{"user":{"userName":…,"userId":…,"userGUID":…},"errorCode":0}`.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::wire::Code;

/// How long after it died a session with a device id may still be renewed.
const RENEWAL_GRACE: Duration = Duration::from_secs(24 * 3600);
/// The prefix of every token (dialects.md §2.2).
const PREFIX: &str = "QSDK ";

/// A configured user.
struct User {
    id: u64,
    name: String,
    password: String,
}

/// One issued token.
#[derive(Debug, Clone)]
struct Session {
    /// Index into the users.
    user: usize,
    device_id: Option<String>,
    idle: Duration,
    last_used: Instant,
    /// Set when the test knob expired it.
    forced_expiry: Option<Instant>,
}

impl Session {
    /// When the session died, if it has.
    fn died_at(&self, now: Instant) -> Option<Instant> {
        let idle_end = self.last_used + self.idle;
        let natural = (now > idle_end).then_some(idle_end);
        match (self.forced_expiry, natural) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// A login request, whatever form it came in.
#[derive(Debug)]
pub(crate) struct LoginRequest {
    username: String,
    password: String,
    domain: String,
    device_id: Option<String>,
    timeout_minutes: Option<u64>,
}

impl LoginRequest {
    /// Reads the members of a JSON body or of the XML request element.
    pub(crate) fn from_value(value: &Value) -> Result<LoginRequest, String> {
        let text = |key: &str| -> Option<String> {
            match value.get(key)? {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            }
        };
        let username = text("username").filter(|u| !u.is_empty());
        let password = text("password").filter(|p| !p.is_empty());
        let (Some(username), Some(password)) = (username, password) else {
            return Err("username and password are required".to_owned());
        };
        let timeout_minutes = match text("timeout").filter(|t| !t.trim().is_empty()) {
            None => None,
            Some(t) => Some(
                t.trim()
                    .parse::<u64>()
                    .map_err(|_| "timeout must be a whole number of minutes".to_owned())?,
            )
            .filter(|m| *m > 0),
        };
        Ok(LoginRequest {
            username,
            password,
            domain: text("domain").unwrap_or_default(),
            device_id: text("deviceId").filter(|d| !d.is_empty()),
            timeout_minutes,
        })
    }
}

// The password never reaches a log line through `{:?}`.
impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// The simulator's sessions and its login counters.
pub(crate) struct Sessions {
    users: Vec<User>,
    default_idle: Duration,
    tokens: HashMap<String, Session>,
    renewal_allowed: bool,
    pub(crate) logins: usize,
    pub(crate) failed_logins: usize,
    pub(crate) renewals: usize,
    keys: std::collections::hash_map::RandomState,
    issued: u64,
}

// Tokens are secrets: only their number is shown.
impl fmt::Debug for Sessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sessions")
            .field("users", &self.users)
            .field("tokens", &self.tokens.len())
            .field("renewal_allowed", &self.renewal_allowed)
            .finish_non_exhaustive()
    }
}

/// Why a renewal was refused (the message goes into the answer).
pub(crate) type Refusal = &'static str;

impl Sessions {
    pub(crate) fn new(users: &[(String, String)], default_idle: Duration) -> Sessions {
        Sessions {
            users: users
                .iter()
                .enumerate()
                .map(|(i, (name, password))| User {
                    id: i as u64 + 1,
                    name: name.clone(),
                    password: password.clone(),
                })
                .collect(),
            default_idle,
            tokens: HashMap::new(),
            renewal_allowed: true,
            logins: 0,
            failed_logins: 0,
            renewals: 0,
            keys: std::collections::hash_map::RandomState::new(),
            issued: 0,
        }
    }

    fn user_index(&self, name: &str) -> Option<usize> {
        self.users
            .iter()
            .position(|u| u.name.eq_ignore_ascii_case(name))
    }

    /// A fresh `QSDK <128 hex digits>` token: keyed hashes of a counter, unguessable enough
    /// for a simulator and free of extra dependencies.
    fn new_token(&mut self) -> String {
        self.issued += 1;
        let mut token = String::from(PREFIX);
        for part in 0..8u64 {
            let mut h = self.keys.build_hasher();
            h.write_u64(self.issued);
            h.write_u64(part);
            token.push_str(&format!("{:016x}", h.finish()));
        }
        token
    }

    fn issue(&mut self, user: usize, device_id: Option<String>, idle: Duration) -> String {
        let now = Instant::now();
        // Forget sessions long dead, so a long-running simulator does not grow without bound.
        self.tokens.retain(|_, s| {
            s.died_at(now)
                .is_none_or(|died| now.duration_since(died) <= RENEWAL_GRACE)
        });
        let token = self.new_token();
        self.tokens.insert(
            token.clone(),
            Session {
                user,
                device_id,
                idle,
                last_used: now,
                forced_expiry: None,
            },
        );
        token
    }

    /// A token for a configured user, as if they had logged in without a device id.
    pub(crate) fn issue_for(&mut self, username: &str) -> Option<String> {
        let user = self.user_index(username)?;
        Some(self.issue(user, None, self.default_idle))
    }

    /// `POST Login`: the answer body (HTTP 200 either way).
    pub(crate) fn login(&mut self, request: Result<LoginRequest, String>) -> Value {
        let outcome = request
            .map_err(|reason| {
                (
                    Code::InvalidRequest,
                    format!("Invalid login request: {reason}"),
                )
            })
            .and_then(|r| self.check_credentials(&r).map(|user| (user, r)));
        match outcome {
            Ok((user, request)) => {
                let idle = request
                    .timeout_minutes
                    .map_or(self.default_idle, |m| Duration::from_secs(m * 60));
                let token = self.issue(user, request.device_id, idle);
                self.logins += 1;
                let u = &self.users[user];
                tracing::info!(sim = "commvault", user = %u.name, "login succeeded");
                login_success(u, &token)
            }
            Err((code, message)) => {
                self.failed_logins += 1;
                tracing::info!(sim = "commvault", reason = %message, "login refused");
                json!({
                    "errList": [{ "errorCode": code as i64, "errLogMessage": message }],
                    "isAccountLocked": false,
                    "remainingLockTime": 0,
                })
            }
        }
    }

    fn check_credentials(&self, request: &LoginRequest) -> Result<usize, (Code, String)> {
        let refused = || {
            (
                Code::InvalidCredentials,
                "Invalid Username or Password".to_owned(),
            )
        };
        if !request.domain.is_empty() {
            return Err(refused());
        }
        let user = self.user_index(&request.username).ok_or_else(refused)?;
        let decoded = STANDARD
            .decode(request.password.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(refused)?;
        if decoded == self.users[user].password {
            Ok(user)
        } else {
            Err(refused())
        }
    }

    /// The `Authtoken` check: the user's name when the token is live (its idle timer restarts),
    /// `None` otherwise.
    pub(crate) fn authenticate(&mut self, header: Option<&str>) -> Option<String> {
        let token = header?.trim();
        let now = Instant::now();
        let session = self.tokens.get_mut(token)?;
        if session.died_at(now).is_some() {
            return None;
        }
        session.last_used = now;
        Some(self.users[session.user].name.clone())
    }

    /// `POST WhoAmI` for a live token's user.
    pub(crate) fn who_am_i(&self, username: &str) -> Value {
        let user = self.user_index(username).map(|i| &self.users[i]);
        json!({
            "user": {
                "userName": username,
                "userId": user.map_or(0, |u| u.id),
                "userGUID": user.map(user_guid).unwrap_or_default(),
            },
            "errorCode": 0,
        })
    }

    /// `POST Logout`: ends the session of a token already authenticated.
    pub(crate) fn logout(&mut self, header: Option<&str>) {
        if let Some(token) = header {
            self.tokens.remove(token.trim());
        }
    }

    /// `POST RenewLoginToken`: the answer body (HTTP 200 either way).
    pub(crate) fn renew(&mut self, body: &Value) -> Value {
        match self.try_renew(body) {
            Ok(token) => {
                self.renewals += 1;
                tracing::info!(sim = "commvault", "token renewed");
                json!({ "token": token })
            }
            Err(reason) => {
                tracing::info!(sim = "commvault", reason, "token renewal refused");
                json!({
                    "error": {
                        "errorCode": Code::RenewalRefused as i64,
                        "errLogMessage": reason,
                        "errorMessage": reason,
                    }
                })
            }
        }
    }

    fn try_renew(&mut self, body: &Value) -> Result<String, Refusal> {
        if !self.renewal_allowed {
            return Err("Token renewal is not allowed");
        }
        let session_id = body
            .get("sessionId")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or("sessionId is required")?;
        let token = if session_id.starts_with(PREFIX) {
            session_id.to_owned()
        } else {
            format!("{PREFIX}{session_id}")
        };
        let device = body
            .get("deviceId")
            .and_then(Value::as_str)
            .filter(|d| !d.is_empty());
        let now = Instant::now();
        let session = self.tokens.get(&token).ok_or("Invalid session")?;
        let same_device = session.device_id.as_deref() == device;
        match session.died_at(now) {
            None if session.device_id.is_none() || same_device => {}
            None => return Err("The device id does not match the session"),
            Some(died) if now.duration_since(died) > RENEWAL_GRACE => {
                return Err("The session has expired");
            }
            Some(_) if session.device_id.is_some() && same_device => {}
            Some(_) => return Err("The session has expired"),
        }
        let old = self.tokens.remove(&token).ok_or("Invalid session")?;
        let new = self.issue(old.user, old.device_id, old.idle);
        Ok(new)
    }

    /// Test knob: every issued token is now dead, as if idle too long.
    pub(crate) fn expire_all(&mut self) {
        let now = Instant::now();
        for session in self.tokens.values_mut() {
            session.forced_expiry.get_or_insert(now);
        }
    }

    pub(crate) fn set_renewal_allowed(&mut self, allowed: bool) {
        self.renewal_allowed = allowed;
    }
}

fn user_guid(user: &User) -> String {
    format!("c0ffee00-0000-4000-8000-{:012x}", user.id)
}

fn login_success(user: &User, token: &str) -> Value {
    json!({
        "aliasName": user.id.to_string(),
        "userGUID": user_guid(user),
        "loginAttempts": 0,
        "remainingLockTime": 0,
        "smtpAddress": format!("{}@cvsim.example", user.name),
        "userName": user.name,
        "providerType": 1,
        "ccn": 0,
        "token": token,
        "capability": 4_328_650_366_975_u64,
        "forcePasswordChange": false,
        "isAccountLocked": false,
        "ownerOrganization": {
            "GUID": "00000000-0000-4000-8000-000000000000",
            "providerId": 0,
            "providerDomainName": "Commcell",
        },
        "errList": [],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sessions(idle: Duration) -> Sessions {
        Sessions::new(&[("admin".to_owned(), "pw".to_owned())], idle)
    }

    fn request(password: &str, device: Option<&str>) -> Result<LoginRequest, String> {
        LoginRequest::from_value(&json!({
            "username": "Admin",
            "password": password,
            "deviceId": device,
        }))
    }

    #[test]
    fn base64_passwords_log_in_and_plain_ones_do_not() {
        let mut s = sessions(Duration::from_secs(60));
        let ok = s.login(request(&STANDARD.encode("pw"), None));
        let token = ok["token"].as_str().expect("token");
        assert!(token.starts_with("QSDK ") && token.len() == 5 + 128);
        assert_eq!(ok["userName"], "admin");
        let plain = s.login(request("pw", None));
        assert_eq!(plain["errList"][0]["errorCode"], 7);
        assert_eq!((s.logins, s.failed_logins), (1, 1));
        assert_eq!(s.authenticate(Some(token)).as_deref(), Some("admin"));
        assert_eq!(s.authenticate(Some("QSDK nope")), None);
    }

    #[test]
    fn expired_sessions_renew_only_with_their_device() {
        let mut s = sessions(Duration::from_secs(60));
        let with = s.login(request(&STANDARD.encode("pw"), Some("dev-1")))["token"]
            .as_str()
            .expect("token")
            .to_owned();
        let without = s.issue_for("admin").expect("token");
        s.expire_all();
        assert_eq!(s.authenticate(Some(&with)), None);
        let refused = s.renew(&json!({"sessionId": without, "deviceId": "dev-1"}));
        assert_eq!(refused["error"]["errorCode"], 8);
        let wrong = s.renew(&json!({"sessionId": with, "deviceId": "dev-2"}));
        assert!(wrong.get("token").is_none());
        let renewed = s.renew(&json!({"sessionId": with, "deviceId": "dev-1"}));
        let new = renewed["token"].as_str().expect("token");
        assert_eq!(s.authenticate(Some(new)).as_deref(), Some("admin"));
        assert_eq!(s.authenticate(Some(&with)), None);
        // The old token cannot be renewed twice.
        let again = s.renew(&json!({"sessionId": with, "deviceId": "dev-1"}));
        assert!(again.get("token").is_none());
        assert_eq!(s.renewals, 1);
    }
}
