//! Who is present in a room: joins, tabs, leaves, closes, the grace period and races.

use std::collections::BTreeSet;
use std::time::Duration;

use diffy_protocol::event::{ACTIVE_USERS, JOIN_PR_ROOM, JOINED, LEAVE_PR_ROOM, LEFT};
use diffy_protocol::payload::{JoinAck, LeaveAck};
use serde_json::json;
use tokio::time::Instant;

use crate::support::http::{presence, wait_for_presence};
use crate::support::{
    EXPECT_TIMEOUT, TestServer, accepted, assert_nothing_before_marker, expect_arrival,
    expect_departure, expect_membership, join, join_as_new_user, ms, room,
};

/// A join is announced with `joined`, `user-count` and `active-users` to everyone in the
/// room, the joiner included, and the ack carries the room's state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_is_announced_to_everyone_including_the_joiner() {
    let server = TestServer::start(|config| config).await;
    let mut alice = server.connect().await;
    let mut bob = server.connect().await;

    let ack = join(&mut alice, 1, "alice").await;
    assert_eq!((ack.user_count, ack.users), (1, vec!["alice".to_owned()]));
    expect_arrival(&mut alice, "alice", &["alice"]).await;

    let ack = join(&mut bob, 1, "bob").await;
    assert_eq!(
        (ack.user_count, ack.users),
        (2, vec!["alice".to_owned(), "bob".to_owned()])
    );
    expect_arrival(&mut bob, "bob", &["alice", "bob"]).await;
    expect_arrival(&mut alice, "bob", &["alice", "bob"]).await;

    server.stop().await;
}

/// The join ack has exactly the documented wire shape.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_ack_has_the_documented_shape() {
    let server = TestServer::start(|config| config).await;
    let mut alice = server.connect().await;

    let ack = alice.emit_with_ack(JOIN_PR_ROOM, room(7, "alice")).await;
    assert_eq!(
        ack,
        json!({"ok": true, "pullRequestId": 7, "userCount": 1, "users": ["alice"]})
    );

    server.stop().await;
}

/// Users are listed once each, in order of arrival, and the list follows every change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_users_are_listed_once_each_in_order_of_arrival() {
    let server = TestServer::with_grace(Duration::ZERO).await;
    let mut carol = server.connect().await;
    let mut alice = server.connect().await;
    let mut bob = server.connect().await;

    join_as_new_user(&mut carol, 3, "carol").await;
    join_as_new_user(&mut alice, 3, "alice").await;
    expect_arrival(&mut carol, "alice", &["carol", "alice"]).await;
    join_as_new_user(&mut bob, 3, "bob").await;
    expect_arrival(&mut carol, "bob", &["carol", "alice", "bob"]).await;
    expect_arrival(&mut alice, "bob", &["carol", "alice", "bob"]).await;

    // The first to arrive leaves; the others keep their relative order.
    accepted::<LeaveAck>(carol.emit_with_ack(LEAVE_PR_ROOM, room(3, "carol")).await);
    expect_departure(&mut alice, "carol", 3, &["alice", "bob"]).await;
    expect_departure(&mut bob, "carol", 3, &["alice", "bob"]).await;

    // Coming back puts carol at the end.
    join(&mut carol, 3, "carol").await;
    expect_arrival(&mut carol, "carol", &["alice", "bob", "carol"]).await;
    expect_arrival(&mut alice, "carol", &["alice", "bob", "carol"]).await;
    let http = presence(server.addr(), 3).await;
    assert_eq!(http.users, ["alice", "bob", "carol"]);

    server.stop().await;
}

/// A second tab of a present user announces nothing to anyone, yet that tab alone
/// receives the current `user-count` and `active-users`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_tab_announces_nothing_but_receives_the_room_state() {
    let server = TestServer::start(|config| config).await;
    let mut alice = server.connect().await;
    let mut bob = server.connect().await;
    join_as_new_user(&mut alice, 1, "alice").await;
    join_as_new_user(&mut bob, 1, "bob").await;
    expect_arrival(&mut alice, "bob", &["alice", "bob"]).await;

    let mut alice_tab = server.connect().await;
    let ack: JoinAck = join(&mut alice_tab, 1, "alice").await;
    assert_eq!(
        (ack.user_count, ack.users),
        (2, vec!["alice".to_owned(), "bob".to_owned()])
    );
    expect_membership(&mut alice_tab, &["alice", "bob"]).await;

    // Neither the new tab nor anyone else heard `joined`, nor any other announcement.
    assert_nothing_before_marker(&mut bob, 1, "bob", &mut [&mut alice, &mut alice_tab]).await;
    assert_eq!(presence(server.addr(), 1).await.users, ["alice", "bob"]);

    server.stop().await;
}

