//! How a host page gets widgets: auto-mounting on `[data-diffy-presence]` elements when the
//! module starts, and the JavaScript `mount(element, options)` that returns a handle with
//! `destroy()`. The widget's stylesheet is added to the page once, on the first mount.

use std::cell::RefCell;

use diffy_protocol::validate::MAX_SAFE_INTEGER;
use diffy_protocol::{PullRequestId, Username};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{Document, Element};
use yew::AppHandle;

use crate::backoff::Backoff;
use crate::client::Options;
use crate::view::{PresenceWidget, WidgetProps};

const STYLE: &str = include_str!("widget.css");
const STYLE_ID: &str = "diffy-presence-style";
/// Set on an element once a widget is mounted in it, so it is never mounted twice.
const MOUNTED_ATTR: &str = "data-diffy-mounted";

thread_local! {
    /// Widgets mounted from markup live as long as the page.
    static AUTO_MOUNTED: RefCell<Vec<AppHandle<PresenceWidget>>> = const { RefCell::new(Vec::new()) };
}

/// A mounted widget, as JavaScript holds it.
#[wasm_bindgen]
pub struct WidgetHandle {
    /// The app and its host element; `None` once destroyed.
    mounted: Option<(AppHandle<PresenceWidget>, Element)>,
}

#[wasm_bindgen]
impl WidgetHandle {
    /// Unmounts the widget: leaves the room, closes its socket and releases its callbacks.
    /// Calling it again does nothing.
    pub fn destroy(&mut self) {
        // The element goes too: a destroyed handle that the page keeps must not keep the
        // host element alive until the handle is garbage-collected.
        if let Some((app, element)) = self.mounted.take() {
            app.destroy();
            let _ = element.remove_attribute(MOUNTED_ATTR);
        }
    }
}

/// Runs when the module is loaded: mounts a widget on every `[data-diffy-presence]`.
#[wasm_bindgen(start)]
pub fn start() {
    let Some(document) = document() else { return };
    let Ok(found) = document.query_selector_all("[data-diffy-presence]") else {
        return;
    };
    for index in 0..found.length() {
        let Some(element) = found
            .item(index)
            .and_then(|node| node.dyn_into::<Element>().ok())
        else {
            continue;
        };
        if element.has_attribute(MOUNTED_ATTR) {
            continue;
        }
        let settings = Settings {
            pull_request_id: element.get_attribute("data-pull-request-id"),
            username: element.get_attribute("data-username"),
            server: element.get_attribute("data-server"),
            chat_target: element.get_attribute("data-chat-target"),
            reconnect_base_ms: element.get_attribute("data-reconnect-base-ms"),
        };
        let app = render(&document, &element, settings);
        AUTO_MOUNTED.with(|apps| apps.borrow_mut().push(app));
    }
}

/// Mounts a widget in `element`.
///
/// `options` is an object: `{pullRequestId, username, server?, chatTarget?,
/// reconnectBaseMs?}`, where `server` defaults to the page's origin, `chatTarget` is an
/// element or a CSS selector where the chat panel goes (beside the bar when absent), and
/// `reconnectBaseMs` (10 to 10000, default 500) is the backoff's base delay: the first retry
/// after a drop waits between half of it and all of it, later ones double up to 10 s.
/// Invalid values are shown in the widget rather than thrown. Fails when `element` already
/// holds a widget.
#[wasm_bindgen]
pub fn mount(element: Element, options: &JsValue) -> Result<WidgetHandle, JsError> {
    let document = document().ok_or_else(|| JsError::new("no document"))?;
    if element.has_attribute(MOUNTED_ATTR) {
        return Err(JsError::new("this element already holds a Diffy widget"));
    }
    let field = |name: &str| -> Option<JsValue> {
        js_sys::Reflect::get(options, &JsValue::from_str(name))
            .ok()
            .filter(|value| !value.is_undefined() && !value.is_null())
    };
    let text = |name: &str| -> Option<String> {
        field(name).map(|value| {
            value
                .as_string()
                .unwrap_or_else(|| value.as_f64().map_or_else(String::new, |n| n.to_string()))
        })
    };

    let chat_target = field("chatTarget");
    let chat_host = chat_target
        .as_ref()
        .and_then(|target| target.dyn_ref::<Element>().cloned());
    let settings = Settings {
        pull_request_id: text("pullRequestId"),
        username: text("username"),
        server: text("server"),
        chat_target: if chat_host.is_some() {
            None
        } else {
            chat_target.and_then(|t| t.as_string())
        },
        reconnect_base_ms: text("reconnectBaseMs"),
    };
    let mut props = props_for(&document, settings);
    if chat_host.is_some() {
        props.chat_host = chat_host;
    }
    Ok(WidgetHandle {
        mounted: Some((render_props(&element, props), element)),
    })
}

