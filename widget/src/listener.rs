//! DOM event listeners that a component owns: attached to one element, calling the newest
//! callback, and removed with their closures when the component unmounts.
//!
//! Yew's own `on…={}` attributes are delegated to the app's host element through closures
//! it never frees (`Closure::forget`), which keeps the host element, the listeners and the
//! subtree's bookkeeping alive after `AppHandle::destroy`. A widget that host pages mount and
//! destroy many times therefore attaches its few listeners itself, through [`use_listener`].

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{Event, EventTarget};
use yew::prelude::*;

/// One listener on one element; dropping it removes the listener and frees its closure.
struct DomListener {
    target: EventTarget,
    event_type: &'static str,
    closure: Closure<dyn FnMut(Event)>,
}

impl DomListener {
    fn new(
        target: EventTarget,
        event_type: &'static str,
        handler: impl FnMut(Event) + 'static,
    ) -> Self {
        let closure = Closure::<dyn FnMut(Event)>::new(handler);
        // Adding a listener to an element cannot fail.
        let _ =
            target.add_event_listener_with_callback(event_type, closure.as_ref().unchecked_ref());
        Self {
            target,
            event_type,
            closure,
        }
    }
}

impl Drop for DomListener {
    fn drop(&mut self) {
        let _ = self.target.remove_event_listener_with_callback(
            self.event_type,
            self.closure.as_ref().unchecked_ref(),
        );
    }
}

/// Calls `callback` for every `event_type` event on the element behind `node` while the
/// component is mounted.
///
/// The callback may be a new one on every render; the listener always calls the newest.
/// When the element behind `node` is replaced, or appears later, the listener moves to it;
/// when the component unmounts, the listener is removed and its closure freed.
#[hook]
pub fn use_listener<E>(node: &NodeRef, event_type: &'static str, callback: Callback<E>)
where
    E: JsCast + 'static,
{
    let newest = use_mut_ref(|| callback.clone());
    *newest.borrow_mut() = callback;
    let attached: Rc<RefCell<Option<DomListener>>> = use_mut_ref(|| None);

    // After every render: follow the element if it changed.
    {
        let (node, attached, newest) = (node.clone(), Rc::clone(&attached), Rc::clone(&newest));
        use_effect(move || {
            let target = node.get().map(EventTarget::from);
            let current = attached
                .borrow()
                .as_ref()
                .map(|listener| listener.target.clone());
            if target != current {
                *attached.borrow_mut() = target.map(|target| {
                    DomListener::new(target, event_type, move |event: Event| {
                        // Cloned out first: the callback may re-render, which replaces it.
                        let callback = newest.borrow().clone();
                        callback.emit(event.unchecked_into());
                    })
                });
            }
        });
    }

    // On unmount: remove the listener.
    use_effect_with((), move |()| move || drop(attached.borrow_mut().take()));
}