/// Closing one of two tabs without leaving announces nothing, even after the grace
/// period, and the user stays present through the other tab.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_one_of_two_tabs_keeps_the_user_present() {
    let grace = ms(200);
    let server = TestServer::with_grace(grace).await;
    let mut bob = server.connect().await;
    let mut alice = server.connect().await;
    let mut alice_tab = server.connect().await;
    join_as_new_user(&mut bob, 1, "bob").await;
    join_as_new_user(&mut alice, 1, "alice").await;
    expect_arrival(&mut bob, "alice", &["bob", "alice"]).await;
    join(&mut alice_tab, 1, "alice").await;
    expect_membership(&mut alice_tab, &["bob", "alice"]).await;

    alice_tab.drop_connection().await;

    bob.expect_none(LEFT, grace * 3).await;
    assert_nothing_before_marker(&mut bob, 1, "bob", &mut [&mut alice]).await;
    assert_eq!(presence(server.addr(), 1).await.users, ["bob", "alice"]);

    server.stop().await;
}

/// Leaving from one of two tabs announces nothing; the user stays present.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_from_one_of_two_tabs_keeps_the_user_present() {
    let server = TestServer::start(|config| config).await;
    let mut bob = server.connect().await;
    let mut alice = server.connect().await;
    let mut alice_tab = server.connect().await;
    join_as_new_user(&mut bob, 1, "bob").await;
    join_as_new_user(&mut alice, 1, "alice").await;
    expect_arrival(&mut bob, "alice", &["bob", "alice"]).await;
    join(&mut alice_tab, 1, "alice").await;
    expect_membership(&mut alice_tab, &["bob", "alice"]).await;

    accepted::<LeaveAck>(
        alice_tab
            .emit_with_ack(LEAVE_PR_ROOM, room(1, "alice"))
            .await,
    );

    assert_nothing_before_marker(&mut bob, 1, "bob", &mut [&mut alice]).await;
    assert!(
        alice_tab.take_events().is_empty(),
        "the tab that left still hears the room"
    );
    assert_eq!(presence(server.addr(), 1).await.users, ["bob", "alice"]);

    server.stop().await;
}

/// An explicit leave of a user's last connection announces `left` at once, without
/// waiting for the grace period; the leaver gets only its ack.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explicit_leave_announces_left_at_once() {
    // A grace period far longer than the test's timeouts: `left` must not wait for it.
    let server = TestServer::with_grace(Duration::from_secs(60)).await;
    let mut alice = server.connect().await;
    let mut bob = server.connect().await;
    join_as_new_user(&mut alice, 4, "alice").await;
    join_as_new_user(&mut bob, 4, "bob").await;
    expect_arrival(&mut alice, "bob", &["alice", "bob"]).await;

    let ack = alice.emit_with_ack(LEAVE_PR_ROOM, room(4, "alice")).await;
    assert_eq!(ack, json!({"ok": true, "pullRequestId": 4}));

    expect_departure(&mut bob, "alice", 4, &["bob"]).await;
    assert_eq!(presence(server.addr(), 4).await.users, ["bob"]);

    // The leaver hears nothing more from the room: bob's marker does not reach it.
    assert_nothing_before_marker(&mut bob, 4, "bob", &mut []).await;
    assert!(
        alice.take_events().is_empty(),
        "the leaver received room events"
    );

    server.stop().await;
}

