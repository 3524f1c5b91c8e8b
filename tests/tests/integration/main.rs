//! Integration tests: each test starts its own server on port 0 and drives it with raw
//! Socket.IO clients and plain HTTP, checking the contract of issue 2 from the outside.

mod support;

mod coalescing;
mod connection;
mod http_endpoints;
mod malformed;
mod messages;
mod origins;
mod presence;
mod rate_limits;
mod refusals;
mod shutdown;
mod typing;
mod usernames;
