//! The widget's components: the presence bar (status, count, avatars, join/leave feed) and
//! the chat panel (messages, typing line, input). Every name and message is rendered as a
//! text node; nothing here builds markup from strings. Event handlers are attached with
//! [`use_listener`] rather than `on…={}` attributes, so that unmounting frees them.

use std::cell::RefCell;
use std::rc::Rc;

use diffy_protocol::MessageText;
use diffy_protocol::validate::MESSAGE_MAX_CHARS;
use gloo_timers::callback::Timeout;
use web_sys::{Element, HtmlTextAreaElement};
use yew::prelude::*;

use crate::avatar::{hue, initials};
use crate::client::{Command, Options};
use crate::hook::{Presence, use_presence};
use crate::listener::use_listener;
use crate::state::{Action, Connection, NoticeKind, PresenceState, taken_back};
use crate::typing::{IDLE_STOP_MS, Signal, TypingTracker};

/// How many avatars the bar shows before "+N".
const MAX_AVATARS: usize = 5;
/// From how many characters on the input shows what is left.
const COUNTER_FROM: usize = MESSAGE_MAX_CHARS - 500;

/// The properties of a mounted widget.
#[derive(Properties, Clone, PartialEq)]
pub struct WidgetProps {
    /// The room and user, or why the settings are unusable.
    pub options: Result<Options, String>,
    /// Where to render the chat panel; beside the bar when `None`.
    #[prop_or_default]
    pub chat_host: Option<Element>,
}

/// The whole widget. Invalid settings show their reason instead of connecting.
#[component]
pub fn PresenceWidget(props: &WidgetProps) -> Html {
    match &props.options {
        Ok(options) => {
            html! { <Room options={options.clone()} chat_host={props.chat_host.clone()} /> }
        }
        Err(reason) => html! {
            <div class="diffy-widget diffy-bar" role="status">
                <span class="diffy-status diffy-status--refused">
                    <span class="diffy-dot" aria-hidden="true"></span>{ "Not connected" }
                </span>
                <span class="diffy-bar__problem">{ reason.clone() }</span>
            </div>
        },
    }
}

#[derive(Properties, Clone, PartialEq)]
struct RoomProps {
    options: Options,
    chat_host: Option<Element>,
}

#[component]
fn Room(props: &RoomProps) -> Html {
    let presence = use_presence(&props.options);
    let state = &*presence.state;

    // Until the widget is live again the list may be out of date, so it is dimmed.
    let stale = (state.connection != Connection::Live).then_some("diffy-bar--stale");
    let bar = html! {
        <div class={classes!("diffy-widget", "diffy-bar", stale)}
             data-pull-request-id={props.options.pull_request_id.to_string()}>
            { status_pill(state.connection) }
            if let Some(reason) = &state.refusal {
                <span class="diffy-bar__problem">{ reason.clone() }</span>
            } else {
                { count_badge(state) }
                { avatars(state) }
                { notice_feed(state) }
            }
        </div>
    };
    let chat = html! { <ChatPanel presence={presence.clone()} /> };
    match &props.chat_host {
        Some(host) => html! { <>{ bar }{ create_portal(chat, host.clone()) }</> },
        None => html! { <>{ bar }{ chat }</> },
    }
}

fn status_pill(connection: Connection) -> Html {
    let (modifier, label) = match connection {
        Connection::Connecting => ("connecting", "Connecting…".to_owned()),
        Connection::Live => ("live", "Live".to_owned()),
        Connection::Reconnecting { .. } => ("reconnecting", "Reconnecting…".to_owned()),
        Connection::Offline { .. } => ("offline", "Offline, retrying".to_owned()),
        Connection::Refused => ("refused", "Not connected".to_owned()),
    };
    html! {
        <span class={classes!("diffy-status", format!("diffy-status--{modifier}"))}
              role="status" data-state={modifier}>
            <span class="diffy-dot" aria-hidden="true"></span>{ label }
        </span>
    }
}

