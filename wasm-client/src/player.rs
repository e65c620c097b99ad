//! `AudioPlayer`: plays a clip Blob through an `HTMLAudioElement` (object URLs revoked as soon as
//! playback ends, fails or is replaced), measures the playback latency (call → `playing` event),
//! exposes live levels from an `AnalyserNode` for the sound-wave animation (on demand, or per
//! animation frame through a callback), and pulses `navigator.vibrate` in accessibility mode.
//!
//! The Web Audio graph (element → analyser → speakers) is built on the first play; where the
//! AudioContext cannot be created the element still plays and the levels read as silence.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{AnalyserNode, AudioContext, HtmlAudioElement, MediaElementAudioSourceNode};

use crate::error::{CoachError, CoachResult};
use crate::js;

#[wasm_bindgen(typescript_custom_section)]
const TS_PLAYER: &str = r#"
/** What {@link AudioPlayer.play} measured. */
export interface PlaybackResult {
  /** Milliseconds from the call to the `playing` event (audible start). */
  playbackLatency: number;
  /** Seconds of audio (NaN when the browser cannot tell yet). */
  duration: number;
  /** Whether a haptic pulse was sent (accessibility mode and `navigator.vibrate` present). */
  haptic: boolean;
}
/** Audio outputs as far as the browser reveals them without a media permission. */
export interface AudioOutputInfo {
  /** `true`/`false` when known; `null` when the browser does not say. */
  available: boolean | null;
  /** Whether one of them looks like headphones (labels need a media permission: else `null`). */
  headphones: boolean | null;
  /** Output devices listed. */
  outputs: number;
  /** Whether device labels were visible (a media permission was granted). */
  labelsVisible: boolean;
}
"#;

/// Audio playback with latency measurement, live levels and haptics.
#[wasm_bindgen]
#[derive(Clone)]
pub struct AudioPlayer {
    inner: Rc<Inner>,
}

/// The per-frame callback of the level loop.
type FrameCallback = Closure<dyn FnMut(f64)>;

struct Inner {
    /// The element that plays.
    audio: HtmlAudioElement,
    /// Web Audio graph, built on the first play.
    graph: RefCell<Option<(AudioContext, AnalyserNode, MediaElementAudioSourceNode)>>,
    /// The object URL of the clip playing (revoked when done).
    url: RefCell<Option<String>>,
    /// Haptic pulses on playback start.
    accessibility: Cell<bool>,
    /// Per-frame level callback and its animation-frame loop.
    on_levels: RefCell<Option<js_sys::Function>>,
    raf: RefCell<Option<FrameCallback>>,
    raf_id: Cell<Option<i32>>,
    /// Playbacks started (to tell the current one from a replaced one).
    generation: Cell<u32>,
    /// The current clip's element listeners (`playing`, `error`, `ended`).
    listeners: RefCell<Vec<(&'static str, Listener)>>,
    /// Rejects the current clip's start promise when it is replaced or stopped before playing.
    pending: RefCell<Option<js_sys::Function>>,
}

/// An element event listener.
type Listener = Closure<dyn FnMut()>;

impl Inner {
    fn listen(&self, event: &'static str, f: impl FnMut() + 'static) {
        let l = Closure::<dyn FnMut()>::new(f);
        let _ = self.audio.add_event_listener_with_callback(event, l.as_ref().unchecked_ref());
        self.listeners.borrow_mut().push((event, l));
    }

    fn unlisten(&self) {
        if let Some(reject) = self.pending.borrow_mut().take() {
            let _ = reject.call1(&JsValue::NULL, &JsValue::from_str("AbortError: replaced by another clip or stopped"));
        }
        for (event, l) in self.listeners.borrow_mut().drain(..) {
            let _ = self.audio.remove_event_listener_with_callback(event, l.as_ref().unchecked_ref());
        }
    }

    fn revoke(&self) {
        if let Some(url) = self.url.borrow_mut().take() {
            let _ = web_sys::Url::revoke_object_url(&url);
        }
    }

    fn ensure_graph(&self) {
        if self.graph.borrow().is_some() {
            return;
        }
        let built = (|| -> Result<_, JsValue> {
            let ctx = AudioContext::new()?;
            let analyser = ctx.create_analyser()?;
            analyser.set_fft_size(256);
            analyser.set_smoothing_time_constant(0.6);
            let source = ctx.create_media_element_source(&self.audio)?;
            source.connect_with_audio_node(&analyser)?;
            analyser.connect_with_audio_node(&ctx.destination())?;
            Ok((ctx, analyser, source))
        })();
        match built {
            Ok(g) => *self.graph.borrow_mut() = Some(g),
            Err(e) => js::web_sys_log(&format!(
                "coach-wasm: no Web Audio analyser ({}); levels read as silence",
                js::error_message(&e)
            )),
        }
    }