/// Widget settings as the page gave them, before validation.
struct Settings {
    pull_request_id: Option<String>,
    username: Option<String>,
    server: Option<String>,
    chat_target: Option<String>,
    /// The backoff's base delay in milliseconds; the default when absent.
    reconnect_base_ms: Option<String>,
}

fn render(document: &Document, element: &Element, settings: Settings) -> AppHandle<PresenceWidget> {
    let props = props_for(document, settings);
    render_props(element, props)
}

fn render_props(element: &Element, props: WidgetProps) -> AppHandle<PresenceWidget> {
    if let Some(document) = document() {
        install_style(&document);
    }
    let _ = element.set_attribute(MOUNTED_ATTR, "");
    yew::Renderer::<PresenceWidget>::with_root_and_props(element.clone(), props).render()
}

fn props_for(document: &Document, settings: Settings) -> WidgetProps {
    let chat_host = settings
        .chat_target
        .as_deref()
        .and_then(|selector| document.query_selector(selector).ok().flatten());
    WidgetProps {
        options: options_from(document, settings),
        chat_host,
    }
}

fn options_from(document: &Document, settings: Settings) -> Result<Options, String> {
    let pull_request_id = settings
        .pull_request_id
        .as_deref()
        .map(str::trim)
        .ok_or_else(|| "No pull request given (data-pull-request-id).".to_owned())
        .and_then(|id| PullRequestId::parse(id).map_err(|_| unusable_pull_request_id(id)))?;
    let username = Username::new(settings.username.as_deref().unwrap_or_default())
        .map_err(|refusal| format!("Cannot use this name: {}.", refusal.message))?;
    let server = settings
        .server
        .filter(|server| !server.trim().is_empty())
        .or_else(|| {
            document
                .location()
                .and_then(|location| location.origin().ok())
        })
        .ok_or_else(|| "No server given (data-server).".to_owned())?;
    let backoff = settings
        .reconnect_base_ms
        .as_deref()
        .map_or_else(|| Ok(Backoff::default()), Backoff::parse_base_ms)?;
    Ok(Options {
        server,
        pull_request_id,
        username,
        backoff,
    })
}

/// Why a pull request id cannot be used, in the reviewer's words; an id longer than
/// [`SHOWN_ID_CHARS`] is shortened.
fn unusable_pull_request_id(id: &str) -> String {
    let shown: String = id.chars().take(SHOWN_ID_CHARS).collect();
    let more = if id.chars().count() > SHOWN_ID_CHARS {
        "…"
    } else {
        ""
    };
    format!(
        "Cannot open this pull request's room: “{shown}{more}” is not a pull request number \
         (a whole number from 1 to {MAX_SAFE_INTEGER}; data-pull-request-id)."
    )
}

/// How much of an unusable pull request id its error repeats.
const SHOWN_ID_CHARS: usize = 40;

fn install_style(document: &Document) {
    if document.get_element_by_id(STYLE_ID).is_some() {
        return;
    }
    let Ok(style) = document.create_element("style") else {
        return;
    };
    style.set_id(STYLE_ID);
    style.set_text_content(Some(STYLE));
    if let Some(head) = document.head() {
        let _ = head.append_child(&style);
    }
}

fn document() -> Option<Document> {
    web_sys::window().and_then(|window| window.document())
}