fn count_badge(state: &PresenceState) -> Html {
    let count = state.user_count;
    let noun = if count == 1 { "person" } else { "people" };
    html! {
        <span class="diffy-count" title={format!("{count} {noun} on this pull request")}
              aria-label={format!("{count} {noun} on this pull request")}>
            <svg class="diffy-count__icon" viewBox="0 0 16 16" aria-hidden="true">
                <path d="M5.5 7a2.5 2.5 0 1 0 0-5 2.5 2.5 0 0 0 0 5Zm5 0a2 2 0 1 0 0-4 2 2 0 0 0 0 4ZM1 13c0-2.2 2-4 4.5-4S10 10.8 10 13v1H1v-1Zm10 1v-1c0-1.2-.4-2.3-1.1-3.1.4-.1.7-.1 1.1-.1 2.2 0 4 1.5 4 3.4V14h-4Z" />
            </svg>
            <span class="diffy-count__value">{ count }</span>
        </span>
    }
}

fn avatars(state: &PresenceState) -> Html {
    let hidden = state.users.len().saturating_sub(MAX_AVATARS);
    html! {
        <ul class="diffy-users" aria-label="People on this pull request">
            { for state.users.iter().take(MAX_AVATARS).map(|name| {
                let me = *name == state.me;
                let label = if me { format!("{name} (you)") } else { name.clone() };
                html! {
                    <li class={classes!("diffy-user", me.then_some("diffy-user--me"))}
                        title={label.clone()} data-username={name.clone()} key={name.clone()}>
                        <span class="diffy-avatar" aria-hidden="true"
                              style={format!("--diffy-hue: {}", hue(name))}>
                            { initials(name) }
                        </span>
                        <span class="diffy-user__name">{ name.clone() }</span>
                        if me { <span class="diffy-user__you">{ "you" }</span> }
                    </li>
                }
            }) }
            if hidden > 0 {
                <li class="diffy-user diffy-user--more" title={state.users[MAX_AVATARS..].join(", ")}>
                    { format!("+{hidden}") }
                </li>
            }
        </ul>
    }
}

fn notice_feed(state: &PresenceState) -> Html {
    html! {
        <ul class="diffy-feed" aria-live="polite" aria-relevant="additions" aria-label="Who came and went">
            { for state.notices.iter().map(|notice| {
                let modifier = match notice.kind {
                    NoticeKind::Joined => "diffy-notice--joined",
                    NoticeKind::Left => "diffy-notice--left",
                };
                // The name is shortened on its own, so the notice still says who came or went.
                let (name, rest) = notice.parts();
                html! {
                    <li class={classes!("diffy-notice", modifier)} key={notice.id}>
                        <span class="diffy-notice__name">{ name }</span>
                        if !rest.is_empty() { <span class="diffy-notice__rest">{ rest }</span> }
                    </li>
                }
            }) }
        </ul>
    }
}

#[derive(Properties, Clone, PartialEq)]
struct ChatProps {
    presence: Presence,
}

