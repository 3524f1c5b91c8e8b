//! The HTTP side of the server: health and presence.

use std::path::PathBuf;

use serde_json::json;

use crate::support::http::get;
use crate::support::{TestServer, expect_arrival, join_as_new_user};

/// `GET /healthz` answers 200 `{"status":"ok"}`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_reports_ok() {
    let server = TestServer::start(|config| config).await;

    let response = get(server.addr(), "/healthz").await;
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.json(), json!({"status": "ok"}));

    server.stop().await;
}

/// The presence endpoint lists the users of a room in order of arrival, and an unknown
/// room as empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_endpoint_lists_the_room() {
    let server = TestServer::start(|config| config).await;
    let mut alice = server.connect().await;
    let mut bob = server.connect().await;
    join_as_new_user(&mut alice, 42, "alice").await;
    join_as_new_user(&mut bob, 42, "bob").await;
    expect_arrival(&mut alice, "bob", &["alice", "bob"]).await;

    let response = get(server.addr(), "/api/pull-requests/42/presence").await;
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(
        response.json(),
        json!({"pullRequestId": 42, "userCount": 2, "users": ["alice", "bob"]})
    );

    let response = get(server.addr(), "/api/pull-requests/43/presence").await;
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(
        response.json(),
        json!({"pullRequestId": 43, "userCount": 0, "users": []})
    );

    let largest = "/api/pull-requests/9007199254740991/presence";
    assert_eq!(
        get(server.addr(), largest).await.status,
        200,
        "2^53 - 1 is a valid id"
    );

    server.stop().await;
}

/// A pull request id that is not an integer from 1 to 2^53 - 1 answers 400 with the
/// `invalid_pull_request_id` code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_endpoint_refuses_bad_ids_with_400() {
    let server = TestServer::start(|config| config).await;

    for id in [
        "0",
        "abc",
        "-1",
        "1.5",
        "+1",
        "9007199254740992",
        "99999999999999999999999",
        // Not UTF-8 once decoded: refused as an id like the rest, not as a bad URL.
        "%FF",
        "1%FE",
    ] {
        let response = get(server.addr(), &format!("/api/pull-requests/{id}/presence")).await;
        assert_eq!(response.status, 400, "id {id:?}: {response:?}");
        let body = response.json();
        assert_eq!(
            body["code"],
            json!("invalid_pull_request_id"),
            "id {id:?}: {body}"
        );
        let explained = body["message"]
            .as_str()
            .is_some_and(|text| !text.is_empty());
        assert!(explained, "id {id:?}: no message in {body}");
    }

    server.stop().await;
}

/// The demo page's files are served from `--static-dir`; a path with a name longer than any
/// file system allows is simply not found, not a server failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_files_are_served_and_impossible_names_are_not_found() {
    let www = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../www"));
    let server = TestServer::start(move |mut config| {
        config.static_dir = Some(www);
        config
    })
    .await;

    let page = get(server.addr(), "/index.html").await;
    assert_eq!(page.status, 200, "{page:?}");
    assert!(page.body.contains("data-pr-number"), "{page:?}");

    for path in [
        format!("/{}", "a".repeat(300)),
        format!("/{}.js", "%41".repeat(300)),
        format!("/assets/{}/x", "b".repeat(256)),
    ] {
        let response = get(server.addr(), &path).await;
        assert_eq!(response.status, 404, "{}: {response:?}", &path[..40]);
    }
    let missing = get(server.addr(), "/no-such-file.js").await;
    assert_eq!(missing.status, 404, "{missing:?}");

    server.stop().await;
}
