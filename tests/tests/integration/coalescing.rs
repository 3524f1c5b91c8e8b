//! Presence broadcasts are coalesced: a burst of joins or leaves sends a few full lists,
//! every notice still arrives, and every member ends with the room's exact state.

use std::time::Duration;

use diffy_protocol::event::{ACTIVE_USERS, JOIN_PR_ROOM, JOINED, LEFT, USER_COUNT};
use diffy_server::Config;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::support::{Client, TestServer, join_as_new_user, ms, room};

const BURST: usize = 40;
const WINDOW: Duration = Duration::from_millis(300);

/// What one client saw of a burst: the users named by notices, in order, and every
/// `active-users` list.
#[derive(Default)]
struct Seen {
    noticed: Vec<String>,
    lists: Vec<Value>,
    last_count: Option<u64>,
}

/// Reads `client`'s events until it has seen `notices` notices of `kind` and a list equal
/// to what `expected` returns for those notices.
async fn watch(
    client: &mut Client,
    kind: &str,
    notices: usize,
    expected: impl Fn(&[String]) -> Value,
) -> Seen {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut seen = Seen::default();
    loop {
        let settled =
            seen.noticed.len() == notices && seen.lists.last() == Some(&expected(&seen.noticed));
        if settled {
            return seen;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let Some((name, data)) = client.next_event(left).await else {
            panic!(
                "burst did not settle: {} of {notices} `{kind}` notices, last list {:?}",
                seen.noticed.len(),
                seen.lists.last()
            );
        };
        match name.as_str() {
            ACTIVE_USERS => seen.lists.push(data),
            USER_COUNT => seen.last_count = data["userCount"].as_u64(),
            other if other == kind => {
                let text = data.as_str().unwrap_or_default();
                let user = text.split(' ').next().unwrap_or_default().to_owned();
                seen.noticed.push(user);
            }
            _ => {}
        }
    }
}

fn burst_users() -> Vec<String> {
    (0..BURST).map(|i| format!("user{i:02}")).collect()
}

/// A burst of joins sends the room far fewer `active-users` lists than there were joins,
/// while every `joined` notice arrives and every member ends with the exact list, in
/// order of arrival.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_joins_sends_few_lists_and_everyone_ends_exact() {
    let server = TestServer::start(|config| Config {
        presence_window: WINDOW,
        ..config
    })
    .await;
    let mut observer = server.connect().await;
    join_as_new_user(&mut observer, 1, "observer").await;
    let mut members = Vec::new();
    for _ in 0..BURST {
        members.push(server.connect().await);
    }

    // Every join leaves before any is answered.
    for (member, name) in members.iter_mut().zip(burst_users()) {
        member.emit(JOIN_PR_ROOM, room(1, &name)).await;
    }

    let everyone = |arrivals: &[String]| {
        let mut users = vec!["observer".to_owned()];
        users.extend_from_slice(arrivals);
        json!(users)
    };
    let seen = watch(&mut observer, JOINED, BURST, everyone).await;
    let mut arrivals = seen.noticed.clone();
    arrivals.sort();
    assert_eq!(arrivals, burst_users(), "every join is announced once");
    assert!(
        seen.lists.len() <= BURST / 4,
        "{} lists for {BURST} joins; expected coalescing",
        seen.lists.len()
    );
    assert_eq!(seen.last_count, Some(BURST as u64 + 1));

    // Every member, whenever it arrived, ends with the same final list.
    let last = seen.lists.last().cloned().expect("a final list");
    for member in &mut members {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match member.next_event(left).await {
                Some((name, data)) if name == ACTIVE_USERS && data == last => break,
                Some(_) => {}
                None => panic!("a member never received the final list {last}"),
            }
        }
    }
    // Nothing changes afterwards, so nothing more is sent.
    observer.expect_none(ACTIVE_USERS, WINDOW + ms(200)).await;

    server.stop().await;
}

/// A burst of departures is coalesced the same way and ends with the exact list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_departures_sends_few_lists_and_ends_exact() {
    let server = TestServer::start(|config| Config {
        presence_window: WINDOW,
        grace_period: Duration::ZERO,
        ..config
    })
    .await;
    let mut observer = server.connect().await;
    join_as_new_user(&mut observer, 1, "observer").await;
    let mut members = Vec::new();
    for name in burst_users() {
        let mut member = server.connect().await;
        crate::support::join(&mut member, 1, &name).await;
        members.push(member);
    }
    let everyone = |arrivals: &[String]| {
        let mut users = vec!["observer".to_owned()];
        users.extend_from_slice(arrivals);
        json!(users)
    };
    watch(&mut observer, JOINED, BURST, everyone).await;

    for member in members {
        member.drop_connection().await;
    }

    let seen = watch(&mut observer, LEFT, BURST, |_| json!(["observer"])).await;
    assert_eq!(
        seen.noticed.len(),
        BURST,
        "every departure is announced once"
    );
    assert!(
        seen.lists.len() <= BURST / 4,
        "{} lists for {BURST} departures; expected coalescing",
        seen.lists.len()
    );
    assert_eq!(seen.last_count, Some(1));

    server.stop().await;
}