#[component]
fn ChatPanel(props: &ChatProps) -> Html {
    let state = &*props.presence.state;
    let send = props.presence.send.clone();
    let dispatcher = props.presence.state.dispatcher();

    let draft = use_state(String::new);
    let local_error = use_state(|| None::<String>);
    let tracker = use_mut_ref(TypingTracker::default);
    let idle_timer: Rc<RefCell<Option<Timeout>>> = use_mut_ref(|| None);
    let log_ref = use_node_ref();
    let form_ref = use_node_ref();
    let input_ref = use_node_ref();
    // Ids must be unique when several widgets share a page.
    let uid = use_memo((), |()| next_uid());
    let input_id = format!("diffy-compose-{uid}");
    let hint_id = format!("diffy-hint-{uid}");

    // Keep the newest message in view.
    {
        let log_ref = log_ref.clone();
        use_effect_with(
            state.messages.back().map(|line| line.id.clone()),
            move |_| {
                if let Some(log) = log_ref.cast::<Element>() {
                    log.set_scroll_top(log.scroll_height());
                }
            },
        );
    }

    // Take back messages that did not reach the room, before whatever was typed since.
    {
        let (draft, taken) = (draft.clone(), use_mut_ref(|| 0_u64));
        let newest = state.unsent.back().map_or(0, |u| u.id);
        // Copied only in the render that brings new ones; most renders bring none.
        let returned: Vec<String> = state
            .unsent
            .iter()
            .filter(|u| u.id > *taken.borrow())
            .map(|u| u.text.clone())
            .collect();
        use_effect_with(newest, move |_| {
            *taken.borrow_mut() = newest;
            if !returned.is_empty() {
                let returned: Vec<&str> = returned.iter().map(String::as_str).collect();
                draft.set(taken_back(&returned, &draft));
            }
        });
    }

    let oninput = {
        let (draft, local_error, send) = (draft.clone(), local_error.clone(), send.clone());
        let (tracker, idle_timer) = (Rc::clone(&tracker), Rc::clone(&idle_timer));
        Callback::from(move |event: InputEvent| {
            let input: HtmlTextAreaElement = event.target_unchecked_into();
            let text = input.value();
            let length = text.chars().count();
            local_error.set((length > MESSAGE_MAX_CHARS).then(|| too_long(length)));

            let now = js_sys::Date::now();
            if let Some(signal) = tracker.borrow_mut().on_input(now, text.trim().is_empty()) {
                let _ = send.emit(command_for(signal));
            }
            let (tracker, send) = (Rc::clone(&tracker), send.clone());
            *idle_timer.borrow_mut() = Some(Timeout::new(IDLE_STOP_MS as u32, move || {
                if let Some(signal) = tracker.borrow_mut().stop() {
                    let _ = send.emit(command_for(signal));
                }
            }));
            draft.set(text);
        })
    };

    let submit = {
        let (draft, local_error) = (draft.clone(), local_error.clone());
        let (tracker, idle_timer) = (Rc::clone(&tracker), Rc::clone(&idle_timer));
        Callback::from(move |()| {
            let text = (*draft).clone();
            let message = match MessageText::new(text) {
                Ok(message) => message,
                Err(refusal) => {
                    local_error.set(Some(refusal_reason(&refusal)));
                    return;
                }
            };
            match send.emit(Command::Message(message)) {
                Ok(()) => {
                    tracker.borrow_mut().sent_message();
                    *idle_timer.borrow_mut() = None;
                    local_error.set(None);
                    draft.set(String::new());
                }
                Err(reason) => local_error.set(Some(reason)),
            }
        })
    };

    let onsubmit = {
        let submit = submit.clone();
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            submit.emit(());
        })
    };
    let onkeydown = Callback::from(move |event: KeyboardEvent| {
        // Enter sends; Shift+Enter is a new line; composing (IME) text is left alone.
        if event.key() == "Enter" && !event.shift_key() && !event.is_composing() {
            event.prevent_default();
            submit.emit(());
        }
    });
    use_listener(&input_ref, "input", oninput);
    use_listener(&input_ref, "keydown", onkeydown);
    use_listener(&form_ref, "submit", onsubmit);
    let dismiss = Callback::from(move |()| dispatcher.dispatch(Action::DismissProblem));

    let length = draft.chars().count();
    let live = state.connection == Connection::Live;
    let too_long_now = length > MESSAGE_MAX_CHARS;
    let shown_error = (*local_error).clone();

    html! {
        <section class="diffy-widget diffy-chat" aria-label="Pull request chat">
            <header class="diffy-chat__header">
                <h2 class="diffy-chat__title">{ "Conversation" }</h2>
                <span class="diffy-chat__meta">
                    // The count is only true while live; the bar says what is going on.
                    { if live { format!("{} online", state.user_count) } else { "not connected".to_owned() } }
                </span>
            </header>
            <ol class="diffy-chat__log" ref={log_ref} role="log" aria-label="Messages" tabindex="0">
                if state.messages.is_empty() {
                    <li class="diffy-chat__empty">{ "No messages yet. Say hello to the reviewers." }</li>
                }
                { for state.messages.iter().map(|line| html! {
                    <li class={classes!("diffy-message", line.mine.then_some("diffy-message--mine"))}
                        key={line.id.clone()}>
                        <span class="diffy-avatar diffy-avatar--small" aria-hidden="true"
                              style={format!("--diffy-hue: {}", hue(&line.username))}>
                            { initials(&line.username) }
                        </span>
                        <div class="diffy-message__body">
                            <div class="diffy-message__meta">
                                <span class="diffy-message__author">{ line.username.clone() }</span>
                                <time class="diffy-message__time" datetime={iso_time(line.sent_at)}>
                                    { clock_time(line.sent_at) }
                                </time>
                            </div>
                            <p class="diffy-message__text">{ line.message.clone() }</p>
                        </div>
                    </li>
                }) }
            </ol>
            <p class="diffy-typing" aria-live="polite">{ state.typing_line().unwrap_or_default() }</p>
            if let Some(problem) = &state.problem {
                <ProblemBanner key={problem.id} text={problem.text.clone()} {dismiss} />
            }
            <form class="diffy-compose" ref={form_ref}>
                <label class="diffy-sr-only" for={input_id.clone()}>{ "Message" }</label>
                <textarea id={input_id} class={classes!("diffy-compose__input", too_long_now.then_some("is-invalid"))}
                          rows="2" placeholder={if live { "Write a message…" } else { "Waiting for the connection…" }}
                          value={(*draft).clone()} ref={input_ref}
                          aria-invalid={too_long_now.to_string()}
                          aria-describedby={hint_id.clone()} />
                <div class="diffy-compose__row">
                    <span id={hint_id}
                          class={classes!("diffy-compose__hint", shown_error.is_some().then_some("is-error"))}
                          aria-live="polite">
                        { match shown_error {
                            Some(error) => error,
                            None if length >= COUNTER_FROM => format!("{} characters left", MESSAGE_MAX_CHARS as i64 - length as i64),
                            None => "Enter to send, Shift+Enter for a new line".to_owned(),
                        } }
                    </span>
                    <button type="submit" class="diffy-compose__send" disabled={!live || too_long_now}>{ "Send" }</button>
                </div>
            </form>
        </section>
    }
}

