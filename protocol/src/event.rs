//! Event names, exactly as they travel on the wire.

/// Client to server: join the room of a pull request.
pub const JOIN_PR_ROOM: &str = "join-pr-room";
/// Client to server: leave the room of a pull request.
pub const LEAVE_PR_ROOM: &str = "leave-pr-room";
/// Client to server: send a chat message to everyone in the room.
pub const SEND_MESSAGE_TO_PR_ROOM: &str = "send-message-to-pr-room";
/// Both ways: a user is typing (client to server), or someone is (server to client).
pub const TYPING: &str = "typing";
/// Both ways: a user stopped typing.
pub const STOP_TYPING: &str = "stop-typing";

/// Server to client: a user became present in the room.
pub const JOINED: &str = "joined";
/// Server to client: a user stopped being present in the room.
pub const LEFT: &str = "left";
/// Server to client: the number of distinct users present.
pub const USER_COUNT: &str = "user-count";
/// Server to client: the usernames present, in order of arrival.
pub const ACTIVE_USERS: &str = "active-users";
/// Server to client: a chat message.
pub const PR_ROOM_MESSAGE: &str = "pr-room-message";
/// Server to client: a refused event whose sender asked for no acknowledgement.
pub const EXCEPTION: &str = "exception";

/// Every event a client may send.
pub const CLIENT_EVENTS: [&str; 5] = [
    JOIN_PR_ROOM,
    LEAVE_PR_ROOM,
    SEND_MESSAGE_TO_PR_ROOM,
    TYPING,
    STOP_TYPING,
];