    fn levels(&self) -> Vec<u8> {
        match self.graph.borrow().as_ref() {
            Some((_, analyser, _)) => {
                let mut buf = vec![0u8; analyser.frequency_bin_count() as usize];
                analyser.get_byte_frequency_data(&mut buf);
                buf
            }
            None => vec![0u8; 128],
        }
    }

    fn level(&self) -> f64 {
        match self.graph.borrow().as_ref() {
            Some((_, analyser, _)) => {
                let mut buf = vec![0u8; analyser.fft_size() as usize];
                analyser.get_byte_time_domain_data(&mut buf);
                let sum: f64 = buf.iter().map(|&b| ((f64::from(b) - 128.0) / 128.0).powi(2)).sum();
                (sum / buf.len().max(1) as f64).sqrt().min(1.0)
            }
            None => 0.0,
        }
    }

    fn stop_frames(&self) {
        if let (Some(id), Some(w)) = (self.raf_id.take(), web_sys::window()) {
            let _ = w.cancel_animation_frame(id);
        }
    }
}

fn frame_loop(inner: &Rc<Inner>) {
    if inner.on_levels.borrow().is_none() || inner.raf_id.get().is_some() {
        return;
    }
    let weak = Rc::downgrade(inner);
    let closure = Closure::<dyn FnMut(f64)>::new(move |_t: f64| {
        let Some(inner) = weak.upgrade() else { return };
        inner.raf_id.set(None);
        let playing = !inner.audio.paused() && !inner.audio.ended();
        if let Some(cb) = inner.on_levels.borrow().as_ref() {
            let levels = js_sys::Uint8Array::from(inner.levels().as_slice());
            let _ = cb.call2(&JsValue::NULL, &levels, &JsValue::from(inner.level()));
        }
        if playing {
            request_frame(&inner);
        }
    });
    *inner.raf.borrow_mut() = Some(closure);
    request_frame(inner);
}

fn request_frame(inner: &Rc<Inner>) {
    let (Some(w), Some(cb)) = (web_sys::window(), inner.raf.borrow().as_ref().map(|c| c.as_ref().clone())) else {
        return;
    };
    if let Ok(id) = w.request_animation_frame(cb.unchecked_ref()) {
        inner.raf_id.set(Some(id));
    }
}

/// Sends a haptic pulse (`pattern` in ms, default `[40, 60, 40]`) where `navigator.vibrate`
/// exists; whether the browser accepted it (Chrome refuses until the user has touched the page).
#[wasm_bindgen]
pub fn haptic(pattern: Option<Vec<u32>>) -> bool {
    let Some(w) = web_sys::window() else { return false };
    let nav = w.navigator();
    if js_sys::Reflect::get(&nav, &JsValue::from_str("vibrate")).map(|f| f.is_function()).unwrap_or(false) {
        let pattern = pattern.unwrap_or_else(|| vec![40, 60, 40]);
        let arr: js_sys::Array = pattern.iter().map(|&v| JsValue::from(v)).collect();
        nav.vibrate_with_pattern(&arr)
    } else {
        false
    }
}

impl Default for AudioPlayer {
    fn default() -> Self {
        Self::new().expect("an <audio> element can be created in a browser window")
    }
}

impl AudioPlayer {
    /// Plays `blob`; latency is measured from `started_at` (a `performance.now()` value).
    pub async fn play_from(&self, blob: &web_sys::Blob, started_at: f64) -> CoachResult<PlaybackResultData> {
        let inner = &self.inner;
        let _ = inner.audio.pause();
        inner.revoke();
        inner.stop_frames();
        inner.unlisten();
        let generation = inner.generation.get().wrapping_add(1);
        inner.generation.set(generation);
        let url = web_sys::Url::create_object_url_with_blob(blob)
            .map_err(|e| CoachError::new("playback_failed", js::error_message(&e)))?;
        *inner.url.borrow_mut() = Some(url.clone());
        inner.ensure_graph();
        if let Some((ctx, _, _)) = inner.graph.borrow().as_ref()
            && ctx.state() == web_sys::AudioContextState::Suspended
        {
            let _ = ctx.resume(); // resolves once the page may play audio; not awaited
        }
        inner.audio.set_src(&url);

        // `playing` resolves, `error` rejects; `ended` (later) revokes the URL. The listeners are
        // removed (and freed) when the next clip starts or the player stops.
        let mut settle = None;
        let started = js_sys::Promise::new(&mut |resolve, reject| settle = Some((resolve, reject)));
        let (resolve, reject) = settle.expect("the Promise executor runs synchronously");
        *inner.pending.borrow_mut() = Some(reject.clone());
        inner.listen("playing", move || {
            let _ = resolve.call1(&JsValue::NULL, &JsValue::from(js::perf_now()));
        });
        let a = inner.audio.clone();
        inner.listen("error", move || {
            let code = a.error().map(|e| e.code()).unwrap_or(0);
            let _ = reject.call1(&JsValue::NULL, &JsValue::from_str(&format!("media error {code}")));
        });
        let weak = Rc::downgrade(inner);
        inner.listen("ended", move || {
            if let Some(i) = weak.upgrade()
                && i.generation.get() == generation
            {
                i.revoke();
            }
        });

        let play = inner.audio.play().map_err(|e| playback_error(&e))?;
        let played = wasm_bindgen_futures::JsFuture::from(play).await;
        // a newer clip may have replaced this one meanwhile: then leave its state alone
        let current = || inner.generation.get() == generation;
        if let Err(e) = played {
            if current() {
                inner.revoke();
            }
            return Err(playback_error(&e));
        }
        let at = wasm_bindgen_futures::JsFuture::from(started).await;
        if current() {
            inner.pending.borrow_mut().take();
        }
        let at = at.map_err(|e| {
            if current() {
                inner.revoke();
            }
            let message = js::error_message(&e);
            let name = if message.starts_with("AbortError") { "AbortError" } else { "MediaError" };
            CoachError::new("playback_failed", format!("the clip did not start: {message}"))
                .with_details(serde_json::json!({ "name": name }))
        })?;
        let haptic = inner.accessibility.get() && haptic(None);
        frame_loop(inner);
        Ok(PlaybackResultData {
            playback_latency: at.as_f64().unwrap_or_else(js::perf_now) - started_at,
            duration: inner.audio.duration(),
            haptic,
        })
    }
}

fn playback_error(e: &JsValue) -> CoachError {
    let name = js::error_name(e);
    CoachError::new("playback_failed", format!("playback did not start: {}", js::error_message(e)))
        .with_details(serde_json::json!({ "name": name }))
}

/// [`AudioPlayer::play`]'s measurements.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlaybackResultData {
    /// ms from the call to `playing`.
    pub playback_latency: f64,
    /// Seconds.
    pub duration: f64,
    /// Whether a haptic pulse was sent.
    pub haptic: bool,
}

