//! Plain HTTP on the Socket.IO port: health, presence look-ups and the demo page.

use std::path::Path;

use axum::Json;
use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path as UrlPath, Request, State};
use axum::http::header::CACHE_CONTROL;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use diffy_protocol::payload::Presence;
use diffy_protocol::{PullRequestId, Refusal};
use serde_json::json;
use tower::ServiceBuilder;
use tower_http::compression::Compression;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeader;

use crate::app::App;
use crate::presence::PresenceStore;

/// The HTTP routes; static files from `static_dir` answer every other path, gzipped for
/// clients that accept it (the widget's wasm goes from ~424 kB to ~177 kB).
///
/// The widget's file names stay the same from release to release, so static files are sent
/// with `Cache-Control: no-cache`: a browser keeps them but asks each time whether they
/// changed (a 304 when not), and never runs the glue of one release with the wasm of another.
pub fn router(app: App, static_dir: Option<&Path>) -> Router {
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/api/pull-requests/{id}/presence", get(presence))
        .with_state(app);
    match static_dir {
        Some(dir) => router.fallback_service(
            ServiceBuilder::new()
                .layer(axum::middleware::from_fn(refuse_unnameable_paths))
                .service(SetResponseHeader::overriding(
                    Compression::new(ServeDir::new(dir)),
                    CACHE_CONTROL,
                    HeaderValue::from_static("no-cache"),
                )),
        ),
        None => router,
    }
}

/// The longest file name, in bytes, that the file systems the server runs on accept.
const NAME_MAX_BYTES: usize = 255;

/// Answers 404 for a path no file can have, a segment longer than [`NAME_MAX_BYTES`]
/// once decoded, which the file system would refuse with an error that the static file
/// service reports as a server failure (500).
async fn refuse_unnameable_paths(request: Request, next: Next) -> Response {
    let too_long = request
        .uri()
        .path()
        .split('/')
        .any(|segment| decoded_len(segment) > NAME_MAX_BYTES);
    if too_long {
        return StatusCode::NOT_FOUND.into_response();
    }
    next.run(request).await
}

/// The length in bytes of a percent-encoded path segment once decoded.
fn decoded_len(segment: &str) -> usize {
    segment.len() - 2 * segment.matches('%').count().min(segment.len() / 3)
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

async fn presence(State(app): State<App>, id: Result<UrlPath<String>, PathRejection>) -> Response {
    // An id that does not even decode (`%FF`) is refused like any other unusable id.
    let id = id.map_or_else(|_| String::new(), |UrlPath(id)| id);
    let room = match PullRequestId::parse(&id) {
        Ok(room) => room,
        Err(refusal) => return bad_request(&refusal),
    };
    let view = app.store.view(room).await;
    Json(Presence {
        pull_request_id: room,
        user_count: view.user_count(),
        users: view.users,
    })
    .into_response()
}

fn bad_request(refusal: &Refusal) -> Response {
    let body = json!({ "code": refusal.code, "message": refusal.message });
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}