/// A tab closed without leaving keeps its user present during the grace period, then
/// `left`, `user-count` and `active-users` go to the room when it ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tab_closed_without_leaving_announces_left_when_the_grace_period_ends() {
    let grace = ms(250);
    let server = TestServer::with_grace(grace).await;
    let mut bob = server.connect().await;
    let mut alice = server.connect().await;
    join_as_new_user(&mut bob, 2, "bob").await;
    join_as_new_user(&mut alice, 2, "alice").await;
    expect_arrival(&mut bob, "alice", &["bob", "alice"]).await;

    let dropped_at = Instant::now();
    alice.drop_connection().await;

    // During the grace period alice still counts.
    let during = presence(server.addr(), 2).await;
    if dropped_at.elapsed() < grace {
        assert_eq!(
            during.users,
            ["bob", "alice"],
            "a user in grace is still present"
        );
    }

    expect_departure(&mut bob, "alice", 2, &["bob"]).await;
    let waited = dropped_at.elapsed();
    assert!(
        waited >= grace,
        "`left` came after {waited:?}, before the {grace:?} grace period"
    );
    assert_eq!(presence(server.addr(), 2).await.users, ["bob"]);

    server.stop().await;
}

/// A user whose last tab dropped and who re-joins within the grace period is never
/// announced as gone nor as joined again; the re-joining tab gets the room state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejoin_within_the_grace_period_announces_nothing() {
    let grace = Duration::from_secs(1);
    let server = TestServer::with_grace(grace).await;
    let mut alice = server.connect().await;
    let mut bob = server.connect().await;
    join_as_new_user(&mut alice, 5, "alice").await;
    join_as_new_user(&mut bob, 5, "bob").await;
    expect_arrival(&mut alice, "bob", &["alice", "bob"]).await;

    alice.drop_connection().await;
    let mut alice_again = server.connect().await;
    let ack = join(&mut alice_again, 5, "alice").await;
    assert_eq!(
        ack.users,
        ["alice", "bob"],
        "alice keeps her place in the order of arrival"
    );
    expect_membership(&mut alice_again, &["alice", "bob"]).await;

    // Past the end of the original grace period: still nothing for anyone.
    bob.expect_none(LEFT, grace + ms(300)).await;
    assert_nothing_before_marker(&mut bob, 5, "bob", &mut [&mut alice_again]).await;
    assert_eq!(presence(server.addr(), 5).await.users, ["alice", "bob"]);

    server.stop().await;
}

/// With a grace period of zero, a dropped connection's user is announced as gone at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_grace_period_announces_left_at_once() {
    let server = TestServer::with_grace(Duration::ZERO).await;
    let mut alice = server.connect().await;
    let mut bob = server.connect().await;
    join_as_new_user(&mut alice, 6, "alice").await;
    join_as_new_user(&mut bob, 6, "bob").await;
    expect_arrival(&mut alice, "bob", &["alice", "bob"]).await;

    alice.drop_connection().await;
    expect_departure(&mut bob, "alice", 6, &["bob"]).await;
    assert_eq!(presence(server.addr(), 6).await.users, ["bob"]);

    server.stop().await;
}

/// A clean Socket.IO disconnect without a leave also counts as leaving (after grace).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_disconnect_without_leaving_counts_as_leaving() {
    let server = TestServer::with_grace(Duration::ZERO).await;
    let mut alice = server.connect().await;
    let mut bob = server.connect().await;
    join_as_new_user(&mut alice, 6, "alice").await;
    join_as_new_user(&mut bob, 6, "bob").await;
    expect_arrival(&mut alice, "bob", &["alice", "bob"]).await;

    alice.close().await;
    expect_departure(&mut bob, "alice", 6, &["bob"]).await;

    server.stop().await;
}

/// Joining the same room twice from one connection is acknowledged and changes nothing:
/// no announcement, and one leave is enough to be gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn double_join_from_one_connection_changes_nothing() {
    let server = TestServer::start(|config| config).await;
    let mut alice = server.connect().await;
    let mut bob = server.connect().await;
    join_as_new_user(&mut alice, 8, "alice").await;
    join_as_new_user(&mut bob, 8, "bob").await;
    expect_arrival(&mut alice, "bob", &["alice", "bob"]).await;

    let again = join(&mut alice, 8, "alice").await;
    assert_eq!(
        (again.user_count, again.users),
        (2, vec!["alice".to_owned(), "bob".to_owned()])
    );
    assert_nothing_before_marker(&mut bob, 8, "bob", &mut [&mut alice]).await;

    accepted::<LeaveAck>(alice.emit_with_ack(LEAVE_PR_ROOM, room(8, "alice")).await);
    expect_departure(&mut bob, "alice", 8, &["bob"]).await;
    assert_eq!(presence(server.addr(), 8).await.users, ["bob"]);

    server.stop().await;
}