#[wasm_bindgen]
impl AudioPlayer {
    /// A player with its own `<audio>` element (not attached to the document).
    #[wasm_bindgen(constructor)]
    pub fn new() -> Result<AudioPlayer, JsValue> {
        let audio = HtmlAudioElement::new().map_err(|e| CoachError::new("unsupported", js::error_message(&e)))?;
        audio.set_preload("auto");
        Ok(AudioPlayer {
            inner: Rc::new(Inner {
                audio,
                graph: RefCell::new(None),
                url: RefCell::new(None),
                accessibility: Cell::new(false),
                on_levels: RefCell::new(None),
                raf: RefCell::new(None),
                raf_id: Cell::new(None),
                generation: Cell::new(0),
                listeners: RefCell::new(Vec::new()),
                pending: RefCell::new(None),
            }),
        })
    }

    /// Plays an audio Blob; resolves when it is audible (the `playing` event).
    #[wasm_bindgen(unchecked_return_type = "PlaybackResult")]
    pub async fn play(&self, audio: web_sys::Blob) -> Result<JsValue, JsValue> {
        let r = self.play_from(&audio, js::perf_now()).await?;
        Ok(js::to_js(&r)?)
    }

    /// Stops playback and frees the clip's object URL.
    pub fn stop(&self) {
        let _ = self.inner.audio.pause();
        self.inner.stop_frames();
        self.inner.revoke();
        self.inner.unlisten();
    }

    /// Resolves when the current clip has finished (at once when nothing plays).
    #[wasm_bindgen(js_name = waitEnded)]
    pub async fn wait_ended(&self) -> Result<(), JsValue> {
        while self.is_playing() {
            js::sleep(20.0).await;
        }
        Ok(())
    }

    /// Whether a clip is playing.
    #[wasm_bindgen(getter, js_name = isPlaying)]
    pub fn is_playing(&self) -> bool {
        !self.inner.audio.paused() && !self.inner.audio.ended()
    }

