//! `use_presence`: the hook that owns a widget's connection for as long as it is mounted.

use std::cell::RefCell;
use std::rc::Rc;

use gloo_timers::callback::Interval;
use yew::prelude::*;

use crate::client::{Client, Command, Options};
use crate::state::{Action, PresenceState};

/// How often expired notices and typing entries are swept.
const TICK_MS: u32 = 500;

/// What a component gets from [`use_presence`].
#[derive(Clone, PartialEq)]
pub struct Presence {
    /// The room as the widget knows it.
    pub state: UseReducerHandle<PresenceState>,
    /// Sends a command; the error is a sentence for the person (for example when offline).
    pub send: Callback<Command, Result<(), String>>,
}

/// Connects to the room described by `options` and keeps the state current.
///
/// The connection starts when the component mounts and is closed, with every browser
/// callback released, when it unmounts or `options` change.
#[hook]
pub fn use_presence(options: &Options) -> Presence {
    let state = use_reducer(|| PresenceState::new(options.username.as_str()));
    let client: Rc<RefCell<Option<Client>>> = use_mut_ref(|| None);

    {
        let dispatcher = state.dispatcher();
        let client = Rc::clone(&client);
        use_effect_with(options.clone(), move |options| {
            let dispatch = Callback::from(move |action: Action| dispatcher.dispatch(action));
            *client.borrow_mut() = Some(Client::start(options.clone(), dispatch));
            move || {
                // Dropping the client leaves the room and closes the socket.
                let closing = client.borrow_mut().take();
                drop(closing);
            }
        });
    }

    {
        let dispatcher = state.dispatcher();
        use_effect_with((), move |()| {
            let ticker = Interval::new(TICK_MS, move || {
                dispatcher.dispatch(Action::Tick(js_sys::Date::now()));
            });
            move || drop(ticker)
        });
    }

    let send = Callback::from(move |command: Command| match client.borrow().as_ref() {
        Some(client) => client.send(command),
        None => Err("The widget is not connected.".to_owned()),
    });
    Presence { state, send }
}
