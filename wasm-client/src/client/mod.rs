//! `CoachClient`: the app's one object for the server — typed calls of every `/v1` operation the
//! app uses ([`api`]), the queued submissions ([`queue`]), cache-first speech
//! ([`crate::speak`]) — plus the user's local database (voice cache and outbox), opened on first
//! use, and the audio player.
//!
//! The user is the token's `sub` (or `userId` given explicitly): one client per signed-in user.

pub mod api;
pub mod queue;

use std::cell::RefCell;
use std::rc::Rc;

use coach_shared::types::voice::VoiceProfile;
use wasm_bindgen::prelude::*;

use crate::cache::{CacheCore, VoiceCache, parse_options};
use crate::error::{CoachError, CoachResult};
use crate::http::Http;
use crate::idb::{Db, OpenOptions, db_name_for};
use crate::js;
use crate::lock::AsyncLock;
use crate::outbox::notices::Notices;
use crate::outbox::{Backoff, Outbox};
use crate::player::AudioPlayer;

/// The client state shared by every call.
pub struct Inner {
    /// Base URL, token, online state.
    pub http: Rc<Http>,
    /// The signed-in user.
    pub user_id: String,
    /// The user's identifying strings for the local PII check.
    pub names: Vec<String>,
    /// Local database name.
    db_name: String,
    /// Cache capacity, TTL and open options.
    cache_opts: (usize, Option<f64>, OpenOptions),
    /// Outbox retry settings.
    backoff: Backoff,
    /// Opened on first use.
    db: RefCell<Option<Rc<Db>>>,
    cache: RefCell<Option<Rc<CacheCore>>>,
    outbox: RefCell<Option<Rc<Outbox>>>,
    /// The app's outbox listener (kept here: it may be registered before the database opens).
    pub notices: Rc<Notices>,
    open_lock: AsyncLock,
    /// The voice profile, fetched once (refreshed when preferences change or keys disagree).
    pub profile: RefCell<Option<VoiceProfile>>,
    /// Plays what `speak` fetched.
    pub player: AudioPlayer,
}

/// The `sub` claim of a JWT (decoded, not verified: the server verifies).
fn jwt_subject(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let mut b64: String = payload
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    while !b64.len().is_multiple_of(4) {
        b64.push('=');
    }
    let json = web_sys::window()?.atob(&b64).ok()?;
    js::string_field(&js_sys::JSON::parse(&json).ok()?, "sub")
}

impl Inner {
    async fn ensure_open(&self) -> CoachResult<()> {
        let _once = self.open_lock.acquire().await;
        if self.db.borrow().is_some() {
            return Ok(());
        }
        let (max, ttl, opts) = self.cache_opts.clone();
        let db = Rc::new(Db::open(&self.db_name, opts).await?);
        let cache = VoiceCache::with_db(db.clone(), max, ttl).core();
        let outbox = Outbox::new(db.clone(), self.http.clone(), self.backoff, self.notices.clone());
        *self.cache.borrow_mut() = Some(cache);
        *self.outbox.borrow_mut() = Some(outbox.clone());
        *self.db.borrow_mut() = Some(db);
        // items left by an earlier session go out now
        outbox.kick();
        Ok(())
    }

    /// The voice cache (opening the database on first use).
    pub async fn cache(&self) -> CoachResult<Rc<CacheCore>> {
        self.ensure_open().await?;
        self.cache.borrow().clone().ok_or_else(|| CoachError::new("storage_error", "the client was closed"))
    }

    /// The outbox (opening the database on first use).
    pub async fn outbox(&self) -> CoachResult<Rc<Outbox>> {
        self.ensure_open().await?;
        self.outbox.borrow().clone().ok_or_else(|| CoachError::new("storage_error", "the client was closed"))
    }
}

/// The app's client of the Coach server.
#[wasm_bindgen]
pub struct CoachClient {
    pub(crate) inner: Rc<Inner>,
}