    /// Whether the object URL of the last clip is still held (false once it ended or stopped).
    #[wasm_bindgen(getter, js_name = holdsObjectUrl)]
    pub fn holds_object_url(&self) -> bool {
        self.inner.url.borrow().is_some()
    }

    /// Haptic pulses on playback start (accessibility mode).
    #[wasm_bindgen(setter, js_name = accessibilityMode)]
    pub fn set_accessibility_mode(&self, on: bool) {
        self.inner.accessibility.set(on);
    }

    /// Whether accessibility mode is on.
    #[wasm_bindgen(getter, js_name = accessibilityMode)]
    pub fn accessibility_mode(&self) -> bool {
        self.inner.accessibility.get()
    }

    /// Volume, 0–1.
    #[wasm_bindgen(setter)]
    pub fn set_volume(&self, v: f64) {
        self.inner.audio.set_volume(v.clamp(0.0, 1.0));
    }

    /// Volume, 0–1.
    #[wasm_bindgen(getter)]
    pub fn volume(&self) -> f64 {
        self.inner.audio.volume()
    }

    /// The current frequency levels (0–255 per bin, 128 bins) for a sound-wave animation.
    pub fn levels(&self) -> js_sys::Uint8Array {
        js_sys::Uint8Array::from(self.inner.levels().as_slice())
    }

    /// The current loudness, 0–1 (RMS of the waveform).
    pub fn level(&self) -> f64 {
        self.inner.level()
    }

    /// Calls `callback(levels, level)` on every animation frame while a clip plays; `null` stops.
    #[wasm_bindgen(js_name = onLevels)]
    pub fn on_levels(
        &self,
        #[wasm_bindgen(unchecked_param_type = "((levels: Uint8Array, level: number) => void) | null")]
        callback: JsValue,
    ) -> Result<(), JsValue> {
        let f = if callback.is_null() || callback.is_undefined() {
            None
        } else {
            Some(
                callback
                    .dyn_into::<js_sys::Function>()
                    .map_err(|_| CoachError::invalid_argument("callback must be a function"))?,
            )
        };
        let start = f.is_some();
        *self.inner.on_levels.borrow_mut() = f;
        if start && self.is_playing() {
            frame_loop(&self.inner);
        } else if !start {
            self.inner.stop_frames();
        }
        Ok(())
    }
}

/// Audio outputs as far as the browser reveals them (see `AudioOutputInfo`).
#[wasm_bindgen(js_name = audioOutputs, unchecked_return_type = "AudioOutputInfo")]
pub async fn audio_outputs() -> Result<JsValue, JsValue> {
    let unknown = serde_json::json!({ "available": null, "headphones": null, "outputs": 0, "labelsVisible": false });
    let Some(w) = web_sys::window() else { return Ok(js::to_js(&unknown)?) };
    let Ok(devices) = w.navigator().media_devices() else { return Ok(js::to_js(&unknown)?) };
    let Ok(promise) = devices.enumerate_devices() else { return Ok(js::to_js(&unknown)?) };
    let Ok(list) = wasm_bindgen_futures::JsFuture::from(promise).await else { return Ok(js::to_js(&unknown)?) };
    let list: js_sys::Array = list.unchecked_into();
    let mut outputs = 0u32;
    let mut labels = Vec::new();
    let mut any_label = false;
    for d in list.iter() {
        let d: web_sys::MediaDeviceInfo = d.unchecked_into();
        any_label |= !d.label().is_empty();
        if d.kind() == web_sys::MediaDeviceKind::Audiooutput {
            outputs += 1;
            labels.push(coach_shared::unicode::lowercase(&d.label()));
        }
    }
    let headphones = any_label.then(|| {
        labels.iter().any(|l| {
            ["headphone", "headset", "earbud", "airpods", "earphone", "bluetooth"].iter().any(|k| l.contains(k))
        })
    });
    // Without a permission Chrome still lists output kinds (labels blank); a browser that lists
    // nothing at all tells us nothing either way.
    let available = if outputs > 0 {
        Some(true)
    } else if any_label {
        Some(false)
    } else {
        None
    };
    let info = serde_json::json!({
        "available": available, "headphones": headphones, "outputs": outputs, "labelsVisible": any_label,
    });
    Ok(js::to_js(&info)?)
}

/// `true` when an audio output is present, `false` when the browser says there is none, `null`
/// when it does not say (no permission, no API).
#[wasm_bindgen(js_name = audioOutputAvailable, unchecked_return_type = "boolean | null")]
pub async fn audio_output_available() -> Result<JsValue, JsValue> {
    let info = audio_outputs().await?;
    Ok(js::get(&info, "available"))
}