#[derive(Properties, Clone, PartialEq)]
struct ProblemProps {
    text: String,
    dismiss: Callback<()>,
}

/// A server or local error, with a button that dismisses it.
#[component]
fn ProblemBanner(props: &ProblemProps) -> Html {
    let button_ref = use_node_ref();
    let dismiss = props.dismiss.clone();
    use_listener(
        &button_ref,
        "click",
        Callback::from(move |_: MouseEvent| dismiss.emit(())),
    );
    html! {
        <div class="diffy-problem" role="alert">
            <span>{ props.text.clone() }</span>
            <button type="button" class="diffy-problem__dismiss" ref={button_ref}
                    aria-label="Dismiss this error">{ "×" }</button>
        </div>
    }
}

fn next_uid() -> u32 {
    thread_local! {
        static NEXT: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
    }
    NEXT.with(|next| {
        next.set(next.get() + 1);
        next.get()
    })
}

fn command_for(signal: Signal) -> Command {
    match signal {
        Signal::Typing => Command::Typing,
        Signal::StopTyping => Command::StopTyping,
    }
}

fn too_long(length: usize) -> String {
    format!("Too long: {length} of at most {MESSAGE_MAX_CHARS} characters. Shorten it to send.")
}

fn refusal_reason(refusal: &diffy_protocol::Refusal) -> String {
    match refusal.code {
        diffy_protocol::ErrorCode::InvalidMessage => "Write something before sending.".to_owned(),
        _ => format!("Cannot send: {}.", refusal.message),
    }
}

fn clock_time(sent_at: u64) -> String {
    let date = js_sys::Date::new(&(sent_at as f64).into());
    format!("{:02}:{:02}", date.get_hours(), date.get_minutes())
}

fn iso_time(sent_at: u64) -> String {
    js_sys::Date::new(&(sent_at as f64).into())
        .to_iso_string()
        .into()
}