#[wasm_bindgen]
impl CoachClient {
    /// `new CoachClient({ baseUrl, token })`. Opens the user's local database in the background
    /// and sends whatever an earlier session left in the outbox.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "CoachClientOptions")] options: JsValue,
    ) -> Result<CoachClient, JsValue> {
        let base = js::opt_string(&options, "baseUrl")?
            .ok_or_else(|| CoachError::invalid_argument("`baseUrl` is required"))?;
        if web_sys::Url::new(&base).is_err() {
            return Err(CoachError::invalid_argument(format!("`baseUrl` is not an absolute URL: {base:?}")).into());
        }
        let token = js::opt_string(&options, "token")?;
        let user_id = match js::opt_string(&options, "userId")? {
            Some(u) => u,
            None => token.as_deref().and_then(jwt_subject).ok_or_else(|| {
                CoachError::invalid_argument("`userId` is required when the token carries no readable `sub`")
            })?,
        };
        let mut names: Vec<String> = match js::get(&options, "names") {
            v if v.is_undefined() || v.is_null() => Vec::new(),
            v => js::from_js(v, "names")?,
        };
        names.push(user_id.clone());
        let mut backoff = Backoff::default();
        if let Some(b) = js::opt_f64(&options, "retryBaseMs")? {
            backoff.base_ms = b.max(1.0);
        }
        if let Some(m) = js::opt_f64(&options, "retryMaxMs")? {
            backoff.max_ms = m.max(backoff.base_ms);
        }
        let cache_options = js::get(&options, "cache");
        let (db_name, max, ttl, open) = parse_options(&cache_options)?;
        let client = CoachClient {
            inner: Rc::new(Inner {
                http: Rc::new(Http::new(&base, token)),
                db_name: db_name.unwrap_or_else(|| db_name_for(&user_id)),
                user_id,
                names,
                cache_opts: (max, ttl, open),
                backoff,
                db: RefCell::new(None),
                cache: RefCell::new(None),
                outbox: RefCell::new(None),
                notices: Rc::new(Notices::default()),
                open_lock: AsyncLock::default(),
                profile: RefCell::new(None),
                player: AudioPlayer::new()?,
            }),
        };
        // open the local database now, so what an earlier session queued goes out at once
        let inner = client.inner.clone();
        wasm_bindgen_futures::spawn_local(async move {
            if let Err(e) = inner.ensure_open().await {
                js::web_sys_log(&format!("coach-wasm: the local database is unavailable: {e}"));
            }
        });
        Ok(client)
    }

    /// The signed-in user's id.
    #[wasm_bindgen(getter, js_name = userId)]
    pub fn user_id(&self) -> String {
        self.inner.user_id.clone()
    }

    /// `hashedUserId` of the signed-in user (what training data carries).
    #[wasm_bindgen(getter, js_name = hashedUserId)]
    pub fn hashed_user_id(&self) -> String {
        coach_shared::hash_user_id(&self.inner.user_id)
    }

    /// The API's base URL.
    #[wasm_bindgen(getter, js_name = baseUrl)]
    pub fn base_url(&self) -> String {
        self.inner.http.base_url()
    }

    /// Points the client at another base URL.
    #[wasm_bindgen(js_name = setBaseUrl)]
    pub fn set_base_url(&self, url: String) -> Result<(), JsValue> {
        if web_sys::Url::new(&url).is_err() {
            return Err(CoachError::invalid_argument(format!("not an absolute URL: {url:?}")).into());
        }
        self.inner.http.set_base_url(&url);
        *self.inner.profile.borrow_mut() = None;
        Ok(())
    }

    /// Replaces the bearer token (after a refresh); queued items are flushed with it.
    #[wasm_bindgen(js_name = setToken)]
    pub fn set_token(&self, token: Option<String>) {
        self.inner.http.set_token(token);
        if let Some(o) = self.inner.outbox.borrow().as_ref() {
            o.kick();
        }
    }

    /// Behave as offline (`true`) or follow `navigator.onLine` again (`false`, which also flushes).
    #[wasm_bindgen(js_name = setOffline)]
    pub fn set_offline(&self, offline: bool) {
        self.inner.http.set_offline(offline);
        if !offline && let Some(o) = self.inner.outbox.borrow().as_ref() {
            o.kick();
        }
    }

    /// Whether requests are attempted (not forced offline and `navigator.onLine`).
    #[wasm_bindgen(getter)]
    pub fn online(&self) -> bool {
        self.inner.http.online()
    }

    /// The user's voice cache (the same one `speak` uses).
    #[wasm_bindgen(js_name = voiceCache)]
    pub async fn voice_cache(&self) -> Result<VoiceCache, JsValue> {
        self.inner.ensure_open().await?;
        let db = self.inner.db.borrow().clone().ok_or_else(|| CoachError::new("storage_error", "closed"))?;
        let core = self.inner.cache().await?;
        Ok(VoiceCache::with_db(db, core.policy.max_entries, core.ttl_ms))
    }

    /// The player `speak` uses (accessibility mode, levels, volume).
    #[wasm_bindgen(getter)]
    pub fn player(&self) -> AudioPlayer {
        self.inner.player.clone()
    }

    /// Closes the local database and stops playback.
    pub fn close(&self) {
        self.inner.player.stop();
        if let Some(db) = self.inner.db.borrow_mut().take() {
            db.close();
        }
        self.inner.cache.borrow_mut().take();
        self.inner.outbox.borrow_mut().take();
    }
}