/// One connection may be in several rooms; dropping it counts as leaving each of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connection_leaves_every_room_it_joined() {
    let server = TestServer::with_grace(Duration::ZERO).await;
    let mut alice = server.connect().await;
    let mut bob = server.connect().await;
    let mut carol = server.connect().await;
    join_as_new_user(&mut bob, 10, "bob").await;
    join_as_new_user(&mut carol, 11, "carol").await;
    join_as_new_user(&mut alice, 10, "alice").await;
    join(&mut alice, 11, "alice").await;
    expect_arrival(&mut bob, "alice", &["bob", "alice"]).await;
    expect_arrival(&mut carol, "alice", &["carol", "alice"]).await;

    alice.drop_connection().await;
    expect_departure(&mut bob, "alice", 10, &["bob"]).await;
    expect_departure(&mut carol, "alice", 11, &["carol"]).await;

    server.stop().await;
}

/// A join sent by a connection that closes right away leaves no trace, however the race
/// between the join and the close turns out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_racing_a_disconnect_leaves_no_trace() {
    let server = TestServer::with_grace(Duration::ZERO).await;
    let mut alice = server.connect().await;
    join_as_new_user(&mut alice, 12, "alice").await;

    for round in 0..50 {
        let mut racer = server.connect().await;
        let name = format!("racer-{round}");
        racer.emit(JOIN_PR_ROOM, room(12, &name)).await;
        if round % 2 == 0 {
            racer.drop_connection().await;
        } else {
            racer.close().await;
        }
    }

    // Once the server has caught up, only the live user is present...
    wait_for_presence(server.addr(), 12, &["alice"]).await;

    // ...and a newcomer's view agrees.
    let mut dave = server.connect().await;
    let ack = join(&mut dave, 12, "dave").await;
    assert_eq!(
        (ack.user_count, ack.users),
        (2, vec!["alice".to_owned(), "dave".to_owned()])
    );
    expect_membership(&mut dave, &["alice", "dave"]).await;

    // Alice's view settles on the same truth: every racer she saw arrive she also saw
    // leave, and the last list she was given is the room as it is.
    let mut arrived = BTreeSet::new();
    let mut departed = BTreeSet::new();
    let mut last_users = None;
    let deadline = Instant::now() + EXPECT_TIMEOUT;
    while departed != arrived || last_users != Some(json!(["alice", "dave"])) {
        let within = deadline.saturating_duration_since(Instant::now());
        let Some((name, data)) = alice.next_event(within).await else {
            panic!(
                "alice's view never settled: racers arrived {arrived:?}, departed {departed:?}, \
                 last active-users {last_users:?}"
            );
        };
        let notice = data.as_str().unwrap_or_default().to_owned();
        match name.as_str() {
            JOINED if notice.starts_with("racer-") => {
                arrived.insert(notice.trim_end_matches(" has joined the chat").to_owned());
            }
            LEFT => {
                departed.insert(notice.trim_end_matches(" left PR 12").to_owned());
            }
            ACTIVE_USERS => last_users = Some(data),
            _ => {}
        }
    }

    server.stop().await;
}

/// After its grace period ends, a user's presence is gone from the HTTP endpoint too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_endpoint_counts_users_in_grace_until_it_ends() {
    let grace = Duration::from_secs(2);
    let server = TestServer::with_grace(grace).await;
    let mut alice = server.connect().await;
    let mut bob = server.connect().await;
    join_as_new_user(&mut alice, 13, "alice").await;
    join_as_new_user(&mut bob, 13, "bob").await;
    expect_arrival(&mut alice, "bob", &["alice", "bob"]).await;

    let dropped_at = Instant::now();
    alice.drop_connection().await;
    // Give the server time to see the drop, well inside the grace period.
    bob.expect_none(LEFT, ms(300)).await;
    let during = presence(server.addr(), 13).await;
    assert!(
        dropped_at.elapsed() < grace,
        "the check ran too late to be meaningful"
    );
    assert_eq!(
        (during.user_count, during.users),
        (2, vec!["alice".to_owned(), "bob".to_owned()])
    );

    expect_departure(&mut bob, "alice", 13, &["bob"]).await;
    wait_for_presence(server.addr(), 13, &["bob"]).await;

    server.stop().await;
}
